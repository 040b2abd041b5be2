"""DAVIS video object segmentation metrics: region J, boundary F and J&F.

Follows the DAVIS 2017 evaluation code (``davis2017/metrics.py`` and ``utils.db_statistics``):

- J is the mask IoU per object and frame, pixels marked void excluded, 1 when both masks are
  empty.
- F is the boundary F-measure: boundaries are one pixel wide (``seg2bmap``), a boundary pixel
  matches when it lies within ``bound_pix = ceil(bound_th * image diagonal)`` pixels of the other
  boundary (dilation with a disk of that radius), ``bound_th = 0.008`` by default.
- The first and last frames are excluded, as DAVIS does for the semi-supervised task.
  ``first_scored`` also leaves out, per object, the frames up to and including its prompt
  frame (objects that enter after frame 0); an object with no frame left is not scored.
- Per object: mean, recall (fraction of frames above 0.5) and decay (mean of the first quarter
  minus mean of the last quarter of the frames); over objects: the mean of each, and
  ``J&F = (mean J + mean F) / 2``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np


def seg2bmap(mask: np.ndarray) -> np.ndarray:
    """(H, W) binary mask -> (H, W) bool one-pixel-wide boundary map (DAVIS ``_seg2bmap``).

    A pixel is on the boundary when it differs from its right, lower or lower-right neighbour;
    the boundary sits half a pixel towards the origin from the true segment edge.
    """
    seg = mask.astype(bool)
    east = np.zeros_like(seg)
    south = np.zeros_like(seg)
    south_east = np.zeros_like(seg)
    east[:, :-1] = seg[:, 1:]
    south[:-1, :] = seg[1:, :]
    south_east[:-1, :-1] = seg[1:, 1:]
    boundary = (seg ^ east) | (seg ^ south) | (seg ^ south_east)
    boundary[-1, :] = seg[-1, :] ^ east[-1, :]
    boundary[:, -1] = seg[:, -1] ^ south[:, -1]
    boundary[-1, -1] = False
    return boundary


def _disk(radius: float) -> np.ndarray:
    """(2r+1, 2r+1) uint8 disk, as ``skimage.morphology.disk``: x^2 + y^2 <= r^2."""
    offsets = np.arange(-radius, radius + 1)
    xx, yy = np.meshgrid(offsets, offsets)
    return (xx**2 + yy**2 <= radius**2).astype(np.uint8)


def boundary_f_measure(
    gt_mask: np.ndarray,
    pred_mask: np.ndarray,
    void_mask: np.ndarray | None = None,
    bound_th: float = 0.008,
) -> float:
    """DAVIS boundary F-measure of one (H, W) predicted mask against one (H, W) GT mask.

    ``bound_th`` < 1 is a fraction of the image diagonal, >= 1 a tolerance in pixels.
    Both boundaries empty gives 1; one empty gives 0.
    """
    keep = np.ones(gt_mask.shape, bool) if void_mask is None else ~void_mask.astype(bool)
    bound_pix = bound_th if bound_th >= 1 else math.ceil(bound_th * np.linalg.norm(gt_mask.shape))
    pred_boundary = seg2bmap(pred_mask.astype(bool) & keep)
    gt_boundary = seg2bmap(gt_mask.astype(bool) & keep)
    disk = _disk(bound_pix)
    pred_dilated = cv2.dilate(pred_boundary.astype(np.uint8), disk).astype(bool)
    gt_dilated = cv2.dilate(gt_boundary.astype(np.uint8), disk).astype(bool)
    num_pred, num_gt = int(pred_boundary.sum()), int(gt_boundary.sum())
    if num_pred == 0 and num_gt == 0:
        return 1.0
    if num_pred == 0 or num_gt == 0:
        return 0.0
    precision = (pred_boundary & gt_dilated).sum() / num_pred
    recall = (gt_boundary & pred_dilated).sum() / num_gt
    if precision + recall == 0:
        return 0.0
    return float(2 * precision * recall / (precision + recall))


def region_similarity(
    gt_masks: np.ndarray, pred_masks: np.ndarray, void_masks: np.ndarray | None = None
) -> np.ndarray:
    """Mask IoU (J) over the last two axes: (..., H, W) twice -> (...,); 1 when both are empty."""
    gt = gt_masks.astype(bool)
    pred = pred_masks.astype(bool)
    keep = np.ones(gt.shape[-2:], bool) if void_masks is None else ~void_masks.astype(bool)
    inter = ((gt & pred) & keep).sum(axis=(-2, -1))
    union = ((gt | pred) & keep).sum(axis=(-2, -1))
    return np.where(union == 0, 1.0, inter / np.maximum(union, 1))


@dataclass
class DavisObjectStats:
    """Per-object DAVIS statistics for the O' objects with at least one scored frame."""

    j_mean: np.ndarray  # (O',) mean J over the object's scored frames
    j_recall: np.ndarray  # (O',) fraction of frames with J > 0.5
    j_decay: np.ndarray  # (O',) mean J of the first quarter minus the last quarter
    f_mean: np.ndarray  # (O',)
    f_recall: np.ndarray  # (O',)
    f_decay: np.ndarray  # (O',)


