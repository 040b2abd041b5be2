"""Box format conversions and IoU, in one place.

Formats: ``boxes_xyxy`` are pixels ``[x0, y0, x1, y1]``; ``boxes_xywh`` are pixels
``[x, y, w, h]`` with a top-left corner (annotation files); ``boxes_cxcywh`` are normalized to
[0, 1] by the image width and height ``[cx, cy, w, h]``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


def cxcywh_to_xyxy(boxes_cxcywh: Tensor) -> Tensor:
    """(..., 4) centre/size boxes -> (..., 4) corner boxes, same units."""
    cx, cy, w, h = boxes_cxcywh.unbind(-1)
    return torch.stack([cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h], dim=-1)


def xyxy_to_cxcywh(boxes_xyxy: Tensor) -> Tensor:
    """(..., 4) corner boxes -> (..., 4) centre/size boxes, same units."""
    x0, y0, x1, y1 = boxes_xyxy.unbind(-1)
    return torch.stack([(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0], dim=-1)


def xywh_to_xyxy(boxes_xywh: np.ndarray) -> np.ndarray:
    """(..., 4) top-left ``[x, y, w, h]`` -> (..., 4) ``[x0, y0, x1, y1]`` (numpy)."""
    xy, wh = boxes_xywh[..., :2], boxes_xywh[..., 2:4]
    return np.concatenate([xy, xy + wh], axis=-1)


def xyxy_to_xywh(boxes_xyxy: np.ndarray) -> np.ndarray:
    """(..., 4) ``[x0, y0, x1, y1]`` -> (..., 4) top-left ``[x, y, w, h]`` (numpy)."""
    top_left, bottom_right = boxes_xyxy[..., :2], boxes_xyxy[..., 2:4]
    return np.concatenate([top_left, bottom_right - top_left], axis=-1)


def normalize_xyxy(boxes_xyxy: Tensor, width: float, height: float) -> Tensor:
    """Pixel xyxy (..., 4) -> normalized cxcywh (..., 4)."""
    scale = boxes_xyxy.new_tensor([width, height, width, height])
    return xyxy_to_cxcywh(boxes_xyxy / scale)


def denormalize_cxcywh(boxes_cxcywh: Tensor, width: float, height: float) -> Tensor:
    """Normalized cxcywh (..., 4) -> pixel xyxy (..., 4)."""
    scale = boxes_cxcywh.new_tensor([width, height, width, height])
    return cxcywh_to_xyxy(boxes_cxcywh) * scale


def box_area(boxes_xyxy: Tensor) -> Tensor:
    """(..., 4) -> (...) area, zero for degenerate boxes."""
    return (boxes_xyxy[..., 2] - boxes_xyxy[..., 0]).clamp(min=0) * (
        boxes_xyxy[..., 3] - boxes_xyxy[..., 1]
    ).clamp(min=0)


def box_iou(boxes1_xyxy: Tensor, boxes2_xyxy: Tensor) -> tuple[Tensor, Tensor]:
    """Pairwise IoU and union of (N, 4) and (M, 4) boxes -> (N, M), (N, M)."""
    area1, area2 = box_area(boxes1_xyxy), box_area(boxes2_xyxy)
    top_left = torch.max(boxes1_xyxy[:, None, :2], boxes2_xyxy[None, :, :2])  # (N, M, 2)
    bottom_right = torch.min(boxes1_xyxy[:, None, 2:], boxes2_xyxy[None, :, 2:])  # (N, M, 2)
    inter = (bottom_right - top_left).clamp(min=0).prod(-1)  # (N, M)
    union = area1[:, None] + area2[None, :] - inter
    return inter / union.clamp(min=1e-9), union


def generalized_box_iou(boxes1_xyxy: Tensor, boxes2_xyxy: Tensor) -> Tensor:
    """Pairwise generalized IoU (Rezatofighi et al.) of (N, 4) and (M, 4) boxes -> (N, M)."""
    iou, union = box_iou(boxes1_xyxy, boxes2_xyxy)
    top_left = torch.min(boxes1_xyxy[:, None, :2], boxes2_xyxy[None, :, :2])  # (N, M, 2)
    bottom_right = torch.max(boxes1_xyxy[:, None, 2:], boxes2_xyxy[None, :, 2:])  # (N, M, 2)
    enclosing = (bottom_right - top_left).clamp(min=0).prod(-1)  # (N, M)
    return iou - (enclosing - union) / enclosing.clamp(min=1e-9)


def masks_to_boxes_xyxy(masks: Tensor) -> Tensor:
    """Tight pixel boxes of boolean masks (..., H, W) -> (..., 4); empty masks give NaN rows.

    ``x1``/``y1`` are exclusive (one past the last foreground pixel), so a single pixel at
    (x, y) has the box ``[x, y, x + 1, y + 1]``.
    """
    if masks.ndim != 3:
        lead = masks.shape[:-2]
        return masks_to_boxes_xyxy(masks.reshape(-1, *masks.shape[-2:])).reshape(*lead, 4)
    num_masks, height, width = masks.shape
    boxes = torch.full((num_masks, 4), float("nan"), device=masks.device)
    if num_masks == 0:
        return boxes
    rows = masks.any(dim=2)  # (O, H)
    cols = masks.any(dim=1)  # (O, W)
    present = rows.any(dim=1)
    ys = torch.arange(height, device=masks.device)
    xs = torch.arange(width, device=masks.device)
    y0 = torch.where(rows, ys, height).min(dim=1).values
    y1 = torch.where(rows, ys, -1).max(dim=1).values + 1
    x0 = torch.where(cols, xs, width).min(dim=1).values
    x1 = torch.where(cols, xs, -1).max(dim=1).values + 1
    stacked = torch.stack([x0, y0, x1, y1], dim=1).float()
    boxes[present] = stacked[present]
    return boxes


def boxes_xyxy_to_masks(boxes_xyxy: Tensor, height: int, width: int) -> Tensor:
    """Filled boxes: (..., 4) pixel-edge ``xyxy`` -> (..., H, W) bool, the inverse of
    :func:`masks_to_boxes_xyxy` for box-shaped masks.

    A pixel is inside when its centre is, so ``[x, y, x + 1, y + 1]`` fills one pixel; NaN or
    empty boxes give empty masks.
    """
    centres_x = torch.arange(width, device=boxes_xyxy.device) + 0.5  # (W,)
    centres_y = torch.arange(height, device=boxes_xyxy.device) + 0.5  # (H,)
    x0, y0, x1, y1 = (boxes_xyxy[..., i, None] for i in range(4))  # each (..., 1)
    inside_x = (centres_x > x0) & (centres_x < x1)  # (..., W)
    inside_y = (centres_y > y0) & (centres_y < y1)  # (..., H)
    return inside_y[..., :, None] & inside_x[..., None, :]  # (..., H, W)
