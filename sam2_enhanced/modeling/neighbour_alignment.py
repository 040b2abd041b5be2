"""Camera-motion compensation for the motion branch: the neighbour, shifted onto the frame.

When the camera pans or shakes, the whole picture moves between two frames and their
difference lights up every edge of the background, not only what moves through the scene. So a
motion branch trained on steady views fires everywhere on a drone's panning camera. Aligning the
neighbour first leaves in the difference what moved relative to the background.

The global shift from the neighbour to the frame is estimated at the model input by
:func:`~sam2_enhanced.modeling.motion_class.camera_shift` (median Lucas-Kanade flow of
background corners; phase correlation on flat frames): the small objects are few corners among
many, and the median ignores them. The neighbour is translated by it (bilinear, sub-pixel), and
where the translated neighbour has no pixels (the strip that entered the view) the frame's own
pixels are used, so the difference there is zero. Translation only: zoom and rotation remain in
the difference. A shift is not trusted, and the neighbour is left as it is, when it is not
finite, larger than ``max_shift_fraction`` of the side, or when the shifted neighbour differs
from the frame more than the unshifted one (a large textured object or occluder moving over a
still background can outvote the background's corners).

Shapes: B frames, S the model input side (any H, W work).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from sam2_enhanced.modeling.motion_class import camera_shift

MAX_SHIFT_FRACTION = 0.25  # shifts beyond this fraction of the frame side are not trusted
_GREY_WEIGHTS = (0.299, 0.587, 0.114)  # ITU-R BT.601 luma


def _grey_255(images: Tensor) -> np.ndarray:
    """(B, 3, H, W) RGB in [0, 1] -> (B, H, W) float32 grey 0..255 on the CPU."""
    weights = images.new_tensor(_GREY_WEIGHTS).view(1, 3, 1, 1)
    grey = (images.float() * weights).sum(dim=1) * 255.0  # (B, H, W)
    return grey.clamp(0.0, 255.0).cpu().numpy()


def estimate_shifts(
    images: Tensor, neighbours: Tensor, max_shift_fraction: float = MAX_SHIFT_FRACTION
) -> Tensor:
    """(B, 3, H, W) frames and their neighbours (RGB in [0, 1]) -> (B, 2) ``(dx, dy)`` pixels:
    a background point at ``p`` in the neighbour is at ``p + (dx, dy)`` in the frame (zero for an
    untrusted estimate and for a frame that is its own neighbour)."""
    if images.ndim != 4 or images.shape[1] != 3 or neighbours.shape != images.shape:
        raise ValueError(
            "images and neighbours must both be (B, 3, H, W), got "
            f"{tuple(images.shape)} and {tuple(neighbours.shape)}"
        )
    if not 0.0 < max_shift_fraction <= 1.0:
        raise ValueError(f"max_shift_fraction must be in (0, 1], got {max_shift_fraction}")
    limit = max_shift_fraction * min(images.shape[-2:])
    frames, previous = _grey_255(images), _grey_255(neighbours)
    shifts = np.zeros((len(frames), 2), dtype=np.float64)
    for i, (frame, neighbour) in enumerate(zip(frames, previous, strict=True)):
        if np.array_equal(frame, neighbour):
            continue
        shift = camera_shift(neighbour, frame)
        if np.isfinite(shift).all() and math.hypot(*shift) <= limit:
            shifts[i] = shift
    return torch.from_numpy(shifts).to(device=images.device, dtype=images.dtype)


def shift_onto(neighbours: Tensor, shifts_xy: Tensor, fill: Tensor) -> Tensor:
    """Translate each neighbour by its shift; pixels with no source take ``fill``'s.

    Args:
        neighbours: (B, C, H, W) images to move.
        shifts_xy: (B, 2) ``(dx, dy)`` pixels: output ``(x, y)`` reads ``(x - dx, y - dy)``.
        fill: (B, C, H, W) values where the moved image has no pixels (blended at the edge).

    Returns:
        (B, C, H, W) the moved images.
    """
    batch, _, height, width = neighbours.shape
    ys = (torch.arange(height, device=neighbours.device, dtype=neighbours.dtype) + 0.5) / height
    xs = (torch.arange(width, device=neighbours.device, dtype=neighbours.dtype) + 0.5) / width
    grid_y, grid_x = torch.meshgrid(ys * 2 - 1, xs * 2 - 1, indexing="ij")  # (H, W) each
    offsets = -2.0 * shifts_xy / shifts_xy.new_tensor([width, height])  # (B, 2) normalized
    grid = torch.stack([grid_x, grid_y], dim=-1)[None] + offsets[:, None, None]  # (B, H, W, 2)
    moved = F.grid_sample(neighbours, grid, mode="bilinear", align_corners=False)
    coverage = F.grid_sample(
        torch.ones_like(neighbours[:, :1]), grid, mode="bilinear", align_corners=False
    )  # (B, 1, H, W) share of each output pixel that came from the neighbour
    return moved + (1.0 - coverage) * fill


@torch.no_grad()
def align_neighbours(
    images: Tensor, neighbours: Tensor, max_shift_fraction: float = MAX_SHIFT_FRACTION
) -> Tensor:
    """(B, 3, H, W) frames and neighbours (RGB in [0, 1]) -> (B, 3, H, W) the neighbours shifted
    onto their frames by the global camera shift (:func:`estimate_shifts`, :func:`shift_onto`);
    a neighbour whose shifted version matches its frame worse than itself is kept unshifted."""
    shifts = estimate_shifts(images, neighbours, max_shift_fraction)  # (B, 2)
    if not shifts.any():
        return neighbours
    moved = shift_onto(neighbours, shifts, fill=images)  # (B, 3, H, W)
    moved_error = (images - moved).abs().mean(dim=(1, 2, 3))  # (B,)
    still_error = (images - neighbours).abs().mean(dim=(1, 2, 3))  # (B,)
    better = (moved_error < still_error).view(-1, 1, 1, 1)  # (B, 1, 1, 1)
    return torch.where(better, moved, neighbours)
