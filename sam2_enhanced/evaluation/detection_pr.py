"""Precision and recall of detections over score thresholds, and the threshold with the best F1.

Detections are matched to ground truth exactly as for detection AP
(:func:`sam2_enhanced.evaluation.mot.pooled_matches`: COCO greedy matching per frame, IoU 0.5 by
default, all frames pooled). Keeping the detections with score >= ``s`` gives

- precision(s) = TP(s) / detections(s), recall(s) = TP(s) / GT, F1 = 2 P R / (P + R);

the curve has one point per distinct detection score (each is a threshold where something
changes). :func:`best_f1_threshold` picks the point of highest F1 (the highest threshold among
ties): the default ``tracker.det_threshold`` chosen by ``sam2e threshold``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sam2_enhanced.evaluation.mot import pooled_matches


@dataclass
class PRCurve:
    """Precision, recall and F1 at each distinct score, highest threshold first."""

    thresholds: np.ndarray  # (K,) descending scores: keep detections with score >= threshold
    precision: np.ndarray  # (K,) TP / kept detections
    recall: np.ndarray  # (K,) TP / GT boxes
    f1: np.ndarray  # (K,) harmonic mean of precision and recall (0 where both are 0)
    num_gt: int  # GT boxes scored (non-ignored)
    num_detections: int  # detections scored (non-ignored)

    def at(self, threshold: float) -> tuple[float, float, float]:
        """(precision, recall, F1) keeping the detections with score >= ``threshold``
        (precision 1 and recall 0 when none is kept)."""
        kept = np.flatnonzero(self.thresholds >= threshold)
        if kept.size == 0:
            return 1.0, 0.0, 0.0
        i = kept[-1]
        return float(self.precision[i]), float(self.recall[i]), float(self.f1[i])


def precision_recall_curve(
    gt_boxes_xyxy: Sequence[np.ndarray],
    det_boxes_xyxy: Sequence[np.ndarray],
    det_scores: Sequence[np.ndarray],
    iou_threshold: float = 0.5,
    min_size: float = 0.0,
    max_detections_per_frame: int = 100,
) -> PRCurve:
    """The PR curve of detections pooled over frames (arguments as ``detection_ap``).

    Raises:
        ValueError: when no frame has a (non-ignored) ground-truth box: recall is undefined.
    """
    pooled = pooled_matches(
        gt_boxes_xyxy, det_boxes_xyxy, det_scores, iou_threshold, min_size, max_detections_per_frame
    )
    if pooled.num_gt == 0:
        raise ValueError(
            f"no ground-truth box of at least {min_size} px in {len(gt_boxes_xyxy)} frames: "
            "recall is undefined; use videos with objects (or a lower min_size)"
        )
    tp = np.cumsum(pooled.is_tp)  # (D,) over detections sorted by descending score
    count = np.arange(1, len(tp) + 1)
    last_of_score = np.ones(len(tp), dtype=bool)  # the last of each run of tied scores
    last_of_score[:-1] = pooled.scores[1:] != pooled.scores[:-1]
    tp, count = tp[last_of_score], count[last_of_score]
    precision = tp / np.maximum(count, 1)
    recall = tp / pooled.num_gt
    denominator = precision + recall
    f1 = np.where(denominator > 0, 2 * precision * recall / np.maximum(denominator, 1e-12), 0.0)
    return PRCurve(
        thresholds=pooled.scores[last_of_score],
        precision=precision,
        recall=recall,
        f1=f1,
        num_gt=pooled.num_gt,
        num_detections=len(pooled.scores),
    )


def best_f1_threshold(curve: PRCurve) -> float:
    """The threshold of highest F1 (the highest such threshold among ties).

    Raises:
        ValueError: when the curve has no detection, or no detection is a true positive.
    """
    if curve.thresholds.size == 0:
        raise ValueError(
            f"no detection to choose a threshold from ({curve.num_gt} GT boxes); run the "
            "detector with a lower score floor or on more videos"
        )
    best = int(np.argmax(curve.f1))  # first maximum = highest threshold
    if curve.f1[best] == 0:
        raise ValueError(
            f"none of {curve.num_detections} detections matches one of {curve.num_gt} GT boxes "
            "(F1 is 0 at every threshold); the model does not detect these objects"
        )
    return float(curve.thresholds[best])


def format_curve(curve: PRCurve, thresholds: Sequence[float], best: float | None = None) -> str:
    """A plain-text table of precision / recall / F1 at ``thresholds`` (and at ``best``)."""
    rows = sorted({*(float(t) for t in thresholds), *([] if best is None else [best])})
    lines = ["threshold  precision  recall  F1"]
    for t in rows:
        p, r, f = curve.at(t)
        mark = "  <- best F1" if best is not None and t == best else ""
        lines.append(f"{t:9.3f}  {p:9.3f}  {r:6.3f}  {f:5.3f}{mark}")
    return "\n".join(lines)
