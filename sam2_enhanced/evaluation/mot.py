"""Multi-object tracking metrics through TrackEval, a small-object breakdown, and detection AP50.

TrackEval's metric classes (``HOTA``, ``CLEAR``, ``Identity``) run directly on in-memory data:
:func:`evaluate_mot` builds the ``data`` dict their ``eval_sequence`` expects (ids remapped to
``0..num_ids-1`` and per-frame IoU similarity matrices) without writing any file, and
:func:`combine_mot_results` merges sequences with TrackEval's ``combine_sequences``.

Object size is ``sqrt(w * h)`` of the GT box in pixels. The small-object breakdown evaluates each
size bucket on its own: GT is restricted to the boxes in the bucket; in every frame all GT and
tracker boxes are matched one-to-one (Hungarian on IoU, a pair counts when IoU >= 0.5, as
TrackEval's MOTChallenge preprocessing removes distractor matches); tracker boxes matched to GT
outside the bucket are removed, and unmatched tracker boxes are kept only when their own size is
in the bucket (COCO's area-range rule), so no bucket is penalised by objects of another.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import supervision as sv
import trackeval
from scipy.optimize import linear_sum_assignment

from sam2_enhanced.evaluation.sot import validate_boxes_xyxy

_EPS = np.finfo(float).eps


@dataclass(frozen=True)
class SizeBucket:
    """Objects with ``min_size <= sqrt(w * h) < max_size`` pixels."""

    name: str  # label used in results, e.g. "tiny"
    min_size: float  # inclusive lower bound on sqrt(area), px
    max_size: float  # exclusive upper bound on sqrt(area), px (math.inf for no bound)

    def __post_init__(self) -> None:
        if not 0 <= self.min_size < self.max_size:
            raise ValueError(
                f"SizeBucket {self.name!r} needs 0 <= min_size < max_size, got "
                f"[{self.min_size}, {self.max_size})"
            )

    def contains(self, sizes: np.ndarray) -> np.ndarray:
        """(N,) bool: which of the (N,) sizes fall in this bucket."""
        return (sizes >= self.min_size) & (sizes < self.max_size)


DEFAULT_SIZE_BUCKETS = (
    SizeBucket("tiny", 0.0, 16.0),
    SizeBucket("small", 16.0, 32.0),
    SizeBucket("medium", 32.0, 96.0),
    SizeBucket("large", 96.0, math.inf),
)


def box_sizes(boxes_xyxy: np.ndarray) -> np.ndarray:
    """(N, 4) ``xyxy`` boxes -> (N,) ``sqrt(w * h)`` in pixels."""
    return np.sqrt((boxes_xyxy[:, 2] - boxes_xyxy[:, 0]) * (boxes_xyxy[:, 3] - boxes_xyxy[:, 1]))


def _iou_matrix(boxes_a_xyxy: np.ndarray, boxes_b_xyxy: np.ndarray) -> np.ndarray:
    """(N, 4), (M, 4) -> (N, M) float64 IoU."""
    return sv.box_iou_batch(boxes_a_xyxy, boxes_b_xyxy).astype(np.float64)


def _validate_frame_boxes(boxes_xyxy: np.ndarray, name: str) -> np.ndarray:
    """One frame's (N, 4) boxes: finite, non-negative sizes; returns float64."""
    boxes = validate_boxes_xyxy(boxes_xyxy, name)
    if np.isnan(boxes).any():
        raise ValueError(f"{name} contains NaN; leave absent objects out of the frame instead")
    return boxes