@dataclass
class DavisSummary:
    """DAVIS numbers averaged over all objects (of one or several sequences)."""

    j_and_f: float  # (j_mean + f_mean) / 2
    j_mean: float
    j_recall: float
    j_decay: float
    f_mean: float
    f_recall: float
    f_decay: float
    num_objects: int


@dataclass
class DavisResult:
    """DAVIS evaluation of one sequence with O objects over T' evaluated frames."""

    j: np.ndarray  # (O, T') per-frame region similarity, NaN on frames not scored
    f: np.ndarray  # (O, T') per-frame boundary F-measure, NaN on frames not scored
    per_object: DavisObjectStats
    summary: DavisSummary


def _statistics(per_frame: np.ndarray) -> tuple[float, float, float]:
    """DAVIS ``db_statistics`` on (T',) values: mean, recall (> 0.5) and decay over 4 bins."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=RuntimeWarning)
        mean = float(np.nanmean(per_frame))
        recall = float(np.nanmean(per_frame > 0.5))
        bin_edges = (np.round(np.linspace(1, len(per_frame), 5) + 1e-10) - 1).astype(int)
        bins = [per_frame[bin_edges[i] : bin_edges[i + 1] + 1] for i in range(4)]
        decay = float(np.nanmean(bins[0]) - np.nanmean(bins[3]))
    return mean, recall, decay


def _summary_from_stats(stats: DavisObjectStats) -> DavisSummary:
    j_mean, f_mean = float(stats.j_mean.mean()), float(stats.f_mean.mean())
    return DavisSummary(
        j_and_f=(j_mean + f_mean) / 2,
        j_mean=j_mean,
        j_recall=float(stats.j_recall.mean()),
        j_decay=float(stats.j_decay.mean()),
        f_mean=f_mean,
        f_recall=float(stats.f_recall.mean()),
        f_decay=float(stats.f_decay.mean()),
        num_objects=int(stats.j_mean.shape[0]),
    )


def _validate_masks(
    gt_masks: np.ndarray, pred_masks: np.ndarray, void_masks: np.ndarray | None
) -> None:
    if gt_masks.ndim != 4:
        raise ValueError(
            f"gt_masks must have shape (O, T, H, W) (objects, frames, height, width), got "
            f"{gt_masks.shape}; add an object axis with masks[None] for one object"
        )
    if pred_masks.shape != gt_masks.shape:
        raise ValueError(
            f"pred_masks must have the shape of gt_masks {gt_masks.shape}, got "
            f"{pred_masks.shape}; give an all-False mask for frames or objects not predicted"
        )
    if gt_masks.shape[0] == 0:
        raise ValueError("gt_masks has no object (O = 0); DAVIS needs at least one object")
    if void_masks is not None and void_masks.shape != gt_masks.shape[1:]:
        raise ValueError(
            f"void_masks must have shape (T, H, W) = {gt_masks.shape[1:]}, got {void_masks.shape}"
        )


def evaluate_davis(
    gt_masks: np.ndarray,
    pred_masks: np.ndarray,
    void_masks: np.ndarray | None = None,
    exclude_first_last: bool = True,
    bound_th: float = 0.008,
    first_scored: np.ndarray | None = None,
) -> DavisResult:
    """J, F and J&F of one sequence.

    Args:
        gt_masks: (O, T, H, W) binary GT masks, one channel per object.
        pred_masks: (O, T, H, W) binary predicted masks, same object order.
        void_masks: optional (T, H, W) pixels to ignore (DAVIS label 255).
        exclude_first_last: drop frame 0 (the prompt) and frame T-1, as DAVIS does.
        bound_th: boundary tolerance, fraction of the image diagonal (or px if >= 1).
        first_scored: optional (O,) int, per object the first frame (index into T) to score;
            earlier frames are left out (e.g. ``prompt frame + 1``, or T for an object never
            prompted). Default: every object from frame 0 (then DAVIS drops it).

    Returns:
        A :class:`DavisResult`; objects with no scored frame are left out of its statistics.
    """
    gt_masks, pred_masks = np.asarray(gt_masks), np.asarray(pred_masks)
    void_masks = None if void_masks is None else np.asarray(void_masks)
    _validate_masks(gt_masks, pred_masks, void_masks)
    frames = slice(1, -1) if exclude_first_last else slice(None)
    gt, pred = gt_masks[:, frames], pred_masks[:, frames]  # (O, T', H, W)
    void = None if void_masks is None else void_masks[frames]  # (T', H, W)
    num_objects, num_frames = gt.shape[:2]
    if num_frames == 0:
        raise ValueError(
            f"no frame left to evaluate from T = {gt_masks.shape[1]}; DAVIS excludes the first "
            "and last frames, so give at least 3 frames or pass exclude_first_last=False"
        )
    frame_index = np.arange(gt_masks.shape[1])[frames]  # (T',) index into T
    first = np.zeros(num_objects, np.int64) if first_scored is None else np.asarray(first_scored)
    if first.shape != (num_objects,):
        raise ValueError(f"first_scored must have shape ({num_objects},), got {first.shape}")
    scored = frame_index[None, :] >= first[:, None]  # (O, T')
    objects = np.flatnonzero(scored.any(axis=1))  # scored objects, (O',)
    if objects.size == 0:
        raise ValueError("no (object, frame) pair left to score; every object starts too late")
    j = region_similarity(gt, pred, None if void is None else void[None])  # (O, T')
    j[~scored] = np.nan
    f = np.full((num_objects, num_frames), np.nan)
    for o, t in zip(*np.nonzero(scored), strict=True):
        void_t = None if void is None else void[t]
        f[o, t] = boundary_f_measure(gt[o, t], pred[o, t], void_t, bound_th)
    j_stats = np.array([_statistics(j[o, scored[o]]) for o in objects])  # (O', 3)
    f_stats = np.array([_statistics(f[o, scored[o]]) for o in objects])  # (O', 3)
    stats = DavisObjectStats(*j_stats.T, *f_stats.T)
    return DavisResult(j=j, f=f, per_object=stats, summary=_summary_from_stats(stats))


def failed_davis_result(result: DavisResult) -> DavisResult:
    """``result`` with every score set to 0, NaN (unscored) frames kept: what a method that
    failed on the sequence gets, so that it is averaged over the same objects as the others."""
    zeros = DavisObjectStats(*(np.zeros_like(v) for v in vars(result.per_object).values()))
    return DavisResult(
        j=np.where(np.isnan(result.j), np.nan, 0.0),
        f=np.where(np.isnan(result.f), np.nan, 0.0),
        per_object=zeros,
        summary=_summary_from_stats(zeros),
    )


def combine_davis_results(results: Sequence[DavisResult]) -> DavisSummary:
    """Average over all objects of all sequences, as the DAVIS benchmark does."""
    if len(results) == 0:
        raise ValueError("combine_davis_results needs at least one DavisResult, got none")
    fields = ("j_mean", "j_recall", "j_decay", "f_mean", "f_recall", "f_decay")
    stats = DavisObjectStats(
        *(np.concatenate([getattr(r.per_object, name) for r in results]) for name in fields)
    )
    return _summary_from_stats(stats)
