"""Validation and conversion of user prompts (points, labels, boxes, masks, ids, frame indices).

Everything the predictor accepts from a user passes through here first, so a rejected call raises
before any state changes. Coordinates come in video pixels (or [0, 1] with
``normalize_coords=False``, as SAM 2) and leave in model-input pixels.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np
import torch
from torch import Tensor


def check_obj_id(obj_id: Any) -> int:
    """An int object id (numpy/torch integer scalars accepted, bool rejected)."""
    if isinstance(obj_id, bool) or not hasattr(obj_id, "__index__"):
        raise TypeError(f"obj_id must be an int, got {type(obj_id).__name__} {obj_id!r}")
    return operator.index(obj_id)


def check_frame_idx(frame_idx: Any, num_frames: int | None) -> int:
    """A frame index inside the video (any non-negative index for live streams)."""
    if isinstance(frame_idx, bool) or not hasattr(frame_idx, "__index__"):
        raise TypeError(f"frame_idx must be an int, got {type(frame_idx).__name__} {frame_idx!r}")
    frame_idx = operator.index(frame_idx)
    if frame_idx < 0 or (num_frames is not None and frame_idx >= num_frames):
        valid = f"0..{num_frames - 1}" if num_frames is not None else ">= 0"
        raise ValueError(f"frame_idx {frame_idx} is out of range; valid frame indices: {valid}")
    return frame_idx


def as_float_array(value: Any, name: str) -> np.ndarray:
    """numpy float32 copy of a list / array / tensor, with a clear error for anything else."""
    if isinstance(value, Tensor):
        value = value.detach().cpu().numpy()
    try:
        array = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be numbers (list, numpy array or tensor): {err}") from None
    if not np.isfinite(array).all():
        raise ValueError(f"{name} must be finite numbers, got {value!r}")
    return array


def check_points(points: Any, labels: Any) -> tuple[np.ndarray, np.ndarray]:
    """Points (P, 2) float and labels (P,) int32 in {0, 1}; both or neither."""
    if points is None and labels is None:
        return np.zeros((0, 2), np.float32), np.zeros(0, np.int32)
    if points is None or labels is None:
        raise ValueError(
            "points and labels must be given together (labels: 1 positive, 0 negative)"
        )
    coords = as_float_array(points, "points")
    if coords.ndim == 1 and coords.shape == (2,):
        coords = coords[None]
    if coords.ndim != 2 or coords.shape[1] != 2:
        raise ValueError(f"points must be (P, 2) [x, y] pairs, got shape {coords.shape}")
    label_array = as_float_array(labels, "labels").reshape(-1)
    if label_array.shape[0] != coords.shape[0]:
        raise ValueError(
            f"got {coords.shape[0]} points but {label_array.shape[0]} labels; give one label "
            "per point"
        )
    if not np.isin(label_array, (0, 1)).all():
        raise ValueError(
            f"labels must be 1 (positive) or 0 (negative), got {sorted(set(label_array.tolist()))}"
        )
    return coords, label_array.astype(np.int32)


def check_box(box: Any) -> np.ndarray:
    """A box [x0, y0, x1, y1] with x1 > x0 and y1 > y0 -> (2, 2) corner points."""
    array = as_float_array(box, "box").reshape(-1)
    if array.shape[0] != 4:
        raise ValueError(f"box must have 4 values [x0, y0, x1, y1], got {array.shape[0]}")
    x0, y0, x1, y1 = array.tolist()
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"box must have x1 > x0 and y1 > y0, got [{x0}, {y0}, {x1}, {y1}]")
    return array.reshape(2, 2)


def check_mask(mask: Any, video_hw: tuple[int, int]) -> Tensor:
    """A (H, W) mask at video resolution (bool or numbers, > 0.5 is inside) -> (H, W) bool."""
    if isinstance(mask, Tensor):
        mask = mask.detach().cpu().numpy()
    array = np.asarray(mask)
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2:
        raise ValueError(f"mask must be 2-D (H, W), got shape {array.shape}")
    if array.shape != tuple(video_hw):
        raise ValueError(
            f"mask must have the video's size {video_hw[0]}x{video_hw[1]} (HxW), got "
            f"{array.shape[0]}x{array.shape[1]}"
        )
    if array.dtype != np.bool_ and not np.issubdtype(array.dtype, np.number):
        raise TypeError(f"mask must be boolean or numeric, got dtype {array.dtype}")
    return torch.from_numpy(array.astype(np.float32) > 0.5)
