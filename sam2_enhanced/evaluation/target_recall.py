"""Does the detector find the labelled target of a real single-object video, with no prompt?

Real tracking sequences (UAV123, Anti-UAV, ``train_real``) label one target per frame and leave
every other object unlabelled, so detection precision and AP cannot be measured there: a box on
an unlabelled boat is not a false positive. What can be measured is whether the detector finds
the labelled target, and how it ranks among the frame's detections. Over the predictor's
no-prompt run that reports every detection above a low score ``floor`` from its first frame
(:class:`~sam2_enhanced.evaluation.harness.PredictorDetections` with ``every_detection``, the run
``sam2e threshold`` scores), on each frame where the target is present:

- ``recall_floor``: some detection with score >= ``floor`` covers the target at IoU >= 0.5 (what
  the boxes can do at all);
- ``recall_threshold``: the same among the detections at or above the model's
  ``tracker.det_threshold`` (what a user sees);
- ``recall_top1``: the frame's highest-scoring detection covers it (the target ranks first);
- ``mean_rank``: 1-based rank by score of the best-scoring covering detection, over the frames
  where one exists (1: first);
- ``detections_per_frame``: detections at or above the threshold, mean over scored frames (the
  target, unlabelled objects and false positives together).

Nothing is prompted, so every present frame is scored, frame 0 included.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sam2_enhanced.evaluation.cases import SotCase
from sam2_enhanced.evaluation.harness import FrameTracks, PredictorDetections, detection_floor
from sam2_enhanced.evaluation.sot import paired_box_iou

COVER_IOU = 0.5  # a detection covers the target at this IoU


@dataclass
class TargetRecall:
    """Result of :func:`target_recall` (see the module docstring)."""

    num_frames: int  # frames where the target is present (the scored frames)
    recall_floor: float  # share of them with a covering detection >= floor
    recall_threshold: float  # the same at or above the model's threshold
    recall_top1: float  # the same for the frame's best-scoring detection alone
    mean_rank: float  # mean 1-based rank of the covering detection (NaN: never covered)
    detections_per_frame: float  # detections at or above the threshold, mean over frames
    median_target_px: float  # median of sqrt(w * h) of the target, video pixels


def _target_rank(frame: FrameTracks, target_xyxy: np.ndarray) -> tuple[int, float]:
    """1-based rank by score of the best-scoring detection covering the target (0: none) and
    that detection's score."""
    if frame.boxes_xyxy.shape[0] == 0:
        return 0, 0.0
    order = np.argsort(-frame.scores, kind="stable")  # (D,) best first
    boxes = frame.boxes_xyxy[order]  # (D, 4)
    ious = paired_box_iou(boxes, np.repeat(target_xyxy[None], len(boxes), axis=0))  # (D,)
    covering = np.flatnonzero(ious >= COVER_IOU)
    if covering.size == 0:
        return 0, 0.0
    return int(covering[0]) + 1, float(frame.scores[order[covering[0]]])


def target_recall(
    frames: Sequence[FrameTracks],
    boxes_xyxy: np.ndarray,
    present: np.ndarray,
    *,
    threshold: float,
) -> TargetRecall:
    """Score one no-prompt run against the labelled target (see the module docstring).

    Args:
        frames: the run's detections, one entry per frame (T entries), scores >= the floor.
        boxes_xyxy: (T, 4) the target's GT boxes in video pixels; rows where it is absent are
            ignored (NaN in the readers).
        present: (T,) bool, the frames where the target is labelled.
        threshold: the model's ``tracker.det_threshold``.
    """
    boxes_xyxy = np.asarray(boxes_xyxy, dtype=np.float64)
    present = np.asarray(present, dtype=bool)
    if boxes_xyxy.ndim != 2 or boxes_xyxy.shape[1] != 4 or present.shape != boxes_xyxy.shape[:1]:
        raise ValueError(
            "need boxes_xyxy (T, 4) and present (T,), got "
            f"{tuple(boxes_xyxy.shape)} and {tuple(present.shape)}"
        )
    if len(frames) != len(present):
        raise ValueError(f"need one FrameTracks per frame ({len(present)}), got {len(frames)}")
    scored = np.flatnonzero(present)
    if scored.size == 0:
        raise ValueError("the target is absent in every frame; nothing to score")
    if not np.isfinite(boxes_xyxy[scored]).all():
        raise ValueError("boxes_xyxy must be finite on every frame where present is True")
    ranks, scores = zip(*(_target_rank(frames[t], boxes_xyxy[t]) for t in scored), strict=True)
    ranks, scores = np.array(ranks), np.array(scores)  # (F,), (F,)
    covered = ranks > 0
    sides = boxes_xyxy[scored, 2:] - boxes_xyxy[scored, :2]  # (F, 2) w, h
    return TargetRecall(
        num_frames=int(scored.size),
        recall_floor=float(covered.mean()),
        recall_threshold=float((covered & (scores >= threshold)).mean()),
        recall_top1=float((ranks == 1).mean()),
        mean_rank=float(ranks[covered].mean()) if covered.any() else float("nan"),
        detections_per_frame=float(
            np.mean([(frames[t].scores >= threshold).sum() for t in scored])
        ),
        median_target_px=float(np.median(np.sqrt(sides.clip(min=0).prod(axis=1)))),
    )


def run_target_recall(predictor, case: SotCase, floor: float = 0.05) -> TargetRecall:
    """The predictor's no-prompt run over a single-object case, scored by :func:`target_recall`
    at the model's own threshold."""
    with detection_floor(predictor, floor) as threshold:
        frames = PredictorDetections(predictor, every_detection=True)(case)
    return target_recall(frames, case.boxes_xyxy, case.present, threshold=threshold)
