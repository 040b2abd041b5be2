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

from sam2_enhanced.box_ops import masks_to_boxes_xyxy

NO_OBJ_SCORE = -1024.0  # mask logit used where the object is judged absent (as SAM 2)
BOX_LABELS = (2, 3)  # SAM's point labels of the top-left and bottom-right box corners
POSITIVE_LABEL = 1  # SAM's label of a positive click


def rasterize_prompts(
    point_coords: Tensor, point_labels: Tensor, image_size: int, mask_size: int
) -> tuple[Tensor, Tensor]:
    """Boxes and positive clicks drawn as binary masks on the ``mask_size`` grid.

    A box marks every cell it overlaps (so a box smaller than a cell still marks one), a
    positive click the cell it falls in; negative clicks and padding mark nothing.

    Args:
        point_coords: (B, P, 2) points in model-input pixels (x, y).
        point_labels: (B, P) int labels (2/3 box corners, 1 positive, 0 negative, -1 padding).

    Returns:
        (B, 1, m, m) float {0, 1} masks and (B,) bool, True where a row marked any cell.
    """
    cell = image_size / mask_size
    edges = torch.arange(mask_size, device=point_coords.device, dtype=point_coords.dtype) * cell
    lo, hi = edges, edges + cell  # (m,) left/top and right/bottom edge of each cell
    is_corner0 = point_labels == BOX_LABELS[0]  # (B, P)
    is_corner1 = point_labels == BOX_LABELS[1]
    has_box = is_corner0.any(dim=1) & is_corner1.any(dim=1)  # (B,)
    # the first corner of each kind; rows without a box get a dummy box that has_box masks out
    corner0 = point_coords[torch.arange(len(point_coords)), is_corner0.int().argmax(dim=1)]
    corner1 = point_coords[torch.arange(len(point_coords)), is_corner1.int().argmax(dim=1)]
    x0, y0 = torch.minimum(corner0, corner1).unbind(-1)  # (B,) each
    x1, y1 = torch.maximum(corner0, corner1).unbind(-1)
    in_x = (hi[None] > x0[:, None]) & (lo[None] < torch.maximum(x1, x0 + 1e-3)[:, None])  # (B, m)
    in_y = (hi[None] > y0[:, None]) & (lo[None] < torch.maximum(y1, y0 + 1e-3)[:, None])
    boxes = in_y[:, :, None] & in_x[:, None, :] & has_box[:, None, None]  # (B, m, m)
    positive = point_labels == POSITIVE_LABEL  # (B, P)
    col = (point_coords[..., 0] / cell).floor().long().clamp(0, mask_size - 1)  # (B, P)
    row = (point_coords[..., 1] / cell).floor().long().clamp(0, mask_size - 1)
    flat = torch.zeros(len(point_coords), mask_size * mask_size, device=point_coords.device)
    flat.scatter_add_(1, row * mask_size + col, positive.float())  # (B, m*m) clicks per cell
    masks = boxes | (flat.view(-1, mask_size, mask_size) > 0)  # (B, m, m)
    return masks[:, None].float(), masks.flatten(1).any(dim=1)


def previous_centre_prompt(previous_logits: Tensor, image_size: int) -> tuple[Tensor, Tensor]:
    """A positive click at the centre of each object's mask box on the previous frame.

    The click is drawn by :func:`rasterize_prompts`, like a user's click. Only the position is
    passed on, not the previous mask: a decoder that copies a drawn region into its output would
    otherwise grow or keep an error from frame to frame.

    Args:
        previous_logits: (B, 1, m, m) mask logits of the previous frame (-1024 rows: absent).
        image_size: model-input side in pixels.

    Returns:
        (B, 1, m, m) float {0, 1} masks and (B,) bool, True where the previous mask was not empty.
    """
    mask_size = previous_logits.shape[-1]
    boxes = masks_to_boxes_xyxy(previous_logits[:, 0] > 0)  # (B, 4) in cells, NaN rows if empty
    present = ~torch.isnan(boxes[:, 0])
    centre = (boxes[:, :2] + boxes[:, 2:]).nan_to_num(0.0) / 2 * (image_size / mask_size)
    labels = torch.where(present, POSITIVE_LABEL, -1).to(torch.int32)[:, None]  # (B, 1)
    return rasterize_prompts(centre[:, None], labels, image_size, mask_size)


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
        use_dense_prompt_prior: bool = False,
        previous_centre_prompt: bool = False,
    ) -> None:
        super().__init__()
        self.image_size = image_size
        self.use_dense_prompt_prior = use_dense_prompt_prior
        self.previous_centre_prompt = previous_centre_prompt
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

    def embed_dense(
        self,
        mask_inputs: Tensor | None,
        has_mask: Tensor,
        point_coords: Tensor,
        point_labels: Tensor,
        previous_logits: Tensor | None = None,
    ) -> Tensor:
        """Dense prompt embeddings (B, d, g, g).

        Rows with a mask prompt embed it; with ``use_dense_prompt_prior``, rows with a box or
        positive clicks embed them drawn as a mask (:func:`rasterize_prompts`), which places the
        prompt on the token grid directly instead of only through positional encodings; with
        ``previous_centre_prompt`` and ``previous_logits`` (B, 1, m, m), unprompted rows embed a
        click at the centre of the object's previous mask (:func:`previous_centre_prompt`); the
        other rows get SAM's learned ``no_mask_embed``.
        """
        batch = point_coords.shape[0]
        grid = self.prompt_encoder.image_embedding_size
        no_mask = self.prompt_encoder.no_mask_embed.weight.reshape(1, -1, 1, 1)
        dense = no_mask.expand(batch, -1, grid[0], grid[1])  # (B, d, g, g)
        use_mask = has_mask if mask_inputs is not None else torch.zeros_like(has_mask)
        if self.use_dense_prompt_prior:
            drawn, has_drawn = rasterize_prompts(
                point_coords, point_labels, self.image_size, self.mask_input_size[0]
            )
            if mask_inputs is not None:
                drawn = torch.where(has_mask.view(-1, 1, 1, 1), mask_inputs, drawn)
            mask_inputs, use_mask = drawn, use_mask | has_drawn
        if previous_logits is not None and self.previous_centre_prompt:
            previous, has_previous = previous_centre_prompt(previous_logits, self.image_size)
            take = has_previous & ~use_mask  # a prompt on this frame wins over the centre click
            if mask_inputs is not None:
                previous = torch.where(take.view(-1, 1, 1, 1), previous, mask_inputs)
            mask_inputs, use_mask = previous, use_mask | take
        if not bool(use_mask.any()):
            return dense
        embedded = self.prompt_encoder.mask_downscaling(mask_inputs)  # (B, d, g, g)
        return torch.where(use_mask.view(-1, 1, 1, 1), embedded, dense)

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
        previous_logits: Tensor | None = None,
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
            previous_logits: (B, 1, 4g, 4g) mask logits of each object on the previous frame
                (used with ``previous_centre_prompt``; -1024 rows: none), or None.
        """
        batch = features.shape[0]
        sparse, _ = self.prompt_encoder(points=(point_coords, point_labels), boxes=None, masks=None)
        dense = self.embed_dense(mask_inputs, has_mask, point_coords, point_labels, previous_logits)
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
