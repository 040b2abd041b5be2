"""Stride-4 proposal map of the two-stage DETR decoder, and its peak selection (CenterNet).

Token proposals (stride 16: one token covers 14 px of the 224 px input, 8 px of a 128 px frame)
must place a box of a 5-px object to within a third of a token to reach IoU 0.5; the bundled
model's best of all 256 token proposals does so for one object in seven. Here every cell of the
stride-4 map proposes instead: the encoder's stride-4 level (upsampled tokens plus the raw-pixel
branch) mixed by two 3x3 convolutions of ``hidden_dim`` channels (a residual branch), since a
cell's objectness needs its neighbourhood. The memory-conditioned stride-16 features are not
added: on frozen bundled features, a head reading their sum with the stride-4 level did not
learn to tell object cells from the rest, one reading the stride-4 level alone did
(docs/training.md). The decoder's queries still attend to the conditioned features.
Neighbouring cells of one object all score high, so queries are taken only at local maxima of
the score map (3x3 max pooling, CenterNet's peak extraction; not a box NMS): one query per
object, where the one-to-one decoder loss would otherwise have to learn to suppress its
neighbours.

Context blocks (``model.decoder.proposal_context_dilations``) widen what a cell sees: each is a
residual bottleneck around a dilated 3x3 convolution (the dilations of DeepLab's context module),
so that dilations (2, 4, 8) take the field of view from 5x5 cells to 33x33, most of the 56x56 map
of a 224-px input: enough to tell a small object from clutter of the same local texture. Their
output convolution starts at zero, so a model given context blocks starts as the model without
them (trained weights load unchanged).

Distinct queries (``model.decoder.query_nms_iou``, :func:`distinct_queries`) replace the peaks by
a class-agnostic box NMS over the best proposals (DDQ, Zhang et al., CVPR 2023): peaks of one
object more than a cell apart become several queries, whose duplicates the one-to-one loss must
learn to score down; after the NMS each object is proposed about once.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.ops import nms

from sam2_enhanced.box_ops import cxcywh_to_xyxy


class ContextBlock(nn.Module):
    """Residual bottleneck with a dilated 3x3 convolution: (B, d, G, G) -> (B, d, G, G), the
    identity at init. The bottleneck (``hidden_dim`` < d) keeps its cost on the 56x56 map small."""

    def __init__(self, *, d_model: int, hidden_dim: int, dilation: int) -> None:
        super().__init__()
        self.reduce = nn.Conv2d(d_model, hidden_dim, kernel_size=1)
        self.conv = nn.Conv2d(
            hidden_dim, hidden_dim, kernel_size=3, padding=dilation, dilation=dilation
        )
        self.out = nn.Conv2d(hidden_dim, d_model, kernel_size=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: Tensor) -> Tensor:
        """(B, d, G, G) -> (B, d, G, G)."""
        return x + self.out(F.gelu(self.conv(F.gelu(self.reduce(x)))))


class HighResProposalMap(nn.Module):
    """(B, d, G, G) stride-4 level -> (B, d, G, G) features every cell proposes from."""

    def __init__(
        self,
        *,
        d_model: int,
        hidden_dim: int = 64,
        context_dilations: tuple[int, ...] = (),
        context_dim: int = 32,
    ) -> None:
        super().__init__()
        if any(dilation < 1 for dilation in context_dilations):
            raise ValueError(f"context dilations must be >= 1, got {tuple(context_dilations)}")
        self.mix = nn.Sequential(
            nn.Conv2d(d_model, hidden_dim, kernel_size=3, padding=1),
            nn.GELU(),
            nn.Conv2d(hidden_dim, hidden_dim, kernel_size=3, padding=1),
            nn.GELU(),
            nn.Conv2d(hidden_dim, d_model, kernel_size=1),
        )
        self.context = nn.Sequential(
            *(
                ContextBlock(d_model=d_model, hidden_dim=context_dim, dilation=dilation)
                for dilation in context_dilations
            )
        )

    def forward(self, high_res: Tensor) -> Tensor:
        """(B, d, G, G) the encoder's stride-4 level (G = 4g) -> (B, d, G, G)."""
        if high_res.ndim != 4:
            raise ValueError(f"high_res must be (B, d, G, G), got shape {tuple(high_res.shape)}")
        return self.context(high_res + self.mix(high_res))


def peak_scores(scores: Tensor, grid_size: int) -> Tensor:
    """(B, G*G) row-major scores -> the same with every cell that is not a 3x3 local maximum
    set to -inf (ties all kept)."""
    score_map = scores.reshape(scores.shape[0], 1, grid_size, grid_size)  # (B, 1, G, G)
    local_max = F.max_pool2d(score_map, kernel_size=3, stride=1, padding=1)
    peaks = (score_map == local_max).flatten(1)  # (B, G*G)
    return torch.where(peaks, scores, torch.full_like(scores, -torch.inf))


def distinct_queries(
    scores: Tensor,
    boxes_cxcywh: Tensor,
    num_queries: int,
    iou_threshold: float,
    num_candidates: int,
) -> Tensor:
    """Indices of distinct proposals (Dense Distinct Queries, Zhang et al., CVPR 2023): among the
    ``num_candidates`` best-scoring ones, a proposal whose box overlaps a better one by more than
    ``iou_threshold`` is passed over (class-agnostic greedy NMS); the first ``num_queries``
    survivors are taken, topped up with the best passed-over ones if too few survive.

    Args:
        scores: (B, P) proposal scores.
        boxes_cxcywh: (B, P, 4) normalized proposal boxes.
        num_queries: queries per frame (at most P are returned).
        iou_threshold: overlap in [0, 1] above which the lower-scoring proposal is passed over.
        num_candidates: best proposals considered (>= num_queries).

    Returns:
        (B, N) int64 proposal indices, N = min(num_queries, P), survivors first in score order.
    """
    num = min(num_queries, scores.shape[1])
    candidates = scores.topk(min(max(num_candidates, num), scores.shape[1]), dim=1).indices
    rows = []
    for frame_scores, frame_boxes, frame_candidates in zip(
        scores, boxes_cxcywh, candidates, strict=True
    ):
        boxes_xyxy = cxcywh_to_xyxy(frame_boxes[frame_candidates].float())  # (K, 4)
        kept = nms(boxes_xyxy, frame_scores[frame_candidates].float(), iou_threshold)  # (S,)
        passed_over = torch.ones_like(frame_candidates, dtype=torch.bool)
        passed_over[kept] = False
        order = torch.cat([kept, torch.nonzero(passed_over)[:, 0]])  # (K,) survivors first
        rows.append(frame_candidates[order[:num]])
    return torch.stack(rows)  # (B, N)