@dataclass
class TrackSequence:
    """Per-frame object ids and boxes of one sequence (ground truth or tracker output)."""

    ids: list[np.ndarray]  # T arrays, each (N_t,) int object / track ids
    boxes_xyxy: list[np.ndarray]  # T arrays, each (N_t, 4) float pixels

    def __post_init__(self) -> None:
        if len(self.ids) != len(self.boxes_xyxy):
            raise ValueError(
                f"TrackSequence needs one ids array per boxes array, got {len(self.ids)} ids "
                f"frames and {len(self.boxes_xyxy)} boxes frames"
            )
        ids_out, boxes_out = [], []
        for t, (ids_t, boxes_t) in enumerate(zip(self.ids, self.boxes_xyxy, strict=True)):
            boxes = _validate_frame_boxes(boxes_t, f"boxes_xyxy[{t}]")
            ids = np.asarray(ids_t).reshape(-1)  # (N_t,)
            if ids.size and not np.issubdtype(ids.dtype, np.integer):
                raise TypeError(f"ids[{t}] must be integers, got dtype {ids.dtype}")
            if ids.shape[0] != boxes.shape[0]:
                raise ValueError(
                    f"frame {t} has {ids.shape[0]} ids but {boxes.shape[0]} boxes; give one id "
                    "per box"
                )
            if np.unique(ids).size != ids.size:
                raise ValueError(f"frame {t} repeats an id in {ids.tolist()}; ids must be unique")
            ids_out.append(ids.astype(np.int64))
            boxes_out.append(boxes)
        self.ids, self.boxes_xyxy = ids_out, boxes_out

    @property
    def num_frames(self) -> int:
        return len(self.ids)


@dataclass
class MotMetrics:
    """Headline MOT numbers (HOTA-family values are TrackEval's mean over alpha 0.05..0.95)."""

    hota: float  # sqrt(DetA * AssA)
    det_a: float  # detection accuracy
    ass_a: float  # association accuracy
    loc_a: float  # localisation accuracy
    mota: float  # 1 - (FN + FP + IDSW) / num GT dets
    motp: float  # mean IoU of CLEAR matches
    idf1: float  # identity F1
    idsw: int  # identity switches
    num_gt_dets: int  # GT boxes over all frames
    num_tracker_dets: int  # tracker boxes over all frames


@dataclass
class MotResult:
    """Overall and per-size-bucket metrics; ``raw`` keeps TrackEval's dicts for combining."""

    overall: MotMetrics
    by_size: dict[str, MotMetrics]  # bucket name -> metrics restricted to that bucket
    raw: dict[str, dict[str, dict]] = field(repr=False)  # "overall"/bucket -> metric -> fields


def _make_metrics() -> dict[str, Any]:
    """Fresh TrackEval metric objects (HOTA, CLEAR, Identity) that print nothing."""
    quiet = {"THRESHOLD": 0.5, "PRINT_CONFIG": False}
    return {
        "HOTA": trackeval.metrics.HOTA(),
        "CLEAR": trackeval.metrics.CLEAR(dict(quiet)),
        "Identity": trackeval.metrics.Identity(dict(quiet)),
    }


def _trackeval_data(gt: TrackSequence, pred: TrackSequence) -> dict:
    """The ``data`` dict of TrackEval's ``eval_sequence``, with ids remapped to 0..n-1."""
    gt_unique = np.unique(np.concatenate([np.empty(0, np.int64), *gt.ids]))
    pred_unique = np.unique(np.concatenate([np.empty(0, np.int64), *pred.ids]))
    return {
        "num_timesteps": gt.num_frames,
        "num_gt_ids": int(gt_unique.size),
        "num_tracker_ids": int(pred_unique.size),
        "num_gt_dets": int(sum(ids.size for ids in gt.ids)),
        "num_tracker_dets": int(sum(ids.size for ids in pred.ids)),
        "gt_ids": [np.searchsorted(gt_unique, ids) for ids in gt.ids],
        "tracker_ids": [np.searchsorted(pred_unique, ids) for ids in pred.ids],
        "similarity_scores": [
            _iou_matrix(g, p) for g, p in zip(gt.boxes_xyxy, pred.boxes_xyxy, strict=True)
        ],
    }


