"""How often the predictor's detections find one still small object on a large frame.

The probe behind issue 11's test ("an 8-px object placed on a 1280x720 frame is detected with the
default settings"), as a rate over many videos instead of one: each video is a synthetic pair of
frames holding one still object of ``object_size`` px (no distractor, occluder, exit or camera
motion), run through ``propagate_in_video`` with no prompt; the object counts as found when a
detection of the second frame (so that a tracker with ``min_hits`` 2 has reported it) covers it at
IoU >= 0.5.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from sam2_enhanced.data.splits import split_seeds
from sam2_enhanced.data.synthetic import SyntheticVideoConfig, generate_video
from sam2_enhanced.enhanced_video_predictor import SAM2EnhancedVideoPredictor
from sam2_enhanced.evaluation.sot import paired_box_iou

FOUND_IOU = 0.5


@dataclass
class SmallObjectProbe:
    """Result of :func:`small_object_probe`."""

    num_videos: int  # videos probed
    num_found: int  # videos whose object a second-frame detection covers at IoU >= 0.5
    best_ious: list[float]  # (num_videos,) best IoU of a second-frame detection (0: none)
    mean_detections: float  # detections reported on the second frame, mean over videos
    seconds_per_frame: float  # wall time of init_state + propagate_in_video per frame

    @property
    def found_rate(self) -> float:
        return self.num_found / self.num_videos if self.num_videos else 0.0


def probe_video_config(height: int, width: int, object_size: int) -> SyntheticVideoConfig:
    """Two frames, one still object of ``object_size`` px, nothing else that moves or hides."""
    return SyntheticVideoConfig(
        height=height, width=width, num_frames=2, min_objects=1, max_objects=1,
        min_object_size=object_size, max_object_size=object_size, prob_distractor=0.0,
        prob_occlusion=0.0, prob_exit=0.0, prob_camera_motion=0.0,
    )  # fmt: skip


def small_object_probe(
    predictor: SAM2EnhancedVideoPredictor,
    *,
    num_videos: int,
    height: int = 720,
    width: int = 1280,
    object_size: int = 8,
    split: str = "val",
) -> SmallObjectProbe:
    """Run the probe on the first ``num_videos`` seeds of ``split`` (see the module docstring)."""
    if num_videos < 1:
        raise ValueError(f"num_videos must be >= 1, got {num_videos}")
    cfg = probe_video_config(height, width, object_size)  # checks sizes
    best, counts, seconds = [], [], 0.0
    for seed in split_seeds(split, num_videos):
        video = generate_video(seed, cfg)
        start = time.perf_counter()
        state = predictor.init_state(video.frames)
        *_, (_, _, _, detections) = predictor.propagate_in_video(state)
        seconds += time.perf_counter() - start
        counts.append(len(detections))
        if len(detections) == 0:
            best.append(0.0)
            continue
        target = np.repeat(video.boxes_xyxy[1, :1].astype(np.float64), len(detections), axis=0)
        best.append(float(paired_box_iou(detections.xyxy.astype(np.float64), target).max()))
    return SmallObjectProbe(
        num_videos=num_videos,
        num_found=sum(iou >= FOUND_IOU for iou in best),
        best_ious=best,
        mean_detections=float(np.mean(counts)),
        seconds_per_frame=seconds / (2 * num_videos),
    )
