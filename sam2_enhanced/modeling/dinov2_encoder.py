"""DINOv2 backbone (``transformers``) and a multi-scale neck with a high-resolution branch.

The ViT sees ``image_size`` pixels as a ``g x g`` grid of 14-px patches. The neck turns the patch
tokens into three ``d_model``-channel maps at ``g``, ``2g`` and ``4g`` (SAM 2's stride 16 / 8 / 4
levels; here nominal strides 14 / 7 / 3.5 px). A light convolutional branch on raw pixels is added
at every level so that objects smaller than one patch still leave a trace.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from sam2.modeling.position_encoding import PositionEmbeddingSine
from torch import Tensor, nn
from transformers import Dinov2Config, Dinov2Model


@dataclass
class EncoderOutput:
    """Features of one batch of frames."""

    features: Tensor  # (B, d, g, g) stride-16 level: what memory attention and decoders read
    pos: Tensor  # (B, d, g, g) sine position encoding of ``features``
    fpn_s1: Tensor  # (B, d, 2g, 2g) stride-8 level
    fpn_s0: Tensor  # (B, d, 4g, 4g) stride-4 level (mask decoder and small-object refinement)
    motion: Tensor | None = None  # (B, d, 4g, 4g) the detector's motion map added to fpn_s0
    # (``modeling/motion_branch.py``); None: no motion branch or no neighbouring frame

    def select(self, index: Tensor | slice) -> EncoderOutput:
        """Rows ``index`` of every field (e.g. expand one frame to several objects)."""
        return EncoderOutput(
            self.features[index],
            self.pos[index],
            self.fpn_s1[index],
            self.fpn_s0[index],
            None if self.motion is None else self.motion[index],
        )

    @property
    def detection_s0(self) -> Tensor:
        """(B, d, 4g, 4g) the stride-4 level the detector reads: ``fpn_s0`` plus motion."""
        return self.fpn_s0 if self.motion is None else self.fpn_s0 + self.motion


def build_dinov2_config(
    *,
    image_size: int,
    patch_size: int,
    hidden_size: int,
    num_layers: int,
    num_heads: int,
    mlp_ratio: int,
) -> Dinov2Config:
    """A ``transformers`` DINOv2 config with the given geometry (no weights involved)."""
    return Dinov2Config(
        image_size=image_size,
        patch_size=patch_size,
        hidden_size=hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        mlp_ratio=mlp_ratio,
    )


class HighResBranch(nn.Module):
    """Two stride-2 convolutions on raw pixels: a cheap stride-4 map of fine detail."""

    def __init__(self, *, out_dim: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(3, out_dim, kernel_size=3, stride=2, padding=1),
            nn.GELU(),
            nn.Conv2d(out_dim, out_dim, kernel_size=3, stride=2, padding=1),
            nn.GELU(),
        )

    def forward(self, pixels: Tensor) -> Tensor:
        """(B, 3, S, S) normalized pixels -> (B, highres_dim, S/4, S/4)."""
        return self.net(pixels)


class MultiScaleNeck(nn.Module):
    """Patch tokens + high-res branch -> ``d_model`` maps at g, 2g and 4g."""

    def __init__(self, *, vit_dim: int, d_model: int, highres_dim: int) -> None:
        super().__init__()
        self.token_proj = nn.Conv2d(vit_dim, d_model, kernel_size=1)
        self.highres_proj = nn.ModuleList(
            [nn.Conv2d(highres_dim, d_model, kernel_size=1) for _ in range(3)]
        )
        self.smooth = nn.ModuleList(
            [nn.Conv2d(d_model, d_model, 3, padding=1, groups=d_model) for _ in range(2)]
        )

    def forward(self, tokens: Tensor, highres: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Tokens (B, C_vit, g, g) and high-res map (B, h, S/4, S/4) -> levels g, 2g, 4g."""
        g = tokens.shape[-1]
        levels = []
        x = self.token_proj(tokens)  # (B, d, g, g)
        for i, scale in enumerate((1, 2, 4)):
            if scale > 1:
                x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
            detail = F.interpolate(
                highres,
                size=(g * scale, g * scale),
                mode="bilinear",
                align_corners=False,
                antialias=scale == 1,
            )
            x = x + self.highres_proj[i](detail)  # (B, d, g*scale, g*scale)
            if scale > 1:
                x = x + self.smooth[i - 1](x)
            levels.append(x)
        return levels[0], levels[1], levels[2]


class DINOv2Encoder(nn.Module):
    """DINOv2 ViT + multi-scale neck. Input frames are RGB in [0, 1] at ``image_size``."""

    def __init__(
        self,
        *,
        vit: Dinov2Model,
        image_size: int,
        d_model: int,
        highres_dim: int,
        pixel_mean: tuple[float, float, float],
        pixel_std: tuple[float, float, float],
    ) -> None:
        super().__init__()
        self.vit = vit
        # DINOv2's mask token only serves masked-image pretraining, which this model never runs
        self.vit.embeddings.mask_token.requires_grad_(False)
        self.image_size = image_size
        self.patch_size = vit.config.patch_size
        self.grid_size = image_size // self.patch_size
        self.highres = HighResBranch(out_dim=highres_dim)
        self.neck = MultiScaleNeck(
            vit_dim=vit.config.hidden_size, d_model=d_model, highres_dim=highres_dim
        )
        self.position_encoding = PositionEmbeddingSine(num_pos_feats=d_model, normalize=True)
        self.register_buffer("pixel_mean", torch.tensor(pixel_mean).view(1, 3, 1, 1), False)
        self.register_buffer("pixel_std", torch.tensor(pixel_std).view(1, 3, 1, 1), False)

    def forward(self, images: Tensor) -> EncoderOutput:
        """Encode frames.

        Args:
            images: (B, 3, S, S) float RGB in [0, 1], ``S == image_size``.
        Returns:
            :class:`EncoderOutput` with maps at g, 2g and 4g, ``g = S // patch_size``.
        """
        if images.ndim != 4 or images.shape[1] != 3:
            raise ValueError(f"images must be (B, 3, H, W), got shape {tuple(images.shape)}")
        if images.shape[-2:] != (self.image_size, self.image_size):
            raise ValueError(
                f"images must be {self.image_size}x{self.image_size} (the model's image_size), "
                f"got {images.shape[-2]}x{images.shape[-1]}; resize frames first "
                "(the video predictor does this for you)"
            )
        pixels = (images - self.pixel_mean) / self.pixel_std
        hidden = self.vit(pixel_values=pixels).last_hidden_state  # (B, 1 + g*g, C_vit)
        g = self.grid_size
        tokens = (
            hidden[:, 1:].transpose(1, 2).reshape(hidden.shape[0], -1, g, g)
        )  # (B, C_vit, g, g)
        features, fpn_s1, fpn_s0 = self.neck(tokens, self.highres(pixels))
        pos = self.position_encoding(features).to(features.dtype)  # (B, d, g, g)
        return EncoderOutput(features=features, pos=pos, fpn_s1=fpn_s1, fpn_s0=fpn_s0)
