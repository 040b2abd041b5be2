"""DETR transformer decoder whose object queries start from the best-scoring frame tokens.

Follows Carion et al. (facebookresearch/detr) for the layers (post-norm self-attention,
cross-attention, MLP; every layer's normalized output is returned for auxiliary losses) and the
two-stage query selection of Deformable DETR / RT-DETR for the queries: every token of the
memory-conditioned frame proposes a class and a box (a delta from a one-token anchor at its
centre), the ``num_queries`` tokens with the highest class score become the queries (their
features as content, a sine embedding of their box as position), and each decoder layer predicts
its boxes as a delta from these proposals. Learned queries must first discover where objects
tend to be, which takes DETR hundreds of epochs; selected queries start on the objects. With a
stride-4 proposal map (:mod:`sam2_enhanced.modeling.highres_proposals`) every cell of that map
proposes instead of every token, and queries are taken at its score peaks.

In training, contrastive denoising queries (:mod:`sam2_enhanced.modeling.denoising`) can be
passed explicitly: their content is a learned embedding of their (noised) class, their reference
a noised ground-truth box; they follow the selected queries along the query axis behind an
attention mask, so the selected queries' outputs do not depend on them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from sam2.modeling.sam2_utils import MLP, get_1d_sine_pe
from torch import Tensor, nn

from sam2_enhanced.modeling.denoising import DenoisingQueries, denoising_attn_mask
from sam2_enhanced.modeling.detection_head import inverse_sigmoid
from sam2_enhanced.modeling.highres_proposals import (
    HighResProposalMap,
    distinct_queries,
    peak_scores,
)

DISTINCT_CANDIDATES_PER_QUERY = 10  # distinct queries: proposals considered per query

PRIOR_PROB = 0.01  # focal-loss prior of the class logits (RetinaNet)
BOX_PE_SCALE = 100.0  # box coordinates are scaled so the top frequency is 1 rad per 1% of a side


@dataclass
class DecoderOutput:
    """Decoder outputs for B frames: per-layer query states and what the queries started from."""

    states: Tensor  # (L, B, N, d) normalized query states after each layer
    reference_boxes: Tensor  # (B, N, 4) cxcywh proposals the queries started from (no gradient)
    proposal_logits: Tensor  # (B, P, C) class logits of every proposing cell (P = g*g tokens,
    # or (4g)^2 cells of a stride-4 proposal map)
    proposal_boxes: Tensor  # (B, P, 4) cxcywh box of every proposing cell
    denoising_states: Tensor | None = None  # (L, B, D, d) denoising query states (training)
    denoising_reference: Tensor | None = None  # (B, D, 4) their noised cxcywh boxes


class DetrDecoderLayer(nn.Module):
    """Self-attention between queries, cross-attention to features, MLP (post-norm)."""

    def __init__(self, *, d_model: int, num_heads: int, dim_feedforward: int, dropout: float):
        super().__init__()
        self.self_attn = nn.MultiheadAttention(
            d_model, num_heads, dropout=dropout, batch_first=True
        )
        self.cross_attn = nn.MultiheadAttention(
            d_model, num_heads, dropout=dropout, batch_first=True
        )
        self.mlp = nn.Sequential(
            nn.Linear(d_model, dim_feedforward),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(dim_feedforward, d_model),
        )
        self.norms = nn.ModuleList([nn.LayerNorm(d_model) for _ in range(3)])
        self.dropout = nn.Dropout(dropout)

    def forward(
        self,
        tgt: Tensor,
        query_pos: Tensor,
        memory: Tensor,
        memory_pos: Tensor,
        self_attn_mask: Tensor | None = None,
    ) -> Tensor:
        """tgt, query_pos (B, N, d); memory, memory_pos (B, L, d) -> (B, N, d).

        ``self_attn_mask`` (N, N) bool: True where a query may not attend to another.
        """
        q = k = tgt + query_pos
        attended = self.self_attn(q, k, tgt, attn_mask=self_attn_mask, need_weights=False)[0]
        tgt = self.norms[0](tgt + self.dropout(attended))
        attended = self.cross_attn(
            tgt + query_pos, memory + memory_pos, memory, need_weights=False
        )[0]
        tgt = self.norms[1](tgt + self.dropout(attended))
        return self.norms[2](tgt + self.dropout(self.mlp(tgt)))


def token_anchors(grid_size: int, device: torch.device) -> Tensor:
    """(g*g, 4) cxcywh anchors, one cell wide, centred on each cell of a g x g grid (row-major)."""
    centres = (torch.arange(grid_size, device=device, dtype=torch.float32) + 0.5) / grid_size
    cy, cx = torch.meshgrid(centres, centres, indexing="ij")
    side = torch.full_like(cx, 1.0 / grid_size)
    return torch.stack([cx, cy, side, side], dim=-1).reshape(-1, 4)


def box_sine_embedding(boxes_cxcywh: Tensor, dim: int) -> Tensor:
    """(..., 4) normalized boxes -> (..., dim) sine embedding, dim / 4 channels per coordinate."""
    per_coord = [
        get_1d_sine_pe(boxes_cxcywh[..., i].flatten() * BOX_PE_SCALE, dim // 4) for i in range(4)
    ]
    return torch.cat(per_coord, dim=-1).reshape(*boxes_cxcywh.shape[:-1], dim)


class DetrDecoder(nn.Module):
    """Token proposals, top-``num_queries`` selection, then a stack of :class:`DetrDecoderLayer`."""

    def __init__(
        self,
        *,
        d_model: int,
        num_queries: int,
        num_classes: int,
        num_layers: int,
        num_heads: int,
        dim_feedforward: int,
        dropout: float,
        use_denoising: bool = False,
        highres_proposals: HighResProposalMap | None = None,
        query_nms_iou: float | None = None,
    ) -> None:
        super().__init__()
        if d_model % 8:
            raise ValueError(f"d_model must be a multiple of 8 (box sine embedding), got {d_model}")
        if query_nms_iou is not None and not 0.0 < query_nms_iou <= 1.0:
            raise ValueError(f"query_nms_iou must be in (0, 1] or None, got {query_nms_iou}")
        self.num_queries = num_queries
        # None: queries at the best proposals (stride-4 map: at its score peaks); else distinct
        # queries, the best proposals after a box NMS at this IoU (highres_proposals.py)
        self.query_nms_iou = query_nms_iou
        # None: every stride-16 token proposes; else every cell of this stride-4 map does, and
        # queries are taken at the map's score peaks (modeling/highres_proposals.py)
        self.highres_proposals = highres_proposals
        self.proposal_proj = nn.Sequential(nn.Linear(d_model, d_model), nn.LayerNorm(d_model))
        self.proposal_class = nn.Linear(d_model, num_classes)
        self.proposal_box = MLP(d_model, d_model, 4, num_layers=3)
        nn.init.constant_(self.proposal_class.bias, -math.log((1 - PRIOR_PROB) / PRIOR_PROB))
        nn.init.zeros_(self.proposal_box.layers[-1].weight)  # proposals start at the anchors
        nn.init.zeros_(self.proposal_box.layers[-1].bias)
        self.query_pos_head = MLP(d_model, d_model, d_model, num_layers=2)
        self.layers = nn.ModuleList(
            [
                DetrDecoderLayer(
                    d_model=d_model,
                    num_heads=num_heads,
                    dim_feedforward=dim_feedforward,
                    dropout=dropout,
                )
                for _ in range(num_layers)
            ]
        )
        self.norm = nn.LayerNorm(d_model)
        # content of denoising queries (training only); absent unless asked for, so models
        # trained without denoising keep their checkpoints
        self.denoising_label_embed = nn.Embedding(num_classes, d_model) if use_denoising else None

    def denoising_inputs(
        self, denoising: DenoisingQueries, num_matching: int
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Content (B, D, d), position (B, D, d) and the (N + D, N + D) self-attention mask."""
        if self.denoising_label_embed is None:
            raise ValueError(
                "denoising queries need a decoder built with use_denoising=True "
                "(set model.decoder.use_denoising: true), got a decoder without it"
            )
        boxes = denoising.boxes_cxcywh
        content = self.denoising_label_embed(denoising.labels)  # (B, D, d)
        position = self.query_pos_head(box_sine_embedding(boxes, content.shape[-1]))  # (B, D, d)
        mask = denoising_attn_mask(
            num_matching, denoising.num_groups, 2 * denoising.group_targets, boxes.device
        )
        return content, position, mask

    def proposal_tokens(self, features: Tensor, high_res: Tensor | None) -> Tensor:
        """(B, P, d) features of the P cells that propose: the g*g tokens or, with a stride-4
        proposal map, its G*G cells (``high_res`` (B, d, G, G) required then)."""
        if self.highres_proposals is None:
            return features.flatten(2).transpose(1, 2)  # (B, g*g, d)
        if high_res is None:
            raise ValueError(
                "this decoder proposes from the stride-4 map (model.decoder.proposal_level: "
                "highres) and needs high_res (B, d, 4g, 4g), got None"
            )
        return self.highres_proposals(high_res).flatten(2).transpose(1, 2)  # (B, P, d)

    def select_queries(self, proposal_logits: Tensor, proposal_boxes: Tensor) -> Tensor:
        """(B, P, C) proposal logits and (B, P, 4) boxes -> (B, N) indices of the cells that
        become queries: the best-scoring ones (best class), with a stride-4 map only at its
        score peaks, or with ``query_nms_iou`` the best distinct ones."""
        num_cells = proposal_logits.shape[1]
        scores = proposal_logits.detach().amax(dim=-1)  # (B, P)
        if self.query_nms_iou is not None:
            return distinct_queries(
                scores,
                proposal_boxes.detach(),
                self.num_queries,
                self.query_nms_iou,
                DISTINCT_CANDIDATES_PER_QUERY * self.num_queries,
            )
        if self.highres_proposals is not None:
            scores = peak_scores(scores, math.isqrt(num_cells))
        return scores.topk(min(self.num_queries, num_cells), dim=1).indices  # (B, N)

    def forward(
        self,
        features: Tensor,
        pos: Tensor,
        denoising: DenoisingQueries | None = None,
        high_res: Tensor | None = None,
    ) -> DecoderOutput:
        """Propose, select and decode object queries.

        Args:
            features: (B, d, g, g) memory-conditioned frame features.
            pos: (B, d, g, g) their position encoding.
            denoising: training-only noised ground truth (D queries per frame) decoded with the
                selected queries behind an attention mask; None (inference): none.
            high_res: (B, d, 4g, 4g) the encoder's stride-4 level; read only by a decoder with
                a stride-4 proposal map.
        """
        batch, d_model = features.shape[:2]
        memory = features.flatten(2).transpose(1, 2)  # (B, g*g, d)
        memory_pos = pos.flatten(2).transpose(1, 2)  # (B, g*g, d)
        proposal_features = self.proposal_proj(
            self.proposal_tokens(features, high_res)
        )  # (B, P, d)
        grid = math.isqrt(proposal_features.shape[1])  # proposing cells per side
        proposal_logits = self.proposal_class(proposal_features)  # (B, P, C)
        anchors = inverse_sigmoid(token_anchors(grid, features.device))  # (P, 4)
        proposal_boxes = (anchors + self.proposal_box(proposal_features)).sigmoid()  # (B, P, 4)
        top = self.select_queries(proposal_logits, proposal_boxes)  # (B, N)
        num_queries = top.shape[1]
        reference = proposal_boxes.detach().gather(1, top[..., None].expand(-1, -1, 4))
        tgt = proposal_features.detach().gather(1, top[..., None].expand(-1, -1, d_model))
        query_pos = self.query_pos_head(box_sine_embedding(reference, d_model))  # (B, N, d)
        mask = None
        if denoising is not None:
            content, position, mask = self.denoising_inputs(denoising, num_queries)
            tgt = torch.cat([tgt, content], dim=1)  # (B, N + D, d)
            query_pos = torch.cat([query_pos, position], dim=1)  # (B, N + D, d)
        states = []
        for layer in self.layers:
            tgt = layer(tgt, query_pos, memory, memory_pos, mask)
            states.append(self.norm(tgt))
        states = torch.stack(states)  # (L, B, N [+ D], d)
        return DecoderOutput(
            states=states[:, :, :num_queries],
            reference_boxes=reference,
            proposal_logits=proposal_logits,
            proposal_boxes=proposal_boxes,
            denoising_states=states[:, :, num_queries:] if denoising is not None else None,
            denoising_reference=denoising.boxes_cxcywh if denoising is not None else None,
        )
