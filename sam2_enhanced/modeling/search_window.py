"""Object-centred search windows: where each tracked object is looked for, and the maps between
video pixels and window pixels (pure tensor code, no model).

A window is a rectangle of whole video pixels ``(x0, y0, x1, y1)``, square for a tracked object
(the whole frame when search windows are off); it may reach outside the frame (those pixels are
padding). Its side is ``search_scale`` times the
object's size ``sqrt(w * h)``, at least ``min_side`` and at most ``max(H, W) * max_side_frac``,
so the object fills about the same share of the window at any frame or object size. The window
is resized to the model's ``S x S`` input; masks come back as ``m x m`` logits over the window
and are pasted into the frame. Training crops its windows with the same functions.

Shapes: N windows; ``windows_xyxy`` (N, 4) float, whole pixels; frames (C, H, W); window
images (N, C, S, S); window maps (N, C, m, m).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from scipy import ndimage
from torch import Tensor

from sam2_enhanced.box_ops import masks_to_boxes_xyxy


def _check_finite_boxes(boxes_xyxy: Tensor, name: str) -> None:
    if boxes_xyxy.ndim != 2 or boxes_xyxy.shape[1] != 4:
        raise ValueError(f"{name} must have shape (N, 4), got {tuple(boxes_xyxy.shape)}")
    if not torch.isfinite(boxes_xyxy).all():
        raise ValueError(f"{name} must be finite, got {boxes_xyxy.tolist()}")


def square_windows(
    centres_xy: Tensor,
    sides: Tensor,
    frame_hw: tuple[int, int],
    *,
    min_side: float,
    max_side_frac: float = 1.0,
) -> Tensor:
    """Squares of whole pixels around ``centres_xy`` (N, 2) with sides ``sides`` (N,) -> (N, 4).

    Sides are clamped to ``[min_side, max(H, W) * max_side_frac]`` (and to at least 2 px).
    Centres are clamped into the frame, so a window always overlaps it.
    """
    height, width = frame_hw
    if height < 1 or width < 1:
        raise ValueError(f"frame_hw must be positive, got {frame_hw}")
    if not torch.isfinite(centres_xy).all() or not torch.isfinite(sides).all():
        raise ValueError("window centres and sides must be finite")
    largest = max(max(height, width) * max_side_frac, 2.0)
    sides = sides.clamp(min=min(max(min_side, 2.0), largest), max=largest).round()
    cx = centres_xy[:, 0].clamp(0, width)
    cy = centres_xy[:, 1].clamp(0, height)
    x0 = (cx - sides / 2).round()
    y0 = (cy - sides / 2).round()
    return torch.stack([x0, y0, x0 + sides, y0 + sides], dim=1)  # (N, 4)


def box_sizes(boxes_xyxy: Tensor) -> Tensor:
    """(N, 4) boxes -> (N,) ``sqrt(w * h)`` (0 for empty boxes)."""
    wh = (boxes_xyxy[:, 2:] - boxes_xyxy[:, :2]).clamp(min=0)  # (N, 2)
    return wh.prod(dim=1).sqrt()


def windows_around_boxes(
    boxes_xyxy: Tensor,
    frame_hw: tuple[int, int],
    *,
    search_scale: float,
    min_side: float,
    max_side_frac: float = 1.0,
) -> Tensor:
    """Windows centred on boxes (N, 4), side ``search_scale * sqrt(w * h)`` -> (N, 4).

    Raises ``ValueError`` for NaN / infinite boxes; a zero-size box gets the minimum side.
    """
    _check_finite_boxes(boxes_xyxy, "boxes_xyxy")
    centres = (boxes_xyxy[:, :2] + boxes_xyxy[:, 2:]) / 2  # (N, 2)
    sides = box_sizes(boxes_xyxy) * search_scale
    return square_windows(centres, sides, frame_hw, min_side=min_side, max_side_frac=max_side_frac)


def grow_windows(windows_xyxy: Tensor, factor: float) -> Tensor:
    """(N, 4) windows -> (N, 4) windows with the same centres and ``factor`` times the sides,
    in whole pixels (a training clip's context: room around the window)."""
    _check_finite_boxes(windows_xyxy, "windows_xyxy")
    if factor <= 0:
        raise ValueError(f"factor must be > 0, got {factor}")
    centres = (windows_xyxy[:, :2] + windows_xyxy[:, 2:]) / 2  # (N, 2)
    half = ((windows_xyxy[:, 2:] - windows_xyxy[:, :2]) * factor / 2).round().clamp(min=1)
    low = (centres - half).round()
    return torch.cat([low, low + 2 * half], dim=1)


def fit_inside(windows_xyxy: Tensor, regions_xyxy: Tensor) -> Tensor:
    """Shrink each window (N, 4) to at most its region's (N, 4) width and height (about its
    centre), then shift it to lie inside the region -> (N, 4)."""
    _check_finite_boxes(windows_xyxy, "windows_xyxy")
    _check_finite_boxes(regions_xyxy, "regions_xyxy")
    size = torch.minimum(
        windows_xyxy[:, 2:] - windows_xyxy[:, :2], regions_xyxy[:, 2:] - regions_xyxy[:, :2]
    )  # (N, 2)
    centres = (windows_xyxy[:, :2] + windows_xyxy[:, 2:]) / 2
    low = torch.maximum(centres - size / 2, regions_xyxy[:, :2])
    low = torch.minimum(low, regions_xyxy[:, 2:] - size).round()
    return torch.cat([low, low + size.round()], dim=1)


def crop_windows(image: Tensor, windows_xyxy: Tensor, out_size: int, fill: float = 0.0) -> Tensor:
    """Crop windows from one image and resize each to ``out_size x out_size``.

    Args:
        image: (C, H, W) tensor (a uint8 frame, masks, logits); crops are returned as float.
        windows_xyxy: (N, 4) whole-pixel rectangles (may reach outside the image).
        out_size: side S of each output.
        fill: value of window pixels outside the image.

    Returns:
        (N, C, S, S): area-antialiased when shrinking, bilinear when growing.
    """
    _check_finite_boxes(windows_xyxy, "windows_xyxy")
    channels, height, width = image.shape
    if channels == 0:  # e.g. the masks of a frame without objects
        return torch.zeros(len(windows_xyxy), 0, out_size, out_size, device=image.device)
    crops = []
    for x0, y0, x1, y1 in windows_xyxy.round().long().tolist():
        if x1 - x0 < 1 or y1 - y0 < 1:
            raise ValueError(
                f"a window must be at least 1 px wide and high, got {[x0, y0, x1, y1]}"
            )
        crop = torch.full(
            (channels, y1 - y0, x1 - x0), fill, dtype=torch.float32, device=image.device
        )
        ix0, iy0, ix1, iy1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
        if ix1 > ix0 and iy1 > iy0:
            crop[:, iy0 - y0 : iy1 - y0, ix0 - x0 : ix1 - x0] = image[:, iy0:iy1, ix0:ix1]
        shrink = max(x1 - x0, y1 - y0) > out_size
        crops.append(
            F.interpolate(crop[None], size=(out_size, out_size), mode="bilinear", antialias=shrink)
        )
    if not crops:
        return torch.zeros(0, channels, out_size, out_size, device=image.device)
    return torch.cat(crops)  # (N, C, S, S)


def paste_windows(
    window_logits: Tensor, windows_xyxy: Tensor, frame_hw: tuple[int, int], fill: float
) -> Tensor:
    """Resize each window's maps to the window's size and paste it into a frame of ``fill``.

    Args:
        window_logits: (N, C, m, m) maps over each window.
        windows_xyxy: (N, 4) the windows they cover.
        frame_hw: (H, W) of the output.

    Returns:
        (N, C, H, W); pixels outside each object's window hold ``fill``.
    """
    height, width = frame_hw
    num, channels = window_logits.shape[:2]
    out = window_logits.new_full((num, channels, height, width), fill)
    for i, (x0, y0, x1, y1) in enumerate(windows_xyxy.round().long().tolist()):
        ix0, iy0, ix1, iy1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
        if ix1 <= ix0 or iy1 <= iy0:
            continue
        full = F.interpolate(window_logits[i : i + 1], size=(y1 - y0, x1 - x0), mode="bilinear")
        out[i, :, iy0:iy1, ix0:ix1] = full[0, :, iy0 - y0 : iy1 - y0, ix0 - x0 : ix1 - x0]
    return out


def to_window_coords(points_xy: Tensor, windows_xyxy: Tensor, out_size: int) -> Tensor:
    """(N, P, 2) video pixels -> window-input pixels of each object's window (N, P, 2)."""
    origin = windows_xyxy[:, None, :2]  # (N, 1, 2)
    scale = out_size / (windows_xyxy[:, 2:] - windows_xyxy[:, :2])  # (N, 2)
    return (points_xy - origin) * scale[:, None]


def to_frame_coords(points_xy: Tensor, windows_xyxy: Tensor, out_size: int) -> Tensor:
    """Inverse of :func:`to_window_coords`: (N, P, 2) window pixels -> video pixels."""
    origin = windows_xyxy[:, None, :2]  # (N, 1, 2)
    scale = (windows_xyxy[:, 2:] - windows_xyxy[:, :2]) / out_size  # (N, 2)
    return points_xy * scale[:, None] + origin


def normalized_windows(windows_xyxy: Tensor, frame_hw: tuple[int, int]) -> Tensor:
    """(N, 4) window pixels -> (N, 4) xyxy as fractions of the frame's width and height."""
    height, width = frame_hw
    return windows_xyxy / windows_xyxy.new_tensor([width, height, width, height])


def remap_logits(
    logits: Tensor, old_windows_xyxy: Tensor, new_windows_xyxy: Tensor, fill: float
) -> Tensor:
    """Re-express (N, C, m, m) maps over ``old_windows`` as maps over ``new_windows``.

    Used to hand the previous frame's mask to the next frame's window. Pixels of the new window
    outside the old one get ``fill``. Returns (N, C, m, m).
    """
    if logits.shape[0] == 0:
        return logits
    size = logits.shape[-1]
    old, new = old_windows_xyxy.to(logits), new_windows_xyxy.to(logits)
    old_wh = old[:, 2:] - old[:, :2]  # (N, 2)
    new_wh = new[:, 2:] - new[:, :2]
    # the new window's pixel centres, in the old window's [-1, 1] coordinates
    steps = (torch.arange(size, device=logits.device, dtype=logits.dtype) + 0.5) / size  # (m,)
    xs = new[:, 0:1] + steps[None] * new_wh[:, 0:1]  # (N, m) video x
    ys = new[:, 1:2] + steps[None] * new_wh[:, 1:2]
    gx = (xs - old[:, 0:1]) / old_wh[:, 0:1] * 2 - 1  # (N, m)
    gy = (ys - old[:, 1:2]) / old_wh[:, 1:2] * 2 - 1
    grid = torch.stack(
        [gx[:, None, :].expand(-1, size, -1), gy[:, :, None].expand(-1, -1, size)], dim=-1
    )  # (N, m, m, 2)
    moved = F.grid_sample(logits - fill, grid, mode="bilinear", align_corners=False) + fill
    same = (old == new).all(dim=1)[:, None, None, None]  # (N, 1, 1, 1): nothing to move
    return torch.where(same, logits, moved)


@dataclass
class ObjectMotion:
    """Where one object was and how it moves, in video pixels; decides its next window."""

    box_xyxy: Tensor  # (4,) last box seen
    velocity_xy: Tensor  # (2,) centre displacement per frame (constant-velocity model)
    lost_frames: int = 0  # frames since the object was last judged visible
    side_factor: float = 1.0  # multiplies its window side (e.g. < 1 for a static object)

    @classmethod
    def start(cls, box_xyxy: Tensor) -> ObjectMotion:
        """Motion of an object first seen in ``box_xyxy`` (4,), at rest."""
        return cls(box_xyxy=box_xyxy.float().clone(), velocity_xy=box_xyxy.new_zeros(2).float())

    def update(self, box_xyxy: Tensor | None, momentum: float) -> None:
        """Record the object's box on the next frame (None: judged absent there)."""
        if box_xyxy is None:
            self.lost_frames += 1
            return
        box_xyxy = box_xyxy.float()
        step = (box_xyxy[:2] + box_xyxy[2:] - self.box_xyxy[:2] - self.box_xyxy[2:]) / 2
        if self.lost_frames == 0:  # a jump after a loss says nothing about velocity
            self.velocity_xy = momentum * self.velocity_xy + (1 - momentum) * step
        else:
            self.velocity_xy = torch.zeros_like(self.velocity_xy)
        self.box_xyxy = box_xyxy.clone()
        self.lost_frames = 0


def next_windows(
    motions: list[ObjectMotion],
    frame_hw: tuple[int, int],
    *,
    search_scale: float,
    min_side: float,
    max_side_frac: float,
    use_velocity: bool,
    lost_growth: float,
) -> Tensor:
    """Each object's window on the next frame -> (N, 4).

    Centre: the last box's centre, plus the velocity (when ``use_velocity``) for as many frames
    as have passed since it was seen; side: ``search_scale * sqrt(w * h)`` of the last box, times
    the object's ``side_factor``, times ``lost_growth ** lost_frames`` while it is lost, up to
    the frame.
    """
    if not motions:
        return torch.zeros(0, 4)
    boxes = torch.stack([m.box_xyxy for m in motions])  # (N, 4)
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2  # (N, 2)
    if use_velocity:
        frames = torch.tensor([m.lost_frames + 1 for m in motions], dtype=boxes.dtype)
        centres = centres + torch.stack([m.velocity_xy for m in motions]) * frames[:, None]
    growth = torch.tensor(
        [m.side_factor * lost_growth ** min(m.lost_frames, 64) for m in motions], dtype=boxes.dtype
    )
    sides = box_sizes(boxes).clamp(min=1.0) * search_scale * growth
    return square_windows(centres, sides, frame_hw, min_side=min_side, max_side_frac=max_side_frac)


def mask_boxes(masks: Tensor) -> list[Tensor | None]:
    """(N, H, W) bool masks -> per mask its tight box (4,) in pixels (``box_ops`` convention:
    exclusive ``x1``/``y1``), or None when empty."""
    return [None if box.isnan().any() else box for box in masks_to_boxes_xyxy(masks)]


def main_component(mask_logits: Tensor, fill: float, centre_prior: float = 0.0) -> Tensor:
    """Keep the connected part (8-neighbourhood) of a mask that holds its best pixel.

    A pixel's score is its probability times ``(1 - centre_prior) + centre_prior * hann``, with
    ``hann`` a Hann window over the map (1 at the centre, 0 at the border): with search windows
    the object is expected at the centre, so a look-alike at the window's edge loses to it, as
    SiamFC's cosine window penalises large displacements. (1, m, m) logits -> (1, m, m): pixels of
    the other parts are set to ``fill``.
    """
    positive = (mask_logits[0] > 0).cpu().numpy()
    labels, count = ndimage.label(positive, structure=((1, 1, 1), (1, 1, 1), (1, 1, 1)))
    if count <= 1:
        return mask_logits
    size = mask_logits.shape[-1]
    hann = torch.hann_window(size + 2, periodic=False, device=mask_logits.device)[1:-1]  # (m,)
    prior = (1 - centre_prior) + centre_prior * hann[:, None] * hann[None, :]  # (m, m)
    scores = torch.where(mask_logits[0] > 0, mask_logits[0].sigmoid() * prior, -1.0)
    peak = int(scores.flatten().argmax())
    keep = torch.from_numpy(labels == labels.flat[peak]).to(mask_logits.device)  # (m, m)
    return torch.where(keep[None] | ~(mask_logits > 0), mask_logits, mask_logits.new_tensor(fill))


def default_side(frame_hw: tuple[int, int], fraction: float) -> float:
    """Window side for a prompt without extent (clicks): ``fraction`` of the frame's diagonal
    scale ``sqrt(H * W)``."""
    return fraction * math.sqrt(frame_hw[0] * frame_hw[1])
