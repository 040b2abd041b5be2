"""Detection head (class logits, boxes) and small-object refinement head."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from sam2.modeling.sam2_utils import MLP
from torch import Tensor, nn


@dataclass
class DetectionOutput:
    """Detections of one batch of frames, normalized boxes, per decoder layer."""

    class_logits: Tensor  # (L, B, N, num_classes) sigmoid (focal) logits, no background class
    boxes_cxcywh: Tensor  # (L, B, N, 4) normalized to [0, 1]
    refined_logits: Tensor  # (B, N, num_classes) after refinement (and duplicate suppression)
    refined_boxes_cxcywh: Tensor  # (B, N, 4) last layer after small-object refinement
    query_states: Tensor  # (B, N, d) last decoder layer states (association embeddings)
    proposal_logits: Tensor | None = None  # (B, g*g, C) every token's proposal (its set loss)
    proposal_boxes_cxcywh: Tensor | None = None  # (B, g*g, 4) every token's proposal box
    denoising_logits: Tensor | None = None  # (L, B, D, C) denoising queries (training only)
    denoising_boxes_cxcywh: Tensor | None = None  # (L, B, D, 4) their boxes per layer

    @property
    def scores(self) -> Tensor:
        """(B, N) best class probability of each refined detection."""
        return self.refined_logits.sigmoid().amax(dim=-1)

    @property
    def labels(self) -> Tensor:
        """(B, N) class index of each refined detection."""
        return self.refined_logits.argmax(dim=-1)


def inverse_sigmoid(x: Tensor, eps: float = 1e-5) -> Tensor:
    """logit(x), clamped away from 0 and 1."""
    x = x.clamp(eps, 1 - eps)
    return torch.log(x / (1 - x))


class DetectionHead(nn.Module):
    """Shared class and box predictors applied to every decoder layer (DETR style); boxes are
    deltas (in logit space) from the proposals the queries started from."""

    def __init__(self, *, d_model: int, num_classes: int) -> None:
        super().__init__()
        self.class_embed = nn.Linear(d_model, num_classes)
        self.box_embed = MLP(d_model, d_model, 4, num_layers=3)
        prior = 0.01  # focal-loss prior: start with few confident detections (RetinaNet)
        nn.init.constant_(self.class_embed.bias, -math.log((1 - prior) / prior))

    def forward(self, states: Tensor, reference_boxes: Tensor) -> tuple[Tensor, Tensor]:
        """(L, B, N, d) query states and (B, N, 4) cxcywh reference boxes -> class logits
        (L, B, N, C) and boxes cxcywh (L, B, N, 4)."""
        boxes = (inverse_sigmoid(reference_boxes) + self.box_embed(states)).sigmoid()
        return self.class_embed(states), boxes


class SmallObjectRefinementHead(nn.Module):
    """Refines boxes and scores of small detections from the stride-4 feature map.

    For each query, a ``grid x grid`` lattice is sampled inside its box (enlarged 1.5x for
    context) from the high-resolution map; an MLP on these samples and the query state predicts a
    box delta (in logit space) and a score delta. A soft gate, 1 for boxes much smaller than
    ``small_object_size`` pixels and 0 for much larger ones, scales both deltas so large objects
    pass through unchanged.

    With ``num_steps`` > 1 the same head runs again from the box it has just refined (iterative
    box refinement, as Deformable DETR's, with shared weights): a box that covers only part of an
    object samples a window that reaches further over the object on the next pass. The score
    delta is the first pass's, taken where the decoder's box was, and is added once.
    """

    def __init__(
        self,
        *,
        d_model: int,
        feature_dim: int,
        image_size: int,
        small_object_size: float,
        grid: int,
        hidden_dim: int,
        num_steps: int = 1,
    ) -> None:
        super().__init__()
        if num_steps < 1:
            raise ValueError(f"num_steps must be >= 1 refinement passes, got {num_steps}")
        self.grid = grid
        self.num_steps = num_steps
        self.image_size = image_size
        self.small_object_size = small_object_size
        self.reduce = nn.Conv2d(feature_dim, hidden_dim // 4, kernel_size=1)
        self.mlp = MLP(d_model + hidden_dim // 4 * grid * grid, hidden_dim, 5, num_layers=3)
        nn.init.zeros_(self.mlp.layers[-1].weight)
        nn.init.zeros_(self.mlp.layers[-1].bias)

    def gate(self, boxes_cxcywh: Tensor) -> Tensor:
        """(B, N, 4) -> (B, N, 1) in [0, 1]: how 'small' each box is."""
        side_px = (boxes_cxcywh[..., 2] * boxes_cxcywh[..., 3]).clamp(
            min=0
        ).sqrt() * self.image_size
        temperature = 0.25 * self.small_object_size
        return torch.sigmoid((self.small_object_size - side_px) / temperature)[..., None]

    def sample_boxes(self, high_res: Tensor, boxes_cxcywh: Tensor) -> Tensor:
        """Bilinear samples on a lattice inside each box: (B, N, hidden/4 * grid * grid)."""
        batch, num_queries, _ = boxes_cxcywh.shape
        steps = (torch.arange(self.grid, device=high_res.device) + 0.5) / self.grid - 0.5
        cx, cy, w, h = (boxes_cxcywh * boxes_cxcywh.new_tensor([1, 1, 1.5, 1.5])).unbind(-1)
        xs = cx[..., None] + w[..., None] * steps  # (B, N, grid)
        ys = cy[..., None] + h[..., None] * steps  # (B, N, grid)
        grid = torch.stack(
            [
                xs[:, :, None, :].expand(-1, -1, self.grid, -1),
                ys[:, :, :, None].expand(-1, -1, -1, self.grid),
            ],
            dim=-1,
        ).reshape(batch, num_queries * self.grid, self.grid, 2)  # (B, N*grid, grid, 2)
        sampled = F.grid_sample(
            self.reduce(high_res), grid * 2 - 1, mode="bilinear", align_corners=False
        )  # (B, C', N*grid, grid)
        channels = sampled.shape[1]
        sampled = sampled.reshape(batch, channels, num_queries, self.grid * self.grid)
        sampled = sampled.permute(0, 2, 1, 3)  # (B, N, C', grid^2)
        return sampled.reshape(batch, num_queries, channels * self.grid**2)  # (B, N, C'*grid^2)

    def forward(
        self, states: Tensor, class_logits: Tensor, boxes_cxcywh: Tensor, high_res: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Refine the last layer's detections.

        Args:
            states: (B, N, d) last decoder layer query states.
            class_logits: (B, N, C) their class logits.
            boxes_cxcywh: (B, N, 4) their normalized boxes.
            high_res: (B, d, 4g, 4g) stride-4 feature map.
        Returns:
            refined class logits (B, N, C) and refined boxes (B, N, 4).
        """
        boxes = boxes_cxcywh
        for step in range(self.num_steps):
            samples = self.sample_boxes(high_res, boxes)  # (B, N, C'*grid^2)
            delta = self.mlp(torch.cat([states, samples], dim=-1))  # (B, N, 4 + 1)
            gate = self.gate(boxes.detach())  # (B, N, 1)
            if step == 0:
                refined_logits = class_logits + gate * delta[..., 4:]
            boxes = (inverse_sigmoid(boxes) + gate * delta[..., :4]).sigmoid()
        return refined_logits, boxes
