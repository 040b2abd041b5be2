"""SAM 2 prompt encoder + mask decoder (from the ``sam2`` package) for per-object masks.

Takes memory-conditioned features of each object and its prompts, returns mask logits at 4x the
token grid, the mask decoder's IoU estimates, an occlusion (object) score and the object pointer
that later frames attend to. Mirrors ``SAM2Base._forward_sam_heads`` (SAM 2.1 settings:
multimask tokens for pointers, MLP pointer projection, soft no-object pointer).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from sam2.modeling.sam.mask_decoder import MaskDecoder
from sam2.modeling.sam.prompt_encoder import PromptEncoder
from sam2.modeling.sam.transformer import TwoWayTransformer
from sam2.modeling.sam2_utils import MLP
from torch import Tensor, nn

NO_OBJ_SCORE = -1024.0  # mask logit used where the object is judged absent (as SAM 2)


@dataclass
class MaskHeadOutput:
    """Mask decoder outputs for B objects."""

    mask_logits: Tensor  # (B, 1, 4g, 4g) best mask
    multimask_logits: Tensor  # (B, M, 4g, 4g) all candidates (M = 1 or num_multimask_outputs)
    iou_preds: Tensor  # (B, M) predicted IoU of each candidate
    object_score_logits: Tensor  # (B, 1) > 0 when the object is visible
    obj_ptr: Tensor  # (B, d) object pointer


class SamMaskHead(nn.Module):
    """Prompt encoder + two-way-transformer mask decoder + object-pointer projection."""

    def __init__(
        self,
        *,
        d_model: int,
        grid_size: int,
        image_size: int,
        num_layers: int,
        num_heads: int,
        mlp_dim: int,
        num_multimask_outputs: int,
        iou_head_hidden_dim: int,
    ) -> None:
        super().__init__()
        self.prompt_encoder = PromptEncoder(
            embed_dim=d_model,
            image_embedding_size=(grid_size, grid_size),
            input_image_size=(image_size, image_size),
            mask_in_chans=16,
        )
        self.mask_decoder = MaskDecoder(
            num_multimask_outputs=num_multimask_outputs,
            transformer=TwoWayTransformer(
                depth=num_layers, embedding_dim=d_model, mlp_dim=mlp_dim, num_heads=num_heads
            ),
            transformer_dim=d_model,
            iou_head_depth=3,
            iou_head_hidden_dim=iou_head_hidden_dim,
            use_high_res_features=True,
            iou_prediction_use_sigmoid=True,
            pred_obj_scores=True,
            pred_obj_scores_mlp=True,
            use_multimask_token_for_obj_ptr=True,
        )
        self.obj_ptr_proj = MLP(d_model, d_model, d_model, num_layers=3)
        self.no_obj_ptr = nn.Parameter(torch.zeros(1, d_model))
        nn.init.trunc_normal_(self.no_obj_ptr, std=0.02)

    @property
    def mask_input_size(self) -> tuple[int, int]:
        """Side of mask prompts and output masks: 4x the token grid."""
        return self.prompt_encoder.mask_input_size

    def embed_dense(self, mask_inputs: Tensor | None, has_mask: Tensor, batch: int) -> Tensor:
        """Dense prompt embeddings; rows without a mask get SAM's learned ``no_mask_embed``."""
        grid = self.prompt_encoder.image_embedding_size
        no_mask = self.prompt_encoder.no_mask_embed.weight.reshape(1, -1, 1, 1)
        dense = no_mask.expand(batch, -1, grid[0], grid[1])  # (B, d, g, g)
        if mask_inputs is None or not bool(has_mask.any()):
            return dense
        embedded = self.prompt_encoder.mask_downscaling(mask_inputs)  # (B, d, g, g)
        return torch.where(has_mask.view(-1, 1, 1, 1), embedded, dense)

    def forward(
        self,
        *,
        features: Tensor,
        fpn_s1: Tensor,
        fpn_s0: Tensor,
        point_coords: Tensor,
        point_labels: Tensor,
        mask_inputs: Tensor | None,
        has_mask: Tensor,
        multimask_output: bool,
    ) -> MaskHeadOutput:
        """Decode one mask per object.

        Args:
            features: (B, d, g, g) memory-conditioned features of each object.
            fpn_s1: (B, d, 2g, 2g) and fpn_s0: (B, d, 4g, 4g) high-resolution levels.
            point_coords: (B, P, 2) prompt points in model-input pixels (x, y).
            point_labels: (B, P) int: 1 positive, 0 negative, 2/3 box corners, -1 padding.
            mask_inputs: (B, 1, 4g, 4g) mask prompts in [0, 1], or None.
            has_mask: (B,) bool, which rows carry a mask prompt.
            multimask_output: return the 3 candidates (ambiguous single click) or one mask.
        """
        batch = features.shape[0]
        sparse, _ = self.prompt_encoder(points=(point_coords, point_labels), boxes=None, masks=None)
        dense = self.embed_dense(mask_inputs, has_mask, batch)
        high_res = [self.mask_decoder.conv_s0(fpn_s0), self.mask_decoder.conv_s1(fpn_s1)]
        multimasks, ious, tokens, object_score_logits = self.mask_decoder(
            image_embeddings=features,
            image_pe=self.prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=multimask_output,
            repeat_image=False,
            high_res_features=high_res,
        )
        appearing = object_score_logits > 0  # (B, 1)
        multimasks = torch.where(appearing[:, :, None, None], multimasks.float(), NO_OBJ_SCORE)
        best = ious.argmax(dim=-1)  # (B,)
        rows = torch.arange(batch, device=features.device)
        mask_logits = multimasks[rows, best][:, None]  # (B, 1, 4g, 4g)
        token = tokens[rows, best] if tokens.shape[1] > 1 else tokens[:, 0]  # (B, d)
        visible = object_score_logits.sigmoid()  # (B, 1), soft as SAM 2.1
        obj_ptr = visible * self.obj_ptr_proj(token) + (1 - visible) * self.no_obj_ptr
        if mask_inputs is not None and bool(has_mask.any()):
            # SAM 2 uses a mask prompt directly as that frame's output (logits +-10)
            given = mask_inputs.float() * 20.0 - 10.0  # (B, 1, 4g, 4g)
            mask_logits = torch.where(has_mask.view(-1, 1, 1, 1), given, mask_logits)
        return MaskHeadOutput(
            mask_logits=mask_logits,
            multimask_logits=multimasks,
            iou_preds=ious,
            object_score_logits=object_score_logits,
            obj_ptr=obj_ptr,
        )