def _summarize(raw: dict[str, dict]) -> MotMetrics:
    """Headline numbers; NaN scores when there is neither a GT nor a tracker box."""
    hota, clear, identity = raw["HOTA"], raw["CLEAR"], raw["Identity"]
    num_gt_dets = int(clear["CLR_TP"] + clear["CLR_FN"])
    num_tracker_dets = int(clear["CLR_TP"] + clear["CLR_FP"])
    if num_gt_dets == 0 and num_tracker_dets == 0:
        nan = float("nan")
        return MotMetrics(nan, nan, nan, nan, nan, nan, nan, 0, 0, 0)
    return MotMetrics(
        hota=float(np.mean(hota["HOTA"])),
        det_a=float(np.mean(hota["DetA"])),
        ass_a=float(np.mean(hota["AssA"])),
        loc_a=float(np.mean(hota["LocA"])),
        mota=float(clear["MOTA"]),
        motp=float(clear["MOTP"]),
        idf1=float(identity["IDF1"]),
        idsw=int(clear["IDSW"]),
        num_gt_dets=num_gt_dets,
        num_tracker_dets=num_tracker_dets,
    )


def _evaluate_raw(gt: TrackSequence, pred: TrackSequence) -> dict[str, dict]:
    data = _trackeval_data(gt, pred)
    return {name: metric.eval_sequence(data) for name, metric in _make_metrics().items()}


def _restrict_to_bucket(
    gt: TrackSequence, pred: TrackSequence, bucket: SizeBucket, match_iou: float
) -> tuple[TrackSequence, TrackSequence]:
    """GT in ``bucket`` and the tracker boxes that belong to it (see the module docstring)."""
    gt_ids, gt_boxes, pred_ids, pred_boxes = [], [], [], []
    for g_ids, g_boxes, p_ids, p_boxes in zip(
        gt.ids, gt.boxes_xyxy, pred.ids, pred.boxes_xyxy, strict=True
    ):
        gt_in = bucket.contains(box_sizes(g_boxes))  # (N_gt,)
        keep = bucket.contains(box_sizes(p_boxes))  # (N_pred,) rule for unmatched boxes
        scores = _iou_matrix(g_boxes, p_boxes)  # (N_gt, N_pred)
        scores[scores < match_iou - _EPS] = 0
        rows, cols = linear_sum_assignment(-scores)
        matched = scores[rows, cols] > _EPS
        keep[cols[matched]] = gt_in[rows[matched]]
        gt_ids.append(g_ids[gt_in])
        gt_boxes.append(g_boxes[gt_in])
        pred_ids.append(p_ids[keep])
        pred_boxes.append(p_boxes[keep])
    return TrackSequence(gt_ids, gt_boxes), TrackSequence(pred_ids, pred_boxes)


def evaluate_mot(
    gt: TrackSequence,
    pred: TrackSequence,
    size_buckets: Sequence[SizeBucket] = DEFAULT_SIZE_BUCKETS,
    bucket_match_iou: float = 0.5,
) -> MotResult:
    """HOTA / CLEAR / Identity metrics for one sequence, overall and per size bucket.

    Args:
        gt: ground-truth ids and boxes per frame.
        pred: tracker ids and boxes per frame (same number of frames as ``gt``).
        size_buckets: buckets of GT size ``sqrt(w * h)``; names must be unique.
        bucket_match_iou: IoU at which a tracker box is attributed to a GT box of another bucket.

    Returns:
        A :class:`MotResult`. Where there is neither a GT nor a tracker box (an empty sequence
        or bucket) the scores are NaN rather than TrackEval's 0.
    """
    if gt.num_frames != pred.num_frames:
        raise ValueError(
            f"gt has {gt.num_frames} frames but pred has {pred.num_frames}; give the tracker "
            "output for every frame (an empty frame is ids=[] with boxes of shape (0, 4))"
        )
    names = [b.name for b in size_buckets]
    if len(set(names)) != len(names) or "overall" in names:
        raise ValueError(f"size bucket names must be unique and not 'overall', got {names}")
    raw = {"overall": _evaluate_raw(gt, pred)}
    for bucket in size_buckets:
        raw[bucket.name] = _evaluate_raw(*_restrict_to_bucket(gt, pred, bucket, bucket_match_iou))
    return _from_raw(raw)


