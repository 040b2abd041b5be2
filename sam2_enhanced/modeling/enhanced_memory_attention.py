"""Enhanced memory attention: current-frame features attend to an object's memories.

Memory tokens are of three kinds, concatenated in this order:

1. spatial memories (``S x g*g`` tokens, ``mem_dim`` channels) with sine position encoding plus a
   learned temporal embedding; they get 2-D RoPE in cross-attention;
2. object pointers, each ``d_model`` vector split into ``d_model / mem_dim`` tokens, with a sine
   encoding of how many frames ago it was made;
3. detection memory tokens (boxes, classes, pooled patch embeddings) with a learned type embedding.

Kinds 2 and 3 are excluded from RoPE (SAM 2's ``num_k_exclude_rope``). The layers themselves are
``sam2``'s ``MemoryAttentionLayer`` with ``RoPEAttention``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from sam2.modeling.memory_attention import MemoryAttention, MemoryAttentionLayer
from sam2.modeling.sam.transformer import RoPEAttention
from sam2.modeling.sam2_utils import get_1d_sine_pe
from torch import Tensor, nn

NUM_TIME_BUCKETS = 8  # 0: prompted frame, 1..7: log2-spaced distance in frames


@dataclass
class MemoryTokens:
    """Memory of one object flattened into tokens for cross-attention."""

    tokens: Tensor  # (1, M, mem_dim)
    pos: Tensor  # (1, M, mem_dim)
    num_nonspatial: int  # pointer + detection tokens at the end of ``tokens`` (no RoPE)


def time_bucket(frame_offsets: Tensor, is_cond: Tensor) -> Tensor:
    """(S,) frame distances and prompted flags -> (S,) indices into the temporal embedding."""
    far = 1 + torch.floor(torch.log2(frame_offsets.clamp(min=1).float())).long()
    return torch.where(is_cond, torch.zeros_like(far), far.clamp(max=NUM_TIME_BUCKETS - 1))


class EnhancedMemoryAttention(nn.Module):
    """Conditions one frame's features on memories (spatial, pointers, detection tokens)."""

    def __init__(
        self,
        *,
        d_model: int,
        mem_dim: int,
        grid_size: int,
        num_layers: int,
        num_heads: int,
        dim_feedforward: int,
        dropout: float,
        rope_theta: float,
        ptr_time_scale: int,
    ) -> None:
        super().__init__()
        self.d_model = d_model
        self.mem_dim = mem_dim
        self.ptr_time_scale = max(ptr_time_scale, 1)  # pointer offsets are divided by this
        feat_sizes = (grid_size, grid_size)
        layer = MemoryAttentionLayer(
            activation="relu",
            cross_attention=RoPEAttention(
                embedding_dim=d_model,
                num_heads=num_heads,
                downsample_rate=1,
                dropout=dropout,
                kv_in_dim=mem_dim,
                rope_theta=rope_theta,
                feat_sizes=feat_sizes,
                rope_k_repeat=True,
            ),
            d_model=d_model,
            dim_feedforward=dim_feedforward,
            dropout=dropout,
            pos_enc_at_attn=False,
            pos_enc_at_cross_attn_keys=True,
            pos_enc_at_cross_attn_queries=False,
            self_attention=RoPEAttention(
                embedding_dim=d_model,
                num_heads=num_heads,
                downsample_rate=1,
                dropout=dropout,
                rope_theta=rope_theta,
                feat_sizes=feat_sizes,
            ),
        )
        self.transformer = MemoryAttention(
            d_model=d_model,
            pos_enc_at_input=True,
            layer=layer,
            num_layers=num_layers,
            batch_first=True,
        )
        self.time_embed = nn.Parameter(torch.zeros(NUM_TIME_BUCKETS, mem_dim))
        self.det_type_embed = nn.Parameter(torch.zeros(1, mem_dim))
        self.ptr_time_proj = nn.Linear(d_model, mem_dim)
        self.no_mem_embed = nn.Parameter(torch.zeros(1, 1, d_model))
        nn.init.trunc_normal_(self.time_embed, std=0.02)
        nn.init.trunc_normal_(self.det_type_embed, std=0.02)
        nn.init.trunc_normal_(self.no_mem_embed, std=0.02)

    def build_memory(
        self,
        *,
        features: Tensor,
        feature_pos: Tensor,
        frame_offsets: Tensor,
        is_cond: Tensor,
        obj_ptrs: Tensor,
        ptr_offsets: Tensor,
        det_tokens: Tensor,
    ) -> MemoryTokens:
        """Flatten one object's memories into tokens.

        Args:
            features: (S, mem_dim, g, g) spatial memories (S may be 0).
            feature_pos: (S, mem_dim, g, g) their sine position encodings.
            frame_offsets: (S,) frames between each memory and the current frame.
            is_cond: (S,) bool, memory made on a prompted frame.
            obj_ptrs: (P, d_model) object pointers (P may be 0).
            ptr_offsets: (P,) frames between each pointer and the current frame.
            det_tokens: (K, mem_dim) detection memory tokens (K may be 0).
        """
        num_mem = features.shape[0]
        tokens = features.flatten(2).permute(0, 2, 1).reshape(1, -1, self.mem_dim)  # (1, S*g*g, C)
        time = self.time_embed[time_bucket(frame_offsets, is_cond)]  # (S, C)
        pos = feature_pos.flatten(2).permute(0, 2, 1) + time[:, None, :]  # (S, g*g, C)
        pos = pos.reshape(1, -1, self.mem_dim)  # (1, S*g*g, C)
        split = self.d_model // self.mem_dim
        ptr_tokens = obj_ptrs.reshape(-1, split, self.mem_dim).reshape(1, -1, self.mem_dim)
        ptr_time = get_1d_sine_pe(ptr_offsets.float() / self.ptr_time_scale, dim=self.d_model)
        ptr_pos = self.ptr_time_proj(ptr_time)  # (P, C)
        ptr_pos = ptr_pos.repeat_interleave(split, dim=0)[None]  # (1, P*split, C)
        det_pos = self.det_type_embed.expand(det_tokens.shape[0], -1)[None]  # (1, K, C)
        assert num_mem == frame_offsets.shape[0] == is_cond.shape[0]
        return MemoryTokens(
            tokens=torch.cat([tokens, ptr_tokens, det_tokens[None]], dim=1),
            pos=torch.cat([pos, ptr_pos, det_pos], dim=1),
            num_nonspatial=ptr_tokens.shape[1] + det_tokens.shape[0],
        )

    def forward(self, features: Tensor, pos: Tensor, memory: MemoryTokens | None) -> Tensor:
        """Condition frame features on memory.

        Args:
            features: (B, d, g, g) current-frame features (B rows share ``memory``).
            pos: (B, d, g, g) their position encoding.
            memory: tokens from :meth:`build_memory`, or None when there is no memory yet
                (a learned "no memory" embedding is added instead, as SAM 2 does).
        Returns:
            (B, d, g, g) memory-conditioned features.
        """
        batch, channels, g, _ = features.shape
        if memory is None or memory.tokens.shape[1] == 0:
            return features + self.no_mem_embed.view(1, channels, 1, 1)
        curr = features.flatten(2).permute(2, 0, 1)  # (g*g, B, d) sequence-first for sam2
        curr_pos = pos.flatten(2).permute(2, 0, 1)  # (g*g, B, d)
        mem = memory.tokens.expand(batch, -1, -1).transpose(0, 1)  # (M, B, C)
        mem_pos = memory.pos.expand(batch, -1, -1).transpose(0, 1)  # (M, B, C)
        out = self.transformer(
            curr=curr,
            curr_pos=curr_pos,
            memory=mem,
            memory_pos=mem_pos,
            num_obj_ptr_tokens=memory.num_nonspatial,
        )  # (g*g, B, d)
        return out.permute(1, 2, 0).reshape(batch, channels, g, g)  # (B, d, g, g)
