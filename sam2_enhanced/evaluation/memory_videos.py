"""Videos of the memory study: long synthetic videos, or SOT / DAVIS folders, one target each.

A :class:`StudyVideo` is one target in one video: its box per frame, whether it is visible, and
its mask where the source has masks (synthetic videos, DAVIS). :class:`VideoRef` s are found
without reading anything; ``load()`` reads or generates the video, so a study that is resumed
never generates a video whose runs are all done.

Synthetic study videos (:func:`study_synthetic_config`) are long and hard on memory: the target
is occluded for a sixth of the video behind a covering occluder (``long_occlusion_frames``),
often leaves the frame and comes back, changes scale and appearance, has look-alike
distractors, and the camera pans and shakes. The target is the video's first object, as in
``sam2e eval sot --synthetic``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np

from sam2_enhanced.data.splits import split_seeds
from sam2_enhanced.data.synthetic import SyntheticVideoConfig, generate_video
from sam2_enhanced.evaluation.cases import SotCase, VosCase, find_cases


@dataclass
class StudyVideo(SotCase):
    """One target in one video: a :class:`SotCase` (``name`` unique among the study's videos,
    used in file names; the target is prompted on ``init_frame``) plus its masks."""

    masks: np.ndarray | None  # (T, H, W) bool GT mask on each frame; None without masks
    mask_frames: np.ndarray | None  # (T,) bool frames whose mask is annotated; None without

    def truncated(self, max_frames: int) -> StudyVideo:
        short = super().truncated(max_frames)
        if self.masks is None:
            return short
        return replace(
            short, masks=self.masks[:max_frames], mask_frames=self.mask_frames[:max_frames]
        )


@dataclass
class VideoRef:
    """A study video, read or generated only when ``load()`` is called."""

    name: str
    load: Callable[[], StudyVideo]


def study_synthetic_config(size: int, num_frames: int) -> SyntheticVideoConfig:
    """Square ``size`` px videos of ``num_frames`` frames with long occlusions (module doc)."""
    return SyntheticVideoConfig(
        height=size,
        width=size,
        num_frames=num_frames,
        min_objects=1,
        max_objects=2,
        max_object_size=min(40, size // 2),
        prob_scale_change=0.75,
        prob_appearance_change=0.75,
        prob_occlusion=1.0,
        long_occlusion_frames=max(1, num_frames // 6),
        prob_exit=0.25,
        prob_distractor=0.5,
        prob_camera_motion=0.75,
    )


def _synthetic_video(seed: int, cfg: SyntheticVideoConfig, name: str) -> StudyVideo:
    video = generate_video(seed, cfg)
    if video.num_objects == 0:
        raise ValueError(f"{name}: no object is ever visible (rare); nothing to track")
    present = video.visibility[:, 0] > 0  # (T,)
    boxes = video.boxes_xyxy[:, 0].astype(np.float64)  # (T, 4)
    boxes[~present] = np.nan
    masks = np.ascontiguousarray(video.masks[:, 0])  # (T, H, W), only the target's
    return StudyVideo(name, video.frames, boxes, present, masks, np.ones(len(present), bool))


def synthetic_study_videos(
    num_videos: int, num_frames: int, sizes: Sequence[int], split: str = "test"
) -> list[VideoRef]:
    """``num_videos`` seeds of ``split`` at each frame size (``synthetic-<size>-<seed>``)."""
    if num_videos < 1:
        raise ValueError(f"--synthetic needs at least 1 video, got {num_videos}")
    if num_frames < 2:
        raise ValueError(
            f"--frames must be >= 2 (a prompt frame and one to track), got {num_frames}"
        )
    if not sizes:
        raise ValueError("--sizes names no frame size; give e.g. --sizes 128,640")
    refs = []
    for size in sizes:
        if size < 32:
            raise ValueError(f"--sizes: frame sizes must be >= 32 px, got {size}")
        cfg = study_synthetic_config(size, num_frames)
        for seed in split_seeds(split, num_videos):
            name = f"synthetic-{size}-{seed}"
            refs.append(VideoRef(name, partial(_synthetic_video, seed, cfg, name)))
    return refs


def _from_sot(case: SotCase) -> StudyVideo:
    return StudyVideo(case.name, case.frames, case.boxes_xyxy, case.present, None, None)


def _from_vos(case: VosCase) -> StudyVideo:
    """The case's first object; boxes from its masks on annotated frames (NaN elsewhere)."""
    from sam2_enhanced.data.synthetic import masks_to_boxes_xyxy

    num_frames = case.num_frames
    height, width = case.masks.shape[2:]
    masks = np.zeros((num_frames, height, width), dtype=bool)
    annotated = np.zeros(num_frames, dtype=bool)
    masks[case.annotated_frames] = case.masks[:, 0]
    annotated[case.annotated_frames] = True
    present = annotated & masks.any(axis=(1, 2))  # (T,)
    boxes = masks_to_boxes_xyxy(masks).astype(np.float64)  # (T, 4)
    boxes[~present] = np.nan
    return StudyVideo(case.name, case.frames, boxes, present, masks, annotated)


def data_study_videos(
    paths: Sequence[str | os.PathLike], max_frames: int | None = None
) -> list[VideoRef]:
    """Study videos under ``paths``: a DAVIS root (``JPEGImages/`` + ``Annotations/``; its first
    object) or SOT sequences (see ``sam2e eval --help`` for the layouts)."""
    refs = []
    for raw in paths:
        path = Path(raw).expanduser()
        is_davis = (path / "JPEGImages").is_dir() and (path / "Annotations").is_dir()
        task, convert = ("vos", _from_vos) if is_davis else ("sot", _from_sot)
        for ref in find_cases(task, [path], max_frames=max_frames):
            refs.append(VideoRef(ref.name, lambda load=ref.load, c=convert: c(load())))
    return refs