def _from_raw(raw: dict[str, dict[str, dict]]) -> MotResult:
    return MotResult(
        overall=_summarize(raw["overall"]),
        by_size={name: _summarize(r) for name, r in raw.items() if name != "overall"},
        raw=raw,
    )


def combine_mot_results(results: Sequence[MotResult]) -> MotResult:
    """Merge per-sequence results with TrackEval's ``combine_sequences`` (detection-weighted)."""
    if len(results) == 0:
        raise ValueError("combine_mot_results needs at least one MotResult, got none")
    keys = list(results[0].raw)
    if any(list(r.raw) != keys for r in results):
        raise ValueError("all results must use the same size buckets to be combined")
    metrics = _make_metrics()
    combined = {
        key: {
            name: metric.combine_sequences(
                {str(i): r.raw[key][name] for i, r in enumerate(results)}
            )
            for name, metric in metrics.items()
        }
        for key in keys
    }
    return _from_raw(combined)


def _match_frame_coco(
    gt_boxes: np.ndarray,
    gt_ignore: np.ndarray,
    det_boxes: np.ndarray,
    det_ignore_if_unmatched: np.ndarray,
    iou_threshold: float,
) -> tuple[np.ndarray, np.ndarray]:
    """COCO greedy matching of score-sorted detections in one frame.

    Args: (G, 4), (G,) bool, (D, 4) sorted by score, (D,) bool, IoU threshold.
    Returns: (D,) bool true positive, (D,) bool ignored.
    """
    order = np.argsort(gt_ignore, kind="stable")  # non-ignored GT first, as COCO
    gt_boxes, gt_ignore = gt_boxes[order], gt_ignore[order]
    ious = _iou_matrix(det_boxes, gt_boxes)  # (D, G)
    gt_taken = np.zeros(len(gt_boxes), dtype=bool)
    is_tp = np.zeros(len(det_boxes), dtype=bool)
    is_ignored = det_ignore_if_unmatched.copy()
    for d in range(len(det_boxes)):
        best_iou, match = min(iou_threshold, 1 - 1e-10), -1
        for g in range(len(gt_boxes)):
            if gt_taken[g]:
                continue
            if match > -1 and not gt_ignore[match] and gt_ignore[g]:
                break
            if ious[d, g] < best_iou:
                continue
            best_iou, match = ious[d, g], g
        if match > -1:
            gt_taken[match] = True
            is_tp[d] = True
            is_ignored[d] = gt_ignore[match]
    return is_tp, is_ignored


@dataclass
class PooledMatches:
    """Detections of all frames pooled and sorted by score, each marked TP or FP."""

    scores: np.ndarray  # (D,) descending confidences of the scored (non-ignored) detections
    is_tp: np.ndarray  # (D,) bool: matched to a non-ignored GT box at the IoU threshold
    num_gt: int  # non-ignored GT boxes over all frames


