"""Contrastive denoising queries (DN-DETR, DINO's CDN, RT-DETR's denoising training group).

During training only, each ground-truth box of a frame is copied into ``num_groups`` groups;
each group holds a *positive* copy of every box (its corners moved by less than
``box_noise`` x half its side: the decoder must reconstruct the box and its class) and a
*negative* copy (corners moved by 1-2x that: it must be classified as no object). Their class
input may be flipped to a random class (``label_noise``). These queries go through the decoder
alongside the selected ones; an attention mask keeps the selected (matching) queries from
seeing them and the groups from seeing each other, so the matching queries' outputs are exactly
what they would be without denoising. Their losses use the known targets, no Hungarian matching
(``training/denoising_loss.py``). At inference no denoising query exists.

Query layout along the denoising axis D = num_groups * 2 * P (P: most targets of a frame in the
batch): group k holds positives at ``[k*2P, k*2P + P)`` and negatives at ``[k*2P + P, (k+1)*2P)``;
frames with fewer targets pad (``target_index`` -1).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from sam2_enhanced.box_ops import cxcywh_to_xyxy, xyxy_to_cxcywh


@dataclass
class DenoisingQueries:
    """Noised ground truth fed to the decoder as extra queries (B frames, D queries)."""

    labels: Tensor  # (B, D) long, noised class index of each query (its content input)
    boxes_cxcywh: Tensor  # (B, D, 4) noised normalized boxes (its reference box)
    target_index: Tensor  # (B, D) long, index into the frame's targets; -1 for padding
    is_positive: Tensor  # (B, D) bool, positive (reconstruct) vs negative (no object)
    num_groups: int  # denoising groups; each holds 2 * group_targets queries
    group_targets: int  # P: targets per group (the most targets of a frame in the batch)

    @property
    def num_queries(self) -> int:
        """D, the number of denoising queries per frame."""
        return self.labels.shape[1]

    @property
    def valid(self) -> Tensor:
        """(B, D) bool, queries that come from a real target (not padding)."""
        return self.target_index >= 0


def denoising_attn_mask(
    num_matching: int, num_groups: int, group_size: int, device: torch.device | None = None
) -> Tensor:
    """Self-attention mask over ``num_matching`` selected queries followed by the denoising ones.

    Returns:
        (N + D, N + D) bool with D = num_groups * group_size; True where the row query may not
        attend to the column query: matching queries never see denoising queries, and a
        denoising group sees the matching queries and itself only.
    """
    num_dn = num_groups * group_size
    size = num_matching + num_dn
    mask = torch.zeros(size, size, dtype=torch.bool, device=device)
    mask[:num_matching, num_matching:] = True
    group = torch.arange(num_dn, device=device) // group_size  # (D,)
    mask[num_matching:, num_matching:] = group[:, None] != group[None, :]
    return mask


def _noised_boxes(
    boxes_cxcywh: Tensor, negative: Tensor, box_noise: float, generator: torch.Generator
) -> Tensor:
    """(B, D, 4) boxes -> corners moved by up to ``box_noise`` x half a side (positives) or by
    1-2x that (negatives, ``negative`` (B, D) bool); clipped to the frame, corners kept ordered."""
    corners = cxcywh_to_xyxy(boxes_cxcywh)  # (B, D, 4)
    half = (boxes_cxcywh[..., 2:] * 0.5).repeat(1, 1, 2) * box_noise  # (B, D, 4) w, h, w, h
    shape = corners.shape
    magnitude = torch.rand(shape, generator=generator) + negative[..., None].float()  # [0,1)|[1,2)
    sign = torch.randint(0, 2, shape, generator=generator).float() * 2 - 1
    corners = (corners + (magnitude * sign).to(corners.device) * half).clamp(0.0, 1.0)
    x0, x1 = torch.minimum(corners[..., 0], corners[..., 2]), corners[..., 0::2].amax(-1)
    y0, y1 = torch.minimum(corners[..., 1], corners[..., 3]), corners[..., 1::2].amax(-1)
    return xyxy_to_cxcywh(torch.stack([x0, y0, x1, y1], dim=-1))  # (B, D, 4)


def build_denoising_queries(
    target_labels: list[Tensor],
    target_boxes_cxcywh: list[Tensor],
    *,
    num_groups: int,
    num_classes: int,
    box_noise: float,
    label_noise: float,
    generator: torch.Generator,
) -> DenoisingQueries | None:
    """Contrastive denoising queries of B frames (RT-DETR's denoising training group).

    Args:
        target_labels: B tensors (G_b,) long class indices in 0..num_classes-1.
        target_boxes_cxcywh: B tensors (G_b, 4) normalized boxes.
        num_groups: denoising groups (>= 1).
        num_classes: classes of the detector (the range of random labels).
        box_noise: corner noise as a fraction of half the box side (positives below it,
            negatives between 1x and 2x it).
        label_noise: a query's class input is replaced by a random class with probability
            ``label_noise / 2`` (as RT-DETR).
        generator: CPU generator for the noise.

    Returns:
        The queries (D = num_groups * 2 * max G_b), or None when no frame has a target.
    """
    if num_groups < 1 or box_noise < 0 or not 0.0 <= label_noise <= 1.0:
        raise ValueError(
            "expected num_groups >= 1, box_noise >= 0 and label_noise in [0, 1], got "
            f"{num_groups}, {box_noise}, {label_noise}"
        )
    if len(target_labels) != len(target_boxes_cxcywh):
        raise ValueError(
            f"expected one label tensor per box tensor, got {len(target_labels)} and "
            f"{len(target_boxes_cxcywh)}"
        )
    num_targets = max((labels.shape[0] for labels in target_labels), default=0)
    if num_targets == 0:
        return None
    batch, device = len(target_labels), target_boxes_cxcywh[0].device
    labels = torch.zeros(batch, num_targets, dtype=torch.long, device=device)
    boxes = torch.zeros(batch, num_targets, 4, device=device)
    boxes[..., :2] = 0.5  # padding: an empty box at the centre
    index = torch.full((batch, num_targets), -1, dtype=torch.long, device=device)
    for b, (frame_labels, frame_boxes) in enumerate(
        zip(target_labels, target_boxes_cxcywh, strict=True)
    ):
        count = frame_labels.shape[0]
        labels[b, :count], boxes[b, :count] = frame_labels, frame_boxes.float()
        index[b, :count] = torch.arange(count, device=device)
    repeats = 2 * num_groups  # positive and negative copy per group
    labels, index = labels.repeat(1, repeats), index.repeat(1, repeats)  # (B, D)
    boxes = boxes.repeat(1, repeats, 1)  # (B, D, 4)
    negative = (torch.arange(labels.shape[1], device=device) // num_targets) % 2 == 1  # (D,)
    negative = negative[None].expand(batch, -1)  # (B, D)
    flip = torch.rand(labels.shape, generator=generator) < label_noise * 0.5
    random_labels = torch.randint(0, num_classes, labels.shape, generator=generator)
    labels = torch.where(flip.to(device) & (index >= 0), random_labels.to(device), labels)
    return DenoisingQueries(
        labels=labels,
        boxes_cxcywh=_noised_boxes(boxes, negative, box_noise, generator),
        target_index=index,
        is_positive=~negative,
        num_groups=num_groups,
        group_targets=num_targets,
    )
