"""What the predictor keeps of a frame: encoder outputs, each object's result and memory, and
the frame's output (masks at video resolution plus associated detections).

A mixin of :class:`~sam2_enhanced.enhanced_video_predictor.SAM2EnhancedVideoPredictor`, which
holds the model, the config, the window planner and the significance signals. The memory study
overrides :meth:`FrameMemoryMixin.significance` to time it.
"""

from __future__ import annotations

import numpy as np
import supervision as sv
import torch
from torch import Tensor

from sam2_enhanced.modeling.dinov2_encoder import EncoderOutput
from sam2_enhanced.modeling.memory_bank import MemoryItem
from sam2_enhanced.modeling.sam_mask_head import NO_OBJ_SCORE
from sam2_enhanced.modeling.search_window import main_component, paste_windows
from sam2_enhanced.predictor.detections import DetectionBuilder
from sam2_enhanced.predictor.object_windows import box_in_frame
from sam2_enhanced.predictor.video_state import FrameResult, ObjectState, Output, VideoState


class FrameMemoryMixin:
    """Encoding, memories and outputs of one frame (see the module docstring)."""

    def encode(self, state: VideoState, frame_idx: int, frame: Tensor) -> EncoderOutput:
        """Encoder output of a frame, reusing the newest one (several prompts on one frame);
        with a motion branch, also the difference to its neighbouring frame
        (:meth:`VideoState.neighbour_frame`)."""
        if state.features is None or state.features[0] != frame_idx:
            neighbour_idx = state.neighbour_frame(frame_idx) if self.model.uses_motion else None
            neighbour = None
            if neighbour_idx is not None:
                neighbour = state.loader.get(neighbour_idx).to(self.device)  # (1, 3, S, S)
            encoded = self.model.encode_image(frame.to(self.device), neighbour)
            state.features = (frame_idx, encoded)
        return state.features[1]

    def read_memory(self, state: VideoState, obj_id: int, frame_idx: int):
        """The object's memory readout on the model's device (None: no memory yet)."""
        readout = state.bank.read(obj_id, frame_idx)
        if readout is None or readout.features.device == self.device:
            return readout
        for name in (
            "features",
            "frame_offsets",
            "is_cond",
            "obj_ptrs",
            "ptr_offsets",
            "det_tokens",
        ):
            setattr(readout, name, getattr(readout, name).to(self.device))
        return readout

    def to_storage(self, state: VideoState, tensor: Tensor) -> Tensor:
        return tensor.to(state.storage_device)

    def keep_result(
        self, state: VideoState, mask_logits: Tensor, score: Tensor, window_xyxy: Tensor
    ) -> FrameResult:
        """An object's output on a frame: (1, m, m) logits over ``window_xyxy`` (4,)."""
        window = window_xyxy.detach().float().cpu()
        window_cfg = self.config.search_window
        if window_cfg.keep_main_component:  # the centre prior only means something in a window
            prior = window_cfg.centre_prior if self.windows.enabled else 0.0
            mask_logits = main_component(mask_logits, NO_OBJ_SCORE, prior)
        return FrameResult(
            mask_logits=self.to_storage(state, mask_logits.clone()),
            object_score_logits=self.to_storage(state, score.clone()),
            window_xyxy=window,
            box_xyxy=box_in_frame(mask_logits, window),
        )

    def significance(
        self,
        state: VideoState,
        obj: ObjectState,
        features: Tensor,
        frame: np.ndarray | None,
        mask_logits: Tensor | None,
    ) -> float | None:
        """Score of a tracked frame for the keyframe policy (None when nothing to compare)."""
        pairs = {}
        if self.signals.needs("feature") and obj.last_memory is not None:
            pairs["feature"] = (obj.last_memory, features)
        if self.signals.needs("frame") and state.last_frame_small is not None:
            pairs["frame"] = (state.last_frame_small, frame)
        if self.signals.needs("mask") and obj.last_result is not None and mask_logits is not None:
            pairs["mask"] = (
                (obj.last_result[1].mask_logits[0] > 0).cpu().numpy(),
                (mask_logits[0] > 0).cpu().numpy(),
            )
        return self.signals.score(pairs)

    def store_memory(
        self,
        state: VideoState,
        obj: ObjectState,
        frame_idx: int,
        memory,
        index: int,
        *,
        is_cond: bool,
        frame: np.ndarray | None,
        mask_logits: Tensor | None = None,
    ) -> None:
        """Hand the object's new memory to the bank (which decides what to keep)."""
        features = self.to_storage(state, memory.mask_features[index])
        visible = bool(memory.object_visible[index])
        tokens = memory.object_tokens[index] if visible else memory.object_tokens[index][:0]
        score = None if is_cond else self.significance(state, obj, features, frame, mask_logits)
        state.bank.add(
            obj.obj_id,
            MemoryItem(
                frame_idx=frame_idx,
                features=features,
                obj_ptr=self.to_storage(state, memory.obj_ptrs[index]),
                det_tokens=self.to_storage(state, tokens),
                is_cond=is_cond,
                significance=score,
                visible=visible,
            ),
        )
        obj.last_memory = features
        obj.memory_frame = frame_idx

    # -------------------------------------------------------------------------------- outputs
    def object_results(self, state: VideoState, frame_idx: int) -> list[FrameResult | None]:
        """Each object's kept output on ``frame_idx`` (None when there is none)."""
        return [self.result_on(obj, frame_idx) for obj in state.objects.values()]

    @staticmethod
    def result_on(obj: ObjectState, frame_idx: int) -> FrameResult | None:
        """The object's prompted or newest tracked output if it is on ``frame_idx``, else None."""
        result = obj.cond_results.get(frame_idx)
        if result is None and obj.last_result is not None and obj.last_result[0] == frame_idx:
            result = obj.last_result[1]
        return result

    def video_masks(self, state: VideoState, results: list[FrameResult | None]) -> Tensor:
        """(O, 1, H, W) float32 logits at video resolution; objects without output get -1024."""
        height, width = state.video_height, state.video_width
        masks = torch.full((len(results), 1, height, width), NO_OBJ_SCORE, dtype=torch.float32)
        for i, result in enumerate(results):
            if result is not None:
                low_res = result.mask_logits[None].float().cpu()  # (1, 1, m, m)
                masks[i] = paste_windows(
                    low_res, result.window_xyxy[None], (height, width), NO_OBJ_SCORE
                )[0]
        return masks

    def frame_output(
        self, state: VideoState, frame_idx: int, detections, update_tracks: bool
    ) -> Output:
        """Masks of every object plus the frame's associated detections."""
        results = self.object_results(state, frame_idx)
        masks = self.video_masks(state, results)
        builder = DetectionBuilder(
            det_threshold=self.config.tracker.det_threshold,
            match_iou=self.config.tracker.match_iou,
            video_hw=(state.video_height, state.video_width),
            low_threshold=self.config.tracker.low_threshold,
        )
        dets = builder.build(state, detections, masks, results, update_tracks=update_tracks)
        return frame_idx, state.obj_ids, masks, dets

    def stored_output(self, state: VideoState, frame_idx: int) -> Output:
        """Output of a frame from what the state kept (no model run)."""
        results = self.object_results(state, frame_idx)
        masks = self.video_masks(state, results)
        dets = state.cond_detections.get(frame_idx, sv.Detections.empty())
        return frame_idx, state.obj_ids, masks, dets
