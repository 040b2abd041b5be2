"""Detection tiles: overlapping square slices of a frame that the detector sees near native
resolution (SAHI, Akyon et al. 2022), and the maps from tile detections back to video pixels
(pure tensor / numpy code, no model).

The whole frame squeezed to the model's ``S x S`` input shrinks a 10-px object of a 1280x720 frame
to 2 px. A tile of side ``tile_side`` video pixels is resized to ``S x S`` instead, so the object
keeps ``S / tile_side`` of its size. Tiles form a grid that covers the whole frame: starts every
``tile_side * (1 - overlap)`` pixels, the last tile of a row / column shifted inward to end at the
frame's edge (so neighbours overlap by at least ``overlap``); along a side shorter than a tile,
one tile starts at 0 and reaches past the frame (those pixels are padding). When the grid would
exceed ``max_tiles``, the tile side grows until it fits (one tile of the longer side always does).

Tiles are windows in the sense of :mod:`sam2_enhanced.modeling.search_window`: cropped with
``crop_windows`` and mapped back with ``to_frame_coords``. Detections of all tiles and of the
whole frame are merged by class-aware non-maximum suppression from ``supervision``.

Shapes: T tiles; ``tiles_xyxy`` (T, 4) float, whole video pixels; N detections per tile.
"""

from __future__ import annotations

import math

import numpy as np
import supervision as sv
import torch
from torch import Tensor

from sam2_enhanced.box_ops import cxcywh_to_xyxy
from sam2_enhanced.modeling.search_window import to_frame_coords

GROWTH = 1.1  # tile side factor per step while the grid exceeds max_tiles
MERGE_METRICS = {"iou": sv.OverlapMetric.IOU, "ios": sv.OverlapMetric.IOS}


def tile_starts(length: int, side: int, overlap: float) -> list[int]:
    """Starts of tiles of ``side`` px covering ``[0, length)`` with at least ``overlap`` overlap.

    ``length <= side`` gives one tile at 0 (reaching past the end: padding).
    """
    if length <= side:
        return [0]
    stride = max(1, math.floor(side * (1.0 - overlap)))
    count = math.ceil((length - side) / stride) + 1
    return [min(i * stride, length - side) for i in range(count)]


def _grid(frame_hw: tuple[int, int], side: int, overlap: float) -> Tensor:
    height, width = frame_hw
    rows, cols = tile_starts(height, side, overlap), tile_starts(width, side, overlap)
    corners = [[x0, y0, x0 + side, y0 + side] for y0 in rows for x0 in cols]
    return torch.tensor(corners, dtype=torch.float32)  # (T, 4)


def tile_grid(
    frame_hw: tuple[int, int], *, tile_side: int, overlap: float, max_tiles: int
) -> Tensor:
    """Square tiles covering a frame, row-major -> (T, 4) xyxy whole video pixels.

    Args:
        frame_hw: (H, W) of the video frame.
        tile_side: tile side in video pixels (grown when the grid exceeds ``max_tiles``).
        overlap: minimum overlap of neighbouring tiles, a fraction of the side in [0, 1).
        max_tiles: most tiles returned (>= 1).
    """
    height, width = frame_hw
    if height < 1 or width < 1:
        raise ValueError(f"frame_hw must be positive (H, W), got {frame_hw}")
    if tile_side < 1 or max_tiles < 1 or not 0.0 <= overlap < 1.0:
        raise ValueError(
            "need tile_side >= 1, max_tiles >= 1 and overlap in [0, 1), got "
            f"tile_side={tile_side}, max_tiles={max_tiles}, overlap={overlap}"
        )
    side = int(tile_side)
    tiles = _grid(frame_hw, side, overlap)
    while tiles.shape[0] > max_tiles:
        side = min(max(side + 1, math.ceil(side * GROWTH)), max(height, width))
        tiles = _grid(frame_hw, side, overlap)
    return tiles


def tile_boxes_to_frame(
    boxes_cxcywh: Tensor, tiles_xyxy: Tensor, frame_hw: tuple[int, int]
) -> Tensor:
    """Detections of each tile -> video pixels, clipped to the frame.

    Args:
        boxes_cxcywh: (T, N, 4) boxes normalized to each tile's model input.
        tiles_xyxy: (T, 4) the tiles in video pixels.
        frame_hw: (H, W) of the frame.

    Returns:
        (T, N, 4) xyxy video pixels; a box wholly in a tile's padding has zero area.
    """
    if boxes_cxcywh.ndim != 3 or boxes_cxcywh.shape[-1] != 4:
        raise ValueError(f"boxes_cxcywh must have shape (T, N, 4), got {tuple(boxes_cxcywh.shape)}")
    if tiles_xyxy.shape != (boxes_cxcywh.shape[0], 4):
        raise ValueError(
            f"need one (4,) tile per row of boxes ({boxes_cxcywh.shape[0]}), "
            f"got tiles of shape {tuple(tiles_xyxy.shape)}"
        )
    num_tiles, num_boxes = boxes_cxcywh.shape[:2]
    corners = cxcywh_to_xyxy(boxes_cxcywh).reshape(num_tiles, 2 * num_boxes, 2)  # (T, 2N, 2)
    frame = to_frame_coords(corners, tiles_xyxy.to(corners), 1)  # (T, 2N, 2) video pixels
    boxes = frame.reshape(num_tiles, num_boxes, 4)  # (T, N, 4)
    height, width = frame_hw
    return boxes.clamp(min=0).minimum(boxes.new_tensor([width, height, width, height]))


def merge_detections(
    boxes_xyxy: np.ndarray,
    scores: np.ndarray,
    labels: np.ndarray,
    *,
    metric: str = "ios",
    threshold: float = 0.6,
) -> np.ndarray:
    """Which of N detections (tiles and whole frame pooled) to keep: class-aware NMS.

    Args:
        boxes_xyxy: (N, 4) video pixels.
        scores: (N,) confidences.
        labels: (N,) class ids; only boxes of one class suppress each other.
        metric: "iou", or "ios" (intersection over the smaller box).
        threshold: a box overlapping a higher-scoring one of its class by more is dropped.

    Returns:
        (N,) bool keep mask.
    """
    if metric not in MERGE_METRICS:
        raise ValueError(f"metric must be one of {sorted(MERGE_METRICS)}, got {metric!r}")
    boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)  # (N, 4)
    num = boxes.shape[0]
    if len(scores) != num or len(labels) != num:
        raise ValueError(
            f"need one score and one label per box ({num}), got {len(scores)} and {len(labels)}"
        )
    if num == 0:
        return np.zeros(0, dtype=bool)
    predictions = np.column_stack([boxes, np.asarray(scores, float), np.asarray(labels, float)])
    return sv.box_non_max_suppression(predictions, threshold, MERGE_METRICS[metric])
