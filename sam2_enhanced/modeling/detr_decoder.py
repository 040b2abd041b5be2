"""DETR transformer decoder: learned object queries attend to memory-conditioned features.

Follows Carion et al. (facebookresearch/detr): queries start at zero with learned positional
embeddings, post-norm layers, and every layer's normalized output is returned so that the
detection head can supervise each layer (auxiliary losses).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


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

    def forward(self, tgt: Tensor, query_pos: Tensor, memory: Tensor, memory_pos: Tensor) -> Tensor:
        """tgt, query_pos (B, N, d); memory, memory_pos (B, L, d) -> (B, N, d)."""
        q = k = tgt + query_pos
        tgt = self.norms[0](tgt + self.dropout(self.self_attn(q, k, tgt, need_weights=False)[0]))
        attended = self.cross_attn(
            tgt + query_pos, memory + memory_pos, memory, need_weights=False
        )[0]
        tgt = self.norms[1](tgt + self.dropout(attended))
        return self.norms[2](tgt + self.dropout(self.mlp(tgt)))


class DetrDecoder(nn.Module):
    """Stack of :class:`DetrDecoderLayer` with ``num_queries`` learned object queries."""

    def __init__(
        self,
        *,
        d_model: int,
        num_queries: int,
        num_layers: int,
        num_heads: int,
        dim_feedforward: int,
        dropout: float,
    ) -> None:
        super().__init__()
        self.query_pos = nn.Embedding(num_queries, d_model)
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

    @property
    def num_queries(self) -> int:
        return self.query_pos.num_embeddings

    def forward(self, features: Tensor, pos: Tensor) -> Tensor:
        """Decode object queries.

        Args:
            features: (B, d, g, g) memory-conditioned frame features.
            pos: (B, d, g, g) their position encoding.
        Returns:
            (L, B, N, d) normalized query states after each of the L layers.
        """
        batch = features.shape[0]
        memory = features.flatten(2).transpose(1, 2)  # (B, g*g, d)
        memory_pos = pos.flatten(2).transpose(1, 2)  # (B, g*g, d)
        query_pos = self.query_pos.weight[None].expand(batch, -1, -1)  # (B, N, d)
        tgt = torch.zeros_like(query_pos)
        states = []
        for layer in self.layers:
            tgt = layer(tgt, query_pos, memory, memory_pos)
            states.append(self.norm(tgt))
        return torch.stack(states)  # (L, B, N, d)
