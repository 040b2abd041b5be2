"""Builders: the only place that sees the whole :class:`ModelConfig`.

``build_model(cfg)`` assembles the model parts of :mod:`sam2_enhanced.modeling` from one config.
Import direction: model parts -> this module -> :mod:`sam2_enhanced.weights` (checkpoints) ->
the predictor -> the command line; nothing here imports ``weights`` or the predictor (its builder,
``build_predictor``, lives in :mod:`sam2_enhanced.predictor_build`).
"""

from __future__ import annotations

from transformers import Dinov2Model

from sam2_enhanced.config import ModelConfig
from sam2_enhanced.modeling.detection_head import DetectionHead, SmallObjectRefinementHead
from sam2_enhanced.modeling.detr_decoder import DetrDecoder
from sam2_enhanced.modeling.dinov2_encoder import DINOv2Encoder, build_dinov2_config
from sam2_enhanced.modeling.dinov2_weights import load_dinov2_weights, read_dinov2_checkpoint
from sam2_enhanced.modeling.duplicate_suppression import DuplicateSuppression
from sam2_enhanced.modeling.enhanced_memory_attention import EnhancedMemoryAttention
from sam2_enhanced.modeling.enhanced_memory_encoder import EnhancedMemoryEncoder
from sam2_enhanced.modeling.highres_proposals import HighResProposalMap
from sam2_enhanced.modeling.motion_branch import MotionBranch
from sam2_enhanced.modeling.sam2_base_enhanced import SAM2EnhancedBase
from sam2_enhanced.modeling.sam_mask_head import SamMaskHead


def build_vit(cfg: ModelConfig) -> Dinov2Model:
    """DINOv2 ViT of the configured geometry; real weights from ``encoder.pretrained`` if set.

    A checkpoint whose geometry differs from the config raises ``ValueError`` listing the keys.
    """
    enc = cfg.encoder
    vit = Dinov2Model(
        build_dinov2_config(
            image_size=enc.image_size,
            patch_size=enc.patch_size,
            hidden_size=enc.hidden_size,
            num_layers=enc.num_layers,
            num_heads=enc.num_heads,
            mlp_ratio=enc.mlp_ratio,
        )
    )
    if enc.pretrained:
        load_dinov2_weights(vit, read_dinov2_checkpoint(enc.pretrained))
    return vit


def build_model(cfg: ModelConfig) -> SAM2EnhancedBase:
    """Build an (untrained unless ``encoder.pretrained``) model from its config."""
    d_model = cfg.d_model
    grid = cfg.encoder.grid_size
    mem_dim = cfg.memory_encoder.mem_dim
    attn = cfg.memory_attention
    model = SAM2EnhancedBase(
        encoder=DINOv2Encoder(
            vit=build_vit(cfg),
            image_size=cfg.encoder.image_size,
            d_model=d_model,
            highres_dim=cfg.encoder.highres_dim,
            pixel_mean=cfg.encoder.pixel_mean,
            pixel_std=cfg.encoder.pixel_std,
        ),
        memory_attention=EnhancedMemoryAttention(
            d_model=d_model,
            mem_dim=mem_dim,
            grid_size=grid,
            num_layers=attn.num_layers,
            num_heads=attn.num_heads,
            dim_feedforward=attn.dim_feedforward,
            dropout=attn.dropout,
            rope_theta=attn.rope_theta,
            ptr_time_scale=cfg.memory_bank.max_obj_ptrs,
        ),
        detr_decoder=DetrDecoder(
            d_model=d_model,
            num_queries=cfg.decoder.num_queries,
            num_classes=cfg.heads.num_classes,
            num_layers=cfg.decoder.num_layers,
            num_heads=cfg.decoder.num_heads,
            dim_feedforward=cfg.decoder.dim_feedforward,
            dropout=cfg.decoder.dropout,
            use_denoising=cfg.decoder.use_denoising,
            highres_proposals=(
                HighResProposalMap(
                    d_model=d_model, context_dilations=cfg.decoder.proposal_context_dilations
                )
                if cfg.decoder.proposal_level == "highres"
                else None
            ),
            query_nms_iou=cfg.decoder.query_nms_iou,
        ),
        detection_head=DetectionHead(d_model=d_model, num_classes=cfg.heads.num_classes),
        refinement_head=SmallObjectRefinementHead(
            d_model=d_model,
            feature_dim=d_model,
            image_size=cfg.encoder.image_size,
            small_object_size=cfg.heads.small_object_size,
            grid=cfg.heads.refine_grid,
            hidden_dim=cfg.heads.refine_hidden_dim,
            num_steps=cfg.heads.refine_steps,
        ),
        mask_head=SamMaskHead(
            d_model=d_model,
            grid_size=grid,
            image_size=cfg.encoder.image_size,
            num_layers=cfg.mask_decoder.num_layers,
            num_heads=cfg.mask_decoder.num_heads,
            mlp_dim=cfg.mask_decoder.mlp_dim,
            num_multimask_outputs=cfg.mask_decoder.num_multimask_outputs,
            iou_head_hidden_dim=cfg.mask_decoder.iou_head_hidden_dim,
            use_dense_prompt_prior=cfg.mask_decoder.use_dense_prompt_prior,
            previous_centre_prompt=cfg.mask_decoder.previous_centre_prompt,
        ),
        memory_encoder=EnhancedMemoryEncoder(
            d_model=d_model,
            mem_dim=mem_dim,
            num_classes=cfg.heads.num_classes,
            num_fuser_layers=cfg.memory_encoder.num_fuser_layers,
            mask_stride=4,
        ),
        num_det_tokens=cfg.memory_encoder.num_det_tokens,
        det_token_threshold=cfg.memory_encoder.det_token_threshold,
        duplicate_suppression=(
            DuplicateSuppression(iou_threshold=cfg.heads.nms_iou)
            if cfg.heads.nms_iou is not None
            else None
        ),
        motion_branch=(
            MotionBranch(
                hidden_dim=cfg.decoder.motion_dim,
                d_model=d_model,
                use_alignment=cfg.decoder.use_motion_alignment,
            )
            if cfg.decoder.motion_dim > 0
            else None
        ),
    )
    model.config = cfg
    return model
