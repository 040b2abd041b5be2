"""The prompt calls of :class:`~sam2_enhanced.enhanced_video_predictor.SAM2EnhancedVideoPredictor`:
SAM 2's ``add_new_points_or_box``, ``add_new_points``, ``add_new_mask``,
``clear_all_prompts_in_frame`` and ``remove_object``.

A mixin of the predictor: the predictor holds the model, the window planner and the memory and
output methods (:mod:`sam2_enhanced.predictor.memory`); this file holds what a prompt does to a
:class:`~sam2_enhanced.predictor.video_state.VideoState`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from sam2_enhanced.modeling.sam2_base_enhanced import ObjectPrompts
from sam2_enhanced.modeling.search_window import crop_windows, to_window_coords
from sam2_enhanced.predictor.prompt_inputs import (
    check_box,
    check_frame_idx,
    check_mask,
    check_obj_id,
    check_points,
    check_points_in_frame,
    fit_box_to_frame,
    to_video_pixels,
)
from sam2_enhanced.predictor.video_state import FramePrompt, ObjectState, Output, VideoState


class PromptMixin:
    """SAM 2's prompt calls (see the module docstring)."""

    @torch.inference_mode()
    def add_new_points_or_box(
        self,
        inference_state: VideoState,
        frame_idx: int,
        obj_id: int,
        points: Any = None,
        labels: Any = None,
        clear_old_points: bool = True,
        normalize_coords: bool = True,
        box: Any = None,
    ) -> Output:
        """Add clicks and/or a box for ``obj_id`` on ``frame_idx`` (SAM 2 semantics).

        Points and box are video pixels, or [0, 1] with ``normalize_coords=False``. Labels are
        1 (positive) or 0 (negative). A box must come with ``clear_old_points=True``. A box
        wholly outside the frame, clicks outside it, or pixel values with
        ``normalize_coords=False`` raise ``ValueError``; a box partly outside is clipped to the
        frame and values all in [0, 1] read as pixels are used, both with a ``UserWarning``.
        """
        state = inference_state
        frame_idx = check_frame_idx(frame_idx, state.num_frames)
        obj_id = check_obj_id(obj_id)
        video_hw = (state.video_height, state.video_width)
        coords, point_labels = check_points(points, labels)
        if box is not None:
            if not clear_old_points:
                raise ValueError(
                    "cannot add a box without clearing old points, since a box must come before "
                    "any click; use clear_old_points=True"
                )
            corners = to_video_pixels(check_box(box), normalize_coords, video_hw, "box")
            coords = np.concatenate([fit_box_to_frame(corners, video_hw), coords])
            point_labels = np.concatenate([np.array([2, 3], np.int32), point_labels])
        elif len(coords) == 0:
            raise ValueError("give at least one of points (with labels) or box")
        clicks = to_video_pixels(coords[point_labels < 2], normalize_coords, video_hw, "points")
        check_points_in_frame(clicks, video_hw)
        coords[point_labels < 2] = clicks
        video_coords = torch.from_numpy(coords).float()
        new_labels = torch.from_numpy(point_labels)
        obj = state.objects.get(obj_id)
        old = obj.prompts.get(frame_idx) if obj is not None else None
        if old is not None and not clear_old_points:
            video_coords = torch.cat([old.video_coords, video_coords])
            new_labels = torch.cat([old.point_labels.cpu(), new_labels])
        window = self.windows.prompt_window(video_coords, new_labels, None, video_hw)
        prompt = FramePrompt(
            point_coords=to_window_coords(video_coords[None], window[None], self.image_size)[0],
            point_labels=new_labels,
            window_xyxy=window,
            video_coords=video_coords,
        )
        return self.run_prompt(state, frame_idx, obj_id, prompt)

    def add_new_points(
        self,
        inference_state: VideoState,
        frame_idx: int,
        obj_id: int,
        points: Any,
        labels: Any,
        clear_old_points: bool = True,
        normalize_coords: bool = True,
    ) -> Output:
        """Deprecated SAM 2 alias of :meth:`add_new_points_or_box` (points only)."""
        state = inference_state
        return self.add_new_points_or_box(
            state,
            frame_idx,
            obj_id,
            points=points,
            labels=labels,
            clear_old_points=clear_old_points,
            normalize_coords=normalize_coords,
        )

    @torch.inference_mode()
    def add_new_mask(
        self, inference_state: VideoState, frame_idx: int, obj_id: int, mask: Any
    ) -> Output:
        """Use a (H, W) mask at video resolution as ``obj_id``'s prompt on ``frame_idx``."""
        state = inference_state
        frame_idx = check_frame_idx(frame_idx, state.num_frames)
        obj_id = check_obj_id(obj_id)
        video_hw = (state.video_height, state.video_width)
        binary = check_mask(mask, video_hw)  # (H, W) bool
        window = self.windows.prompt_window(torch.zeros(0, 2), torch.zeros(0), binary, video_hw)
        mask_input = crop_windows(binary[None].float(), window[None], self.model.mask_size)[0]
        prompt = FramePrompt(
            point_coords=torch.zeros(1, 2),
            point_labels=-torch.ones(1, dtype=torch.int32),
            window_xyxy=window,
            video_coords=torch.zeros(1, 2),
            mask=mask_input.clamp(0, 1),
        )
        return self.run_prompt(state, frame_idx, obj_id, prompt)

    def run_prompt(
        self, state: VideoState, frame_idx: int, obj_id: int, prompt: FramePrompt
    ) -> Output:
        """Segment one object on a prompted frame and store the result as a conditioning memory."""
        frame = state.loader.get(frame_idx)  # raises before any state change if unreadable
        if obj_id not in state.objects:  # a detection track holding this number gives it up
            state.tracker.release(obj_id, set(state.obj_ids) | {obj_id})
        obj = state.objects.setdefault(obj_id, ObjectState(obj_id=obj_id))
        state.bank.clear_frame(obj_id, frame_idx)
        memory = self.read_memory(state, obj_id, frame_idx)
        num_clicks = int((prompt.point_labels >= 0).sum())
        single_click = prompt.mask is None and num_clicks == 1 and memory is None
        prompts = ObjectPrompts(
            point_coords=prompt.point_coords[None].to(self.device),
            point_labels=prompt.point_labels[None].to(self.device),
            mask_inputs=None if prompt.mask is None else prompt.mask[None].to(self.device),
            has_mask=torch.tensor([prompt.mask is not None], device=self.device),
        )
        features = self.encode(state, frame_idx, frame)
        window = prompt.window_xyxy[None]  # (1, 4)
        scene = state.bank.read_scene()
        out = self.model.track_step(
            features,
            prompts,
            [memory],
            scene,
            multimask_output=single_click,
            **self.window_inputs(state, frame_idx, window),
        )
        obj.prompts[frame_idx] = prompt
        result = self.keep_result(
            state, out.masks.mask_logits[0], out.masks.object_score_logits[0], window[0]
        )
        obj.cond_results[frame_idx] = result
        obj.motion = self.motion_from(result)
        self.store_memory(state, obj, frame_idx, out.memory, 0, is_cond=True, frame=None)
        state.bank.add_scene(frame_idx, self.to_storage(state, out.memory.scene_tokens))
        detections = self.tiles.add_to(out.detections, state, frame_idx, scene)
        output = self.frame_output(state, frame_idx, detections, update_tracks=False)
        state.cond_detections[frame_idx] = output[3]
        return output

    @torch.inference_mode()
    def clear_all_prompts_in_frame(
        self, inference_state: VideoState, frame_idx: int, obj_id: int, need_output: bool = True
    ) -> Output | None:
        """Remove ``obj_id``'s prompts (and the memory made from them) on ``frame_idx``."""
        state = inference_state
        frame_idx = check_frame_idx(frame_idx, state.num_frames)
        obj_id = check_obj_id(obj_id)
        if obj_id not in state.objects:
            raise ValueError(f"unknown obj_id {obj_id}; known ids: {state.obj_ids}")
        obj = state.objects[obj_id]
        obj.prompts.pop(frame_idx, None)
        obj.cond_results.pop(frame_idx, None)
        state.bank.clear_frame(obj_id, frame_idx)
        drop_object_rows(state, obj_id, [frame_idx])
        if not obj.prompts:
            state.bank.remove_object(obj_id)  # no prompt left: nothing to track from
        if not need_output:
            return None
        return self.stored_output(state, frame_idx)

    @torch.inference_mode()
    def remove_object(
        self,
        inference_state: VideoState,
        obj_id: int,
        strict: bool = False,
        need_output: bool = True,
    ) -> tuple[list[int], list[Output]]:
        """Forget ``obj_id``; returns the remaining ids and the outputs of prompted frames."""
        state = inference_state
        obj_id = check_obj_id(obj_id)
        if obj_id not in state.objects:
            if strict:
                raise ValueError(
                    f"cannot remove obj_id {obj_id}: it does not exist; known ids: {state.obj_ids}"
                )
            return state.obj_ids, []
        del state.objects[obj_id]
        state.bank.remove_object(obj_id)
        drop_object_rows(state, obj_id, list(state.cond_detections))
        state.tracker.release(obj_id, set(state.obj_ids))
        if not need_output:
            return state.obj_ids, []
        return state.obj_ids, [self.stored_output(state, t) for t in state.prompted_frames()]


def drop_object_rows(state: VideoState, obj_id: int, frames: list[int]) -> None:
    """Remove ``obj_id``'s rows from the detections kept for prompted ``frames``, and forget the
    kept detections of a frame no object is prompted on any more."""
    prompted = set(state.prompted_frames())
    for frame_idx in frames:
        detections = state.cond_detections.get(frame_idx)
        if detections is None:
            continue
        if frame_idx not in prompted:
            del state.cond_detections[frame_idx]
        elif detections.tracker_id is not None:
            state.cond_detections[frame_idx] = detections[detections.tracker_id != obj_id]
