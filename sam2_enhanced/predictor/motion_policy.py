"""What a tracked object's motion class changes: how often it refreshes its memory and how big
its search window is.

With ``tracker.classify_motion`` every propagated frame labels each prompted object static or
dynamic relative to the scene (:mod:`sam2_enhanced.modeling.motion_class`). A *static* object
looks the same from frame to frame, so storing each frame's memory adds little but pushes
older looks out of the FIFO: it stores one every ``memory_bank.static_memory_stride`` frames.
It also stays where it was, so its window is ``search_window.static_side_factor`` times the
usual side. Dynamic and not-yet-classified objects keep the defaults.
"""

from __future__ import annotations

import numpy as np
import supervision as sv

from sam2_enhanced.predictor.video_state import ObjectState, VideoState

STATIC = "static"


class MotionPolicy:
    """Memory refresh and window size of objects by motion class.

    Args:
        static_memory_stride: a static object stores a tracked frame's memory when at least
            this many frames passed since its last stored memory (>= 1; 1: every frame).
        static_side_factor: window side multiplier of a static object, in (0, 1].
    """

    def __init__(self, static_memory_stride: int, static_side_factor: float) -> None:
        if static_memory_stride < 1:
            raise ValueError(f"static_memory_stride must be >= 1, got {static_memory_stride}")
        if not 0.0 < static_side_factor <= 1.0:
            raise ValueError(f"static_side_factor must be in (0, 1], got {static_side_factor}")
        self.static_memory_stride = static_memory_stride
        self.static_side_factor = static_side_factor

    def stores_memory(self, obj: ObjectState, frame_idx: int) -> bool:
        """Whether ``obj``'s memory of tracked frame ``frame_idx`` goes to the bank."""
        if obj.motion_class != STATIC or obj.memory_frame is None:
            return True
        return abs(frame_idx - obj.memory_frame) >= self.static_memory_stride

    def observe(self, state: VideoState, detections: sv.Detections) -> None:
        """Take each prompted object's class from the frame's ``detections.data["motion_class"]``
        (rows whose ``tracker_id`` is the object's id) and size its next window by it."""
        classes = detections.data.get("motion_class")
        if classes is None or detections.tracker_id is None:
            return
        for obj_id, motion_class in zip(
            np.asarray(detections.tracker_id).tolist(), np.asarray(classes).tolist(), strict=True
        ):
            obj = state.objects.get(obj_id)
            if obj is None:
                continue
            obj.motion_class = motion_class
            if obj.motion is not None:
                static = motion_class == STATIC
                obj.motion.side_factor = self.static_side_factor if static else 1.0
