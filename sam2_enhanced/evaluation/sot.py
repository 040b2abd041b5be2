"""Single-object tracking metrics: the OTB / UAV123 / LaSOT / Anti-UAV protocol.

Boxes are ``xyxy`` float pixels, one row per frame, shape (T, 4). A row of NaN means "no box":
in ground truth the target is absent, in a prediction the tracker says the target is absent.

Curves follow OTB and pytracking exactly:

- success: fraction of frames whose IoU is strictly greater than each of the 21 thresholds
  0, 0.05, ..., 1.0; its AUC is the mean of the curve. Because the comparison is strict, a
  perfect tracker (IoU = 1 everywhere) scores 20/21 = 0.952 AUC under this protocol, as it does
  in OTB's toolkit and in pytracking; ``average_overlap`` (mean IoU) is 1.0 for it.
- precision: fraction of frames whose centre error is at most each of 0, 1, ..., 50 px;
  "P@20" is the value at 20 px.
- normalized precision (LaSOT): centre error with each axis divided by the GT width / height,
  at most each of 0, 0.01, ..., 0.5; reported at 0.2 and as the mean over the 51 thresholds.

Frames where the ground truth is absent are excluded from the curves and scored separately:
``absent_accuracy`` is the fraction of those frames where the prediction is also empty, and
``state_accuracy`` is the Anti-UAV state accuracy ``mean_t(IoU_t * d(v_t) + p_t * (1 - d(v_t)))``
over all frames, where ``v_t`` is GT visibility and ``p_t`` = 1 when the prediction is empty.
A present frame with an empty prediction scores IoU 0 and an infinite centre error.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger(__name__)

SUCCESS_THRESHOLDS = np.linspace(0.0, 1.0, 21)  # IoU thresholds, (21,)
PRECISION_THRESHOLDS_PX = np.arange(51, dtype=np.float64)  # centre error in px, (51,)
NORM_PRECISION_THRESHOLDS = np.arange(51, dtype=np.float64) / 100.0  # normalised error, (51,)
_P20_INDEX = 20  # PRECISION_THRESHOLDS_PX[20] == 20 px
_NP02_INDEX = 20  # NORM_PRECISION_THRESHOLDS[20] == 0.2


def validate_boxes_xyxy(boxes_xyxy: np.ndarray, name: str) -> np.ndarray:
    """Check a (T, 4) array of ``xyxy`` boxes whose rows are either all finite or all NaN.

    Returns the boxes as float64. Raises ``ValueError`` on a wrong shape, a partly-NaN row,
    an infinite value, or a box with ``x1 < x0`` or ``y1 < y0`` (negative width or height).
    """
    boxes = np.asarray(boxes_xyxy, dtype=np.float64)
    if boxes.ndim == 1 and boxes.size == 0:
        boxes = boxes.reshape(0, 4)  # (0, 4)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(
            f"{name} must have shape (T, 4) as [x0, y0, x1, y1] per frame, got {boxes.shape}; "
            "stack one box per frame and use a NaN row for 'no box'"
        )
    nan_mask = np.isnan(boxes)
    partial = nan_mask.any(axis=1) & ~nan_mask.all(axis=1)
    if partial.any():
        raise ValueError(
            f"{name} row {int(np.flatnonzero(partial)[0])} is partly NaN; a row must be all "
            "finite (a box) or all NaN (no box)"
        )
    if np.isinf(boxes).any():
        raise ValueError(f"{name} contains infinite coordinates; use a NaN row for 'no box'")
    present = ~nan_mask.any(axis=1)
    widths = boxes[present, 2] - boxes[present, 0]
    heights = boxes[present, 3] - boxes[present, 1]
    if (widths < 0).any() or (heights < 0).any():
        raise ValueError(
            f"{name} has a box with negative width or height; boxes must be [x0, y0, x1, y1] "
            "with x1 >= x0 and y1 >= y0 (convert xywh with x1 = x0 + w)"
        )
    return boxes


def paired_box_iou(boxes_a_xyxy: np.ndarray, boxes_b_xyxy: np.ndarray) -> np.ndarray:
    """IoU of row ``t`` of ``boxes_a`` with row ``t`` of ``boxes_b``; both (T, 4) finite.

    Returns (T,) float64; a pair whose union is empty scores 0.
    """
    inter_w = np.minimum(boxes_a_xyxy[:, 2], boxes_b_xyxy[:, 2]) - np.maximum(
        boxes_a_xyxy[:, 0], boxes_b_xyxy[:, 0]
    )
    inter_h = np.minimum(boxes_a_xyxy[:, 3], boxes_b_xyxy[:, 3]) - np.maximum(
        boxes_a_xyxy[:, 1], boxes_b_xyxy[:, 1]
    )
    inter = np.clip(inter_w, 0, None) * np.clip(inter_h, 0, None)
    area_a = (boxes_a_xyxy[:, 2] - boxes_a_xyxy[:, 0]) * (boxes_a_xyxy[:, 3] - boxes_a_xyxy[:, 1])
    area_b = (boxes_b_xyxy[:, 2] - boxes_b_xyxy[:, 0]) * (boxes_b_xyxy[:, 3] - boxes_b_xyxy[:, 1])
    union = area_a + area_b - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


@dataclass
class SotCurves:
    """Success / precision / normalized-precision curves and their summary numbers."""

    success: np.ndarray  # (21,) fraction of frames with IoU > SUCCESS_THRESHOLDS
    precision: np.ndarray  # (51,) fraction with centre error <= PRECISION_THRESHOLDS_PX
    norm_precision: np.ndarray  # (51,) fraction with normalised error <= NORM_PRECISION_THRESHOLDS
    auc: float  # mean of the success curve (OTB "AUC" / "success score")
    precision_at_20: float  # precision at 20 px
    norm_precision_at_02: float  # normalized precision at 0.2 (LaSOT "P_norm")
    norm_precision_auc: float  # mean of the normalized-precision curve over 0..0.5

    @classmethod
    def from_curves(
        cls, success: np.ndarray, precision: np.ndarray, norm_precision: np.ndarray
    ) -> SotCurves:
        """Build the summary numbers from the three curves (NaN curves give NaN numbers)."""
        return cls(
            success=success,
            precision=precision,
            norm_precision=norm_precision,
            auc=float(success.mean()),
            precision_at_20=float(precision[_P20_INDEX]),
            norm_precision_at_02=float(norm_precision[_NP02_INDEX]),
            norm_precision_auc=float(norm_precision.mean()),
        )

    @classmethod
    def from_errors(
        cls, ious: np.ndarray, center_errors_px: np.ndarray, norm_center_errors: np.ndarray
    ) -> SotCurves:
        """Curves over the given present frames: (P,) IoU, (P,) px error, (P,) normalised error.

        With no frame (P = 0) every curve and number is NaN.
        """
        if ious.size == 0:
            return cls.from_curves(
                np.full(SUCCESS_THRESHOLDS.shape, np.nan),
                np.full(PRECISION_THRESHOLDS_PX.shape, np.nan),
                np.full(NORM_PRECISION_THRESHOLDS.shape, np.nan),
            )
        success = (ious[:, None] > SUCCESS_THRESHOLDS[None, :]).mean(axis=0)  # (21,)
        precision = (center_errors_px[:, None] <= PRECISION_THRESHOLDS_PX[None, :]).mean(axis=0)
        norm_precision = (norm_center_errors[:, None] <= NORM_PRECISION_THRESHOLDS[None, :]).mean(
            axis=0
        )  # (51,)
        return cls.from_curves(success, precision, norm_precision)


@dataclass
class SotResult:
    """Per-frame errors and protocol numbers for one sequence of T frames."""

    ious: np.ndarray  # (T,) IoU on GT-present frames (0 for an empty prediction), NaN elsewhere
    center_errors_px: np.ndarray  # (T,) centre distance in px; inf for an empty prediction
    norm_center_errors: np.ndarray  # (T,) centre distance with axes divided by GT w / h
    gt_present: np.ndarray  # (T,) bool, target visible in the ground truth
    pred_present: np.ndarray  # (T,) bool, tracker returned a box
    curves: SotCurves  # over the GT-present frames only
    average_overlap: float  # mean IoU over GT-present frames (GOT-10k "AO")
    absent_accuracy: float  # fraction of GT-absent frames with an empty prediction; NaN if none
    state_accuracy: float  # Anti-UAV state accuracy over all T frames; NaN if T == 0
    num_frames: int  # T
    num_present_frames: int  # frames where the target is visible in the ground truth


@dataclass
class SotSummary:
    """SOT numbers over several sequences.

    ``curves`` is the headline, as in OTB and pytracking: each sequence's curve is computed on its
    own frames and the curves are averaged with equal weight per sequence, so ``curves.auc`` is
    also the mean of the per-sequence AUCs. ``pooled_curves`` pools the present frames of all
    sequences first (long sequences weigh more); it is reported for reference.
    """

    curves: SotCurves  # mean of per-sequence curves (headline)
    pooled_curves: SotCurves  # curves over all present frames pooled
    average_overlap: float  # mean of per-sequence average overlap
    absent_accuracy: float  # over all GT-absent frames pooled; NaN if none
    state_accuracy: float  # mean of per-sequence Anti-UAV state accuracy
    num_sequences: int  # sequences with at least one GT-present frame (those in ``curves``)
    num_frames: int  # all frames of all sequences


def _resolve_gt_present(gt_boxes: np.ndarray, gt_present: np.ndarray | None) -> np.ndarray:
    """(T,) bool visibility from NaN rows and an optional flag array."""
    finite = ~np.isnan(gt_boxes).any(axis=1)
    if gt_present is None:
        return finite
    flags = np.asarray(gt_present)
    if flags.shape != finite.shape:
        raise ValueError(
            f"gt_present must have shape ({finite.shape[0]},) like gt_boxes_xyxy, got {flags.shape}"
        )
    flags = flags.astype(bool)
    if (flags & ~finite).any():
        raise ValueError(
            f"gt_present is True on frame {int(np.flatnonzero(flags & ~finite)[0])} whose GT box "
            "is NaN; give a box for every present frame or set gt_present False there"
        )
    return flags


def evaluate_sot_sequence(
    pred_boxes_xyxy: np.ndarray,
    gt_boxes_xyxy: np.ndarray,
    gt_present: np.ndarray | None = None,
) -> SotResult:
    """Score one sequence.

    Args:
        pred_boxes_xyxy: (T, 4) predicted boxes, NaN rows where the tracker reports no target.
        gt_boxes_xyxy: (T, 4) ground-truth boxes, NaN rows where the target is absent.
        gt_present: optional (T,) bool visibility flags (LaSOT / Anti-UAV ``exist``); frames
            flagged False are absent whatever their box says.

    Returns:
        A :class:`SotResult`. With T = 0 or no present frame the curve numbers are NaN.
    """
    pred = validate_boxes_xyxy(pred_boxes_xyxy, "pred_boxes_xyxy")
    gt = validate_boxes_xyxy(gt_boxes_xyxy, "gt_boxes_xyxy")
    if pred.shape != gt.shape:
        raise ValueError(
            f"pred_boxes_xyxy and gt_boxes_xyxy must have the same number of frames, got "
            f"{pred.shape[0]} and {gt.shape[0]}; pad missing predictions with NaN rows"
        )
    visible = _resolve_gt_present(gt, gt_present)
    gt_wh = gt[:, 2:] - gt[:, :2]  # (T, 2)
    if (gt_wh[visible] <= 0).any():
        raise ValueError(
            "gt_boxes_xyxy has a present frame with zero width or height; mark absent frames "
            "with a NaN row or gt_present=False"
        )
    has_pred = ~np.isnan(pred).any(axis=1)
    both = visible & has_pred
    num_frames = gt.shape[0]

    ious = np.full(num_frames, np.nan)
    ious[visible] = 0.0
    ious[both] = paired_box_iou(pred[both], gt[both])
    center_offset = (pred[:, :2] + pred[:, 2:]) / 2 - (gt[:, :2] + gt[:, 2:]) / 2  # (T, 2)
    center_errors = np.full(num_frames, np.nan)
    norm_errors = np.full(num_frames, np.nan)
    center_errors[visible] = np.inf
    norm_errors[visible] = np.inf
    center_errors[both] = np.linalg.norm(center_offset[both], axis=1)
    norm_errors[both] = np.linalg.norm(center_offset[both] / gt_wh[both], axis=1)

    curves = SotCurves.from_errors(ious[visible], center_errors[visible], norm_errors[visible])
    absent = ~visible
    per_frame_state = np.where(visible, ious, (~has_pred).astype(np.float64))  # (T,)
    return SotResult(
        ious=ious,
        center_errors_px=center_errors,
        norm_center_errors=norm_errors,
        gt_present=visible,
        pred_present=has_pred,
        curves=curves,
        average_overlap=float(ious[visible].mean()) if visible.any() else float("nan"),
        absent_accuracy=float((~has_pred[absent]).mean()) if absent.any() else float("nan"),
        state_accuracy=float(per_frame_state.mean()) if num_frames else float("nan"),
        num_frames=num_frames,
        num_present_frames=int(visible.sum()),
    )


def failed_sot_result(gt_boxes_xyxy: np.ndarray, gt_present: np.ndarray | None = None) -> SotResult:
    """The score of a tracker that failed on a sequence: every frame wrong.

    Present frames get IoU 0 and an infinite centre error, absent frames count as a false box,
    so every curve and number is 0 (NaN where the sequence has no frame of that kind), and the
    sequence still weighs in the averages like the other methods' runs.
    """
    gt = validate_boxes_xyxy(gt_boxes_xyxy, "gt_boxes_xyxy")
    visible = _resolve_gt_present(gt, gt_present)
    num_frames, num_present = gt.shape[0], int(visible.sum())
    ious = np.where(visible, 0.0, np.nan)  # (T,)
    errors = np.where(visible, np.inf, np.nan)  # (T,)
    return SotResult(
        ious=ious,
        center_errors_px=errors,
        norm_center_errors=errors.copy(),
        gt_present=visible,
        pred_present=np.ones(num_frames, bool),
        curves=SotCurves.from_errors(ious[visible], errors[visible], errors[visible]),
        average_overlap=0.0 if num_present else float("nan"),
        absent_accuracy=0.0 if num_present < num_frames else float("nan"),
        state_accuracy=0.0 if num_frames else float("nan"),
        num_frames=num_frames,
        num_present_frames=num_present,
    )


def summarize_sot(results: Sequence[SotResult]) -> SotSummary:
    """Average per-sequence results; see :class:`SotSummary` for which number is the headline.

    Sequences without a GT-present frame are left out of the curves (pytracking refuses them)
    but still count for ``absent_accuracy`` and ``state_accuracy``.
    """
    if len(results) == 0:
        raise ValueError("summarize_sot needs at least one SotResult, got an empty sequence")
    with_target = [r for r in results if r.num_present_frames > 0]
    if len(with_target) < len(results):
        logger.info(
            "%d of %d sequences have no GT-present frame; left out of the curves",
            len(results) - len(with_target),
            len(results),
        )
    if with_target:
        curves = SotCurves.from_curves(
            np.mean([r.curves.success for r in with_target], axis=0),
            np.mean([r.curves.precision for r in with_target], axis=0),
            np.mean([r.curves.norm_precision for r in with_target], axis=0),
        )
        average_overlap = float(np.mean([r.average_overlap for r in with_target]))
    else:
        curves = SotCurves.from_errors(np.empty(0), np.empty(0), np.empty(0))
        average_overlap = float("nan")
    pooled = SotCurves.from_errors(
        np.concatenate([r.ious[r.gt_present] for r in results]),
        np.concatenate([r.center_errors_px[r.gt_present] for r in results]),
        np.concatenate([r.norm_center_errors[r.gt_present] for r in results]),
    )
    absent_hits = np.concatenate([~r.pred_present[~r.gt_present] for r in results])
    state = [r.state_accuracy for r in results if r.num_frames > 0]
    return SotSummary(
        curves=curves,
        pooled_curves=pooled,
        average_overlap=average_overlap,
        absent_accuracy=float(absent_hits.mean()) if absent_hits.size else float("nan"),
        state_accuracy=float(np.mean(state)) if state else float("nan"),
        num_sequences=len(with_target),
        num_frames=sum(r.num_frames for r in results),
    )
