"""SAM 2's own modules under the official ``SAM2Base`` key names, at the tiny config's sizes.

Shared by the weight-converter and trainer tests to write checkpoints in the official layout.
"""

import torch
from sam2.modeling.memory_attention import MemoryAttention, MemoryAttentionLayer
from sam2.modeling.memory_encoder import CXBlock, Fuser, MaskDownSampler, MemoryEncoder
from sam2.modeling.position_encoding import PositionEmbeddingSine
from sam2.modeling.sam.mask_decoder import MaskDecoder
from sam2.modeling.sam.prompt_encoder import PromptEncoder
from sam2.modeling.sam.transformer import RoPEAttention, TwoWayTransformer
from sam2.modeling.sam2_utils import MLP
from torch import nn

D, MEM, G, S = 32, 16, 8, 112  # tiny config: d_model, mem_dim, token grid, image size


class OfficialSam2Parts(nn.Module):
    """The modules of ``SAM2Base`` we reuse, under their official names, at width 32.

    Built like ``configs/sam2.1/sam2.1_hiera_*.yaml`` (SAM 2.1 flags), with the tiny config's
    depths, widths and heads; the mask downsampler has SAM 2's total stride 16.
    """

    def __init__(self):
        super().__init__()
        self.sam_prompt_encoder = PromptEncoder(
            embed_dim=D, image_embedding_size=(G, G), input_image_size=(S, S), mask_in_chans=16
        )
        self.sam_mask_decoder = MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(depth=2, embedding_dim=D, mlp_dim=64, num_heads=2),
            transformer_dim=D,
            iou_head_depth=3,
            iou_head_hidden_dim=32,
            use_high_res_features=True,
            iou_prediction_use_sigmoid=True,
            pred_obj_scores=True,
            pred_obj_scores_mlp=True,
            use_multimask_token_for_obj_ptr=True,
        )
        self.obj_ptr_proj = MLP(D, D, D, 3)
        self.obj_ptr_tpos_proj = nn.Linear(D, MEM)
        rope = dict(rope_theta=10000.0, feat_sizes=(G, G), num_heads=1, downsample_rate=1)
        self.memory_attention = MemoryAttention(
            d_model=D,
            pos_enc_at_input=True,
            num_layers=2,
            layer=MemoryAttentionLayer(
                activation="relu",
                cross_attention=RoPEAttention(
                    embedding_dim=D, dropout=0.0, kv_in_dim=MEM, rope_k_repeat=True, **rope
                ),
                d_model=D,
                dim_feedforward=64,
                dropout=0.0,
                pos_enc_at_attn=False,
                pos_enc_at_cross_attn_keys=True,
                pos_enc_at_cross_attn_queries=False,
                self_attention=RoPEAttention(embedding_dim=D, dropout=0.0, **rope),
            ),
        )
        self.memory_encoder = MemoryEncoder(
            out_dim=MEM,
            mask_downsampler=MaskDownSampler(embed_dim=D, kernel_size=3, stride=2, padding=1),
            fuser=Fuser(CXBlock(dim=D, kernel_size=7, padding=3, use_dwconv=True), num_layers=1),
            position_encoding=PositionEmbeddingSine(num_pos_feats=MEM, normalize=True),
            in_dim=D,
        )
        self.maskmem_tpos_enc = nn.Parameter(torch.zeros(7, 1, 1, MEM))
        self.no_mem_embed = nn.Parameter(torch.zeros(1, 1, D))
        self.no_mem_pos_enc = nn.Parameter(torch.zeros(1, 1, D))
        self.no_obj_ptr = nn.Parameter(torch.zeros(1, D))
        self.no_obj_embed_spatial = nn.Parameter(torch.zeros(1, MEM))
        self.mask_downsample = nn.Conv2d(1, 1, kernel_size=4, stride=4)
        torch.manual_seed(3)
        with torch.no_grad():
            for param in self.parameters():
                param.normal_(0.0, 0.2)
        self.eval()


HIERA_KEYS = {  # a few image-encoder tensors: present in every official file, never used by us
    "image_encoder.trunk.pos_embed": torch.zeros(1, 8, 7, 7),
    "image_encoder.trunk.blocks.0.attn.qkv.weight": torch.zeros(24, 8),
    "image_encoder.neck.convs.0.conv.weight": torch.zeros(D, 64, 1, 1),
}