def pooled_matches(
    gt_boxes_xyxy: Sequence[np.ndarray],
    det_boxes_xyxy: Sequence[np.ndarray],
    det_scores: Sequence[np.ndarray],
    iou_threshold: float = 0.5,
    min_size: float = 0.0,
    max_detections_per_frame: int = 100,
    max_size: float = math.inf,
) -> PooledMatches:
    """COCO greedy matching per frame, all frames pooled (what AP and PR curves are made of).

    Args: as :func:`detection_ap`.
    """
    if not len(gt_boxes_xyxy) == len(det_boxes_xyxy) == len(det_scores):
        raise ValueError(
            f"need one entry per frame in gt_boxes_xyxy, det_boxes_xyxy and det_scores, got "
            f"{len(gt_boxes_xyxy)}, {len(det_boxes_xyxy)} and {len(det_scores)} frames"
        )
    if not 0.0 <= min_size < max_size:
        raise ValueError(
            f"the size range must satisfy 0 <= min_size < max_size, got [{min_size}, {max_size})"
        )
    all_scores, all_tp, all_ignored, num_gt = [], [], [], 0
    for t, (gt_t, det_t, score_t) in enumerate(
        zip(gt_boxes_xyxy, det_boxes_xyxy, det_scores, strict=True)
    ):
        gt = _validate_frame_boxes(gt_t, f"gt_boxes_xyxy[{t}]")
        det = _validate_frame_boxes(det_t, f"det_boxes_xyxy[{t}]")
        scores = np.asarray(score_t, dtype=np.float64).reshape(-1)  # (D_t,)
        if scores.shape[0] != det.shape[0]:
            raise ValueError(
                f"frame {t} has {det.shape[0]} detections but {scores.shape[0]} scores"
            )
        order = np.argsort(-scores, kind="stable")[:max_detections_per_frame]
        det, scores = det[order], scores[order]
        gt_sizes, det_sizes = box_sizes(gt), box_sizes(det)
        gt_ignore = (gt_sizes < min_size) | (gt_sizes >= max_size)
        num_gt += int((~gt_ignore).sum())
        outside = (det_sizes < min_size) | (det_sizes >= max_size)
        is_tp, is_ignored = _match_frame_coco(gt, gt_ignore, det, outside, iou_threshold)
        all_scores.append(scores)
        all_tp.append(is_tp)
        all_ignored.append(is_ignored)
    scores = np.concatenate([np.empty(0), *all_scores])
    order = np.argsort(-scores, kind="mergesort")
    kept = ~np.concatenate([np.empty(0, bool), *all_ignored])[order]
    is_tp = np.concatenate([np.empty(0, bool), *all_tp])[order][kept]  # (D_kept,)
    return PooledMatches(scores=scores[order][kept], is_tp=is_tp, num_gt=num_gt)


def detection_ap(
    gt_boxes_xyxy: Sequence[np.ndarray],
    det_boxes_xyxy: Sequence[np.ndarray],
    det_scores: Sequence[np.ndarray],
    iou_threshold: float = 0.5,
    min_size: float = 0.0,
    max_detections_per_frame: int = 100,
    max_size: float = math.inf,
) -> float:
    """COCO-style average precision (101-point interpolation) with all frames pooled.

    Args:
        gt_boxes_xyxy: T arrays of (G_t, 4) GT boxes.
        det_boxes_xyxy: T arrays of (D_t, 4) detected boxes.
        det_scores: T arrays of (D_t,) detection confidences.
        iou_threshold: IoU for a true positive (0.5 gives AP50).
        min_size: GT with ``sqrt(w * h) < min_size`` px are ignored: detections matched to them
            count neither as TP nor FP, and unmatched detections smaller than ``min_size`` are
            ignored too (COCO's area-range rule).
        max_detections_per_frame: keep the highest-scoring detections per frame, as COCO's 100.
        max_size: the same rule above: GT and unmatched detections of ``sqrt(w * h) >=
            max_size`` px are ignored (``[min_size, max_size)`` is COCO's area range).

    Returns:
        AP in [0, 1]; NaN when there is no non-ignored GT box (COCO reports -1 there).
    """
    pooled = pooled_matches(
        gt_boxes_xyxy,
        det_boxes_xyxy,
        det_scores,
        iou_threshold,
        min_size,
        max_detections_per_frame,
        max_size,
    )
    if pooled.num_gt == 0:
        return float("nan")
    is_tp = pooled.is_tp
    if is_tp.size == 0:
        return 0.0
    tp = np.cumsum(is_tp)
    fp = np.cumsum(~is_tp)
    recall = tp / pooled.num_gt
    precision = tp / np.maximum(tp + fp, _EPS)
    precision = np.maximum.accumulate(precision[::-1])[::-1]  # monotone envelope
    recall_thresholds = np.linspace(0.0, 1.0, 101)
    index = np.searchsorted(recall, recall_thresholds, side="left")
    sampled = np.where(index < len(precision), precision[np.minimum(index, len(precision) - 1)], 0)
    return float(sampled.mean())
