"""Enhanced memory encoder: SAM 2 mask memory plus detection memory tokens.

The mask memory reuses ``sam2``'s ``MemoryEncoder`` (mask downsampler, pixel-feature fusion with
ConvNeXt blocks, sine position encoding). Detection memory tokens summarize a box: an MLP of its
normalized coordinates, a soft class embedding and the patch embeddings pooled under the box.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from sam2.modeling.memory_encoder import CXBlock, Fuser, MaskDownSampler, MemoryEncoder
from sam2.modeling.position_encoding import PositionEmbeddingSine
from sam2.modeling.sam2_utils import MLP
from torch import Tensor, nn

from sam2_enhanced.box_ops import cxcywh_to_xyxy

POOL_GRID = 2  # samples per side when pooling patch embeddings under a box


@dataclass
class MaskMemory:
    """Spatial memory of B objects for one frame."""

    features: Tensor  # (B, mem_dim, g, g)
    pos: Tensor  # (B, mem_dim, g, g) sine position encoding


class DetectionTokenEncoder(nn.Module):
    """Boxes + class probabilities + pooled patch embeddings -> ``mem_dim`` tokens."""

    def __init__(self, *, d_model: int, mem_dim: int, num_classes: int) -> None:
        super().__init__()
        self.box_mlp = MLP(4, mem_dim, mem_dim, num_layers=2)
        self.class_proj = nn.Linear(num_classes, mem_dim, bias=False)
        self.patch_proj = nn.Linear(d_model, mem_dim)
        self.norm = nn.LayerNorm(mem_dim)

    def pool(self, features: Tensor, boxes_cxcywh: Tensor) -> Tensor:
        """Mean of bilinear samples inside each box: (B, d, g, g), (B, K, 4) -> (B, K, d)."""
        batch, num_boxes, _ = boxes_cxcywh.shape
        steps = (torch.arange(POOL_GRID, device=features.device) + 0.5) / POOL_GRID
        x0, y0, x1, y1 = cxcywh_to_xyxy(boxes_cxcywh).unbind(-1)  # each (B, K)
        xs = x0[..., None] + (x1 - x0)[..., None] * steps  # (B, K, P)
        ys = y0[..., None] + (y1 - y0)[..., None] * steps  # (B, K, P)
        grid = torch.stack(
            [
                xs[:, :, None, :].expand(-1, -1, POOL_GRID, -1),
                ys[:, :, :, None].expand(-1, -1, -1, POOL_GRID),
            ],
            dim=-1,
        ).reshape(batch, num_boxes, POOL_GRID * POOL_GRID, 2)  # (B, K, P*P, 2)
        sampled = F.grid_sample(features, grid * 2 - 1, mode="bilinear", align_corners=False)
        return sampled.mean(dim=-1).transpose(1, 2)  # (B, K, d)

    def forward(self, features: Tensor, boxes_cxcywh: Tensor, class_probs: Tensor) -> Tensor:
        """Encode boxes.

        Args:
            features: (B, d, g, g) frame features (before memory attention).
            boxes_cxcywh: (B, K, 4) normalized boxes (K may be 0).
            class_probs: (B, K, num_classes) class probabilities (zeros when unknown).
        Returns:
            (B, K, mem_dim) detection memory tokens.
        """
        pooled = self.pool(features, boxes_cxcywh)
        tokens = self.box_mlp(boxes_cxcywh) + self.class_proj(class_probs) + self.patch_proj(pooled)
        return self.norm(tokens)


class EnhancedMemoryEncoder(nn.Module):
    """Turns masks, boxes and patch embeddings into memories."""

    def __init__(
        self,
        *,
        d_model: int,
        mem_dim: int,
        num_classes: int,
        num_fuser_layers: int,
        mask_stride: int,
    ) -> None:
        super().__init__()
        self.mask_memory = MemoryEncoder(
            out_dim=mem_dim,
            mask_downsampler=MaskDownSampler(
                embed_dim=d_model, kernel_size=3, stride=2, padding=1, total_stride=mask_stride
            ),
            fuser=Fuser(
                CXBlock(
                    dim=d_model,
                    kernel_size=7,
                    padding=3,
                    layer_scale_init_value=1e-6,
                    use_dwconv=True,
                ),
                num_layers=num_fuser_layers,
            ),
            position_encoding=PositionEmbeddingSine(num_pos_feats=mem_dim, normalize=True),
            in_dim=d_model,
        )
        self.det_tokens = DetectionTokenEncoder(
            d_model=d_model, mem_dim=mem_dim, num_classes=num_classes
        )
        self.no_obj_embed_spatial = nn.Parameter(torch.zeros(1, mem_dim))
        nn.init.trunc_normal_(self.no_obj_embed_spatial, std=0.02)
        self.mask_scale = 20.0  # SAM 2.1's sigmoid_scale_for_mem_enc
        self.mask_bias = -10.0  # SAM 2.1's sigmoid_bias_for_mem_enc

    def encode_masks(
        self,
        features: Tensor,
        mask_logits: Tensor,
        object_score_logits: Tensor,
        binarize: Tensor,
    ) -> MaskMemory:
        """Mask memory of B objects.

        Args:
            features: (B, d, g, g) frame features (before memory attention, as SAM 2).
            mask_logits: (B, 1, 4g, 4g) predicted mask logits.
            object_score_logits: (B, 1) visibility logits (absent objects get a learned embed).
            binarize: (B,) bool, use the hard mask (prompted frames, as SAM 2).
        """
        probs = torch.where(
            binarize.view(-1, 1, 1, 1), (mask_logits > 0).float(), mask_logits.sigmoid()
        )
        probs = probs * self.mask_scale + self.mask_bias
        out = self.mask_memory(features, probs, skip_mask_sigmoid=True)
        memory = out["vision_features"]  # (B, mem_dim, g, g)
        absent = (object_score_logits <= 0).float()[..., None, None]  # (B, 1, 1, 1)
        memory = memory + absent * self.no_obj_embed_spatial[..., None, None]
        return MaskMemory(features=memory, pos=out["vision_pos_enc"][0])
