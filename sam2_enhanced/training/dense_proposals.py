"""One-to-many loss of the token proposals (Co-DETR's auxiliary assignment, FCOS centre sampling).

The decoder's queries are the best-scoring token proposals (two-stage DETR). Trained with the
one-to-one Hungarian set loss, only one token per object is ever a positive: 1-3 positives among
256 tokens a frame, and the proposal scores stay flat. Co-DETR (Zong et al., ICCV 2023) trains
the encoder's tokens with a one-to-many assignment instead (ATSS / FCOS heads); the decoder keeps
its one-to-one loss, so the outputs stay free of duplicates. Here every token whose centre lies
inside a target box and within ``radius`` tokens of its centre (FCOS centre sampling) is a
positive of that target, as is the token holding the target's centre (so an object smaller than
a token still gets one); a token claimed by several targets belongs to the smallest. Positives
learn the target's class (or, with varifocal, the IoU of their box) and its box (L1 + GIoU);
every other token is a negative.
"""

from __future__ import annotations

import torch
from torch import Tensor

from sam2_enhanced.training.class_losses import ClassLoss
from sam2_enhanced.training.pair_losses import assigned_terms, objectness

PROPOSAL_ASSIGNMENTS = ("hungarian", "dense")  # values of train.proposal_assignment


def dense_assignment(target_boxes_cxcywh: Tensor, grid_size: int, radius: float) -> Tensor:
    """Which target each token of a ``grid_size`` x ``grid_size`` grid learns.

    Args:
        target_boxes_cxcywh: (G, 4) normalized target boxes.
        grid_size: tokens per side g (row-major, as the decoder's proposals).
        radius: largest distance, in tokens, from a target's centre to a positive token's
            centre along each axis (FCOS: 1.5).

    Returns:
        (g*g,) long: the target index of each token, -1 for negatives.
    """
    if radius < 0:
        raise ValueError(f"radius must be >= 0 tokens, got {radius}")
    num_tokens = grid_size * grid_size
    device = target_boxes_cxcywh.device
    if target_boxes_cxcywh.shape[0] == 0:
        return torch.full((num_tokens,), -1, dtype=torch.long, device=device)
    centres = (torch.arange(grid_size, device=device, dtype=torch.float32) + 0.5) / grid_size
    cy, cx = torch.meshgrid(centres, centres, indexing="ij")
    tokens = torch.stack([cx, cy], dim=-1).reshape(-1, 1, 2)  # (g*g, 1, 2)
    boxes = target_boxes_cxcywh.float()[None]  # (1, G, 4)
    offset = (tokens - boxes[..., :2]).abs()  # (g*g, G, 2)
    inside = (offset <= boxes[..., 2:] / 2).all(-1)  # (g*g, G)
    near = (offset <= radius / grid_size).all(-1)  # (g*g, G)
    cell = (boxes[0, :, :2] * grid_size).floor().clamp(0, grid_size - 1).long()  # (G, 2) x, y
    holds_centre = torch.zeros_like(inside)
    holds_centre[cell[:, 1] * grid_size + cell[:, 0], torch.arange(boxes.shape[1])] = True
    candidate = (inside & near) | holds_centre  # (g*g, G)
    area = boxes[0, :, 2] * boxes[0, :, 3]  # (G,)
    area = torch.where(candidate, area[None], torch.full_like(inside, torch.inf, dtype=area.dtype))
    smallest = area.argmin(dim=1)  # (g*g,)
    return torch.where(candidate.any(dim=1), smallest, torch.full_like(smallest, -1))


def dense_proposal_losses(
    logits: Tensor,
    boxes_cxcywh: Tensor,
    target_labels: Tensor,
    target_boxes_cxcywh: Tensor,
    radius: float,
    class_loss: ClassLoss,
    positives_only: bool = False,
) -> tuple[Tensor, Tensor, Tensor]:
    """Class, L1 and GIoU losses of one frame's token proposals under :func:`dense_assignment`.

    Args:
        logits: (g*g, C) class logits of every token's proposal.
        boxes_cxcywh: (g*g, 4) their boxes.
        target_labels: (G,) long classes.
        target_boxes_cxcywh: (G, 4) normalized boxes.
        radius: centre-sampling radius in tokens.
        class_loss: elementwise class loss (focal or varifocal).
        positives_only: the targets are only some of the frame's objects, class unknown (real
            video): each cell's best class logit is its objectness, and only the targets' own
            cells get a class term (the rest may hold unlabelled objects: ignored).

    Returns:
        three scalars, each summed over tokens and divided by max(number of positives, 1).
    """
    num_tokens = logits.shape[0]
    grid_size = round(num_tokens**0.5)
    if grid_size * grid_size != num_tokens:
        raise ValueError(f"proposals must come from a square token grid, got {num_tokens} tokens")
    if positives_only:
        logits, target_labels = objectness(logits, target_labels)  # (g*g, 1)
    assigned = dense_assignment(target_boxes_cxcywh, grid_size, radius)  # (g*g,)
    positive = (assigned >= 0).nonzero().squeeze(1)  # (P,)
    targets = assigned[positive]  # (P,)
    class_terms, l1, giou_loss = assigned_terms(
        class_loss,
        logits,
        boxes_cxcywh,
        positive,
        target_labels[targets],
        target_boxes_cxcywh[targets],
    )  # (g*g, C), (P,), (P,)
    if positives_only:
        class_terms = class_terms[positive]  # (P, 1)
    num_positive = max(positive.shape[0], 1)
    return class_terms.sum() / num_positive, l1.sum() / num_positive, giou_loss.sum() / num_positive
