"""The predictor's use of the online target models (:mod:`sam2_enhanced.predictor.target_tracking`):
starting them from prompts, placing each object's window from them, and fusing their answer
with the network's masks (``target_model.mode``: "network" leaves the network alone).

A mixin of :class:`~sam2_enhanced.enhanced_video_predictor.SAM2EnhancedVideoPredictor`, which
holds ``self.targets`` (:class:`~sam2_enhanced.predictor.target_tracking.OnlineTargets`), the window
planner and the model.
"""

from __future__ import annotations

import torch
from torch import Tensor

from sam2_enhanced.modeling.search_window import ObjectMotion
from sam2_enhanced.predictor.object_windows import BOX_CORNER_LABELS
from sam2_enhanced.predictor.target_tracking import (
    BOX_LOGIT,
    TargetEstimate,
    box_mask_logits,
    clip_to_box,
)
from sam2_enhanced.predictor.video_state import FrameResult, ObjectState, VideoState

CLIP_MARGIN = 1.25  # a fused mask is cut to the target model's box grown by this factor
SCORE_SLOPE = 6.0  # object score logit per unit of peak ratio above the presence threshold


class TargetMixin:
    """Online target models inside the frame loop (see the module docstring)."""

    def restart_object(self, state: VideoState, obj: ObjectState, frame_idx: int) -> None:
        """Start an object's motion (and target model) again from its prompt on
        ``frame_idx``."""
        obj.motion = self.motion_from(obj.cond_results[frame_idx])
        if self.targets.enabled:
            box = self.prompt_box(obj, frame_idx)
            obj.target = self.targets.start(state.loader.raw(frame_idx), box)

    @staticmethod
    def prompt_box(obj: ObjectState, frame_idx: int) -> Tensor:
        """(4,) the object's box on a prompted frame: the user's box, else its mask's box, else
        the box its first window was made around."""
        prompt = obj.prompts.get(frame_idx)
        if prompt is not None and prompt.mask is None:
            labels = prompt.point_labels
            corners = (labels == BOX_CORNER_LABELS[0]) | (labels == BOX_CORNER_LABELS[1])
            if corners.sum() == 2:
                points = prompt.video_coords[corners].float()  # (2, 2)
                return torch.cat([points.amin(0), points.amax(0)])
        result = obj.cond_results[frame_idx]
        return result.box_xyxy if result.box_xyxy is not None else obj.motion.box_xyxy

    def estimate_targets(
        self, state: VideoState, frame_idx: int, tracked: list[int]
    ) -> TargetEstimate | None:
        """Each tracked object's target-model estimate on the frame (None when off); moves the
        objects' motions so their windows centre on it."""
        if not self.targets.enabled or not tracked:
            return None
        for obj_id in tracked:
            obj = state.objects[obj_id]
            if obj.target is None:  # prompted while propagating: start from the nearest prompt
                nearest = min(obj.cond_results, key=lambda t: abs(t - frame_idx))
                self.restart_object(state, obj, nearest)
        targets = [state.objects[obj_id].target for obj_id in tracked]
        estimate = self.targets.estimate(state.loader.raw(frame_idx), targets)
        for obj_id, box, target in zip(
            tracked, estimate.window_boxes(targets), targets, strict=True
        ):
            obj = state.objects[obj_id]
            obj.motion = ObjectMotion(
                box_xyxy=box,
                velocity_xy=torch.zeros(2),
                lost_frames=target.lost_frames,
                side_factor=obj.motion.side_factor,
            )
        return estimate

    def fuse_targets(
        self,
        state: VideoState,
        frame_idx: int,
        tracked: list[int],
        estimate: TargetEstimate,
        results: list[FrameResult],
    ) -> tuple[list[FrameResult], list[bool]]:
        """Each object's output on the frame (its network result, or its target model's box
        drawn as a mask, or an absent result) and whether its memory may be stored."""
        targets = [state.objects[obj_id].target for obj_id in tracked]
        network_boxes = [
            r.box_xyxy if bool(r.object_score_logits.item() > 0) else None for r in results
        ]
        boxes, use_network = self.targets.choose(estimate, network_boxes, targets)
        fused, admit = [], []
        for i, result in enumerate(results):
            admit.append(bool(use_network[i] and estimate.reliable[i]))
            if use_network[i] and bool(estimate.present[i]):
                fused.append(self.shaped_result(result, boxes[i]))
            elif use_network[i]:
                fused.append(result)
            else:
                fused.append(self.box_result(state, boxes[i], result.window_xyxy, estimate, i))
        learn = estimate.reliable & ~torch.isnan(boxes).any(dim=1)
        self.targets.observe(state.loader.raw(frame_idx), targets, boxes, learn)
        return fused, admit

    def shaped_result(self, result: FrameResult, box_xyxy: Tensor) -> FrameResult:
        """The network's result cut to the target model's box (grown by ``CLIP_MARGIN``),
        reporting that box."""
        logits = clip_to_box(result.mask_logits, box_xyxy, result.window_xyxy, CLIP_MARGIN)
        return FrameResult(
            mask_logits=logits,
            object_score_logits=result.object_score_logits,
            window_xyxy=result.window_xyxy,
            box_xyxy=box_xyxy.clone(),
            reported_box_xyxy=box_xyxy.clone(),
        )

    def box_result(
        self, state: VideoState, box_xyxy: Tensor, window_xyxy: Tensor, estimate, index: int
    ) -> FrameResult:
        """The target model's answer as an object's result: its box drawn as a mask over the
        window (a NaN box: absent, an empty mask and a negative score)."""
        size = self.model.mask_size
        present = not bool(torch.isnan(box_xyxy).any())
        ratio = float(estimate.peak_ratio[index]) - self.config.target_model.presence_ratio
        score = SCORE_SLOPE * ratio
        if present:
            logits = box_mask_logits(box_xyxy, window_xyxy, size)
            score = max(score, 0.5)
        else:
            logits = torch.full((1, size, size), -BOX_LOGIT)
            score = min(score, -0.5)
        return FrameResult(
            mask_logits=self.to_storage(state, logits.to(self.device)),
            object_score_logits=self.to_storage(state, torch.tensor([score], device=self.device)),
            window_xyxy=window_xyxy,
            box_xyxy=box_xyxy.clone() if present else None,
            reported_box_xyxy=box_xyxy.clone() if present else None,
        )
