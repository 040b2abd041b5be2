"""Validation and conversion of user prompts (points, labels, boxes, masks, ids, frame indices).

Everything the predictor accepts from a user passes through here first, so a rejected call raises
before any state changes. Coordinates come in video pixels (or [0, 1] with
``normalize_coords=False``, as SAM 2) and leave in model-input pixels.
"""

from __future__ import annotations

import operator
import warnings
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


def to_video_pixels(
    corners: np.ndarray, normalize_coords: bool, video_hw: tuple[int, int], what: str
) -> np.ndarray:
    """(P, 2) clicks or box corners -> video pixels, refusing or warning where the values cannot
    be in the unit ``normalize_coords`` says.

    ``normalize_coords=True`` (SAM 2's default): pixels. All values within [0, 1] on a frame of
    more than 16 px look like fractions of the frame: a ``UserWarning`` (they would prompt a
    corner pixel). ``normalize_coords=False``: fractions of the frame, so a value beyond
    [-1, 2] cannot be one: ``ValueError`` (pixels passed with the wrong flag).
    """
    height, width = video_hw
    if not normalize_coords:
        if np.abs(corners - 0.5).max(initial=0.0) > 1.5:
            raise ValueError(
                f"{what} with normalize_coords=False must be fractions of the frame in [0, 1], "
                f"got values up to {np.abs(corners).max():g}; for video pixels use "
                "normalize_coords=True (the default)"
            )
        return corners * np.array([width, height], np.float32)
    if len(corners) and min(height, width) > 16 and corners.min() >= 0 and corners.max() <= 1:
        warnings.warn(
            f"{what} {[round(v, 4) for v in corners.reshape(-1).tolist()]} all lie in [0, 1] but "
            f"are read as video pixels of a {width}x{height} frame (one corner pixel); if they "
            "are fractions of the frame pass normalize_coords=False",
            UserWarning,
            stacklevel=4,  # the caller of the (inference_mode-wrapped) prompt call
        )
    return corners


def fit_box_to_frame(corners: np.ndarray, video_hw: tuple[int, int]) -> np.ndarray:
    """(2, 2) box corners in video pixels -> clipped to the frame (``UserWarning`` when that
    changes them); ``ValueError`` when the box lies wholly outside the frame."""
    height, width = video_hw
    (x0, y0), (x1, y1) = corners.tolist()
    if x0 >= width or y0 >= height or x1 <= 0 or y1 <= 0:
        raise ValueError(
            f"box [{x0:g}, {y0:g}, {x1:g}, {y1:g}] lies wholly outside the {width}x{height} "
            f"frame (x in [0, {width}], y in [0, {height}]); give the box in pixels of this video"
        )
    clipped = np.clip(corners, 0, np.array([width, height], np.float32))
    if not np.array_equal(clipped, corners):
        warnings.warn(
            f"box [{x0:g}, {y0:g}, {x1:g}, {y1:g}] reaches outside the {width}x{height} frame; "
            f"clipped to {[round(v, 2) for v in clipped.reshape(-1).tolist()]}",
            UserWarning,
            stacklevel=4,  # the caller of the (inference_mode-wrapped) prompt call
        )
    return clipped


def check_points_in_frame(coords: np.ndarray, video_hw: tuple[int, int]) -> None:
    """``ValueError`` for clicks (P, 2) in video pixels outside the frame."""
    height, width = video_hw
    outside = (coords < 0).any(axis=1) | (coords[:, 0] > width) | (coords[:, 1] > height)
    if outside.any():
        raise ValueError(
            f"points {coords[outside].tolist()} lie outside the {width}x{height} frame (x in "
            f"[0, {width}], y in [0, {height}]); give clicks in pixels of this video"
        )


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


def warn_if_no_prompt_behind(prompted: list[int], start_frame_idx: int, reverse: bool) -> None:
    """``UserWarning`` when prompts exist but none lies at or behind ``start_frame_idx`` in the
    tracking direction: no object is tracked until the first prompted frame is reached."""
    behind = [t for t in prompted if (t >= start_frame_idx if reverse else t <= start_frame_idx)]
    if prompted and not behind:
        side, first = ("after", max(prompted)) if reverse else ("before", min(prompted))
        warnings.warn(
            f"no prompt at or {side} start_frame_idx {start_frame_idx} "
            f"({'reverse' if reverse else 'forward'}): objects are tracked only from their "
            f"first prompt in the tracking direction, so the frames tracked before frame {first} "
            "get no masks (SAM 2 would track them from the prompts' memory); start at a prompted "
            f"frame or prompt a frame {side} {start_frame_idx}",
            UserWarning,
            stacklevel=5,  # the caller iterating propagate_in_video (inference_mode wraps it)
        )
