"""Hand-made features for the online target model: no large-scale pretraining needed.

A correlation filter learned on one video at test time needs features that already separate a
target from its surroundings without training: gradient orientations (HOG-like, as KCF / DSST /
CSR-DCF use), intensity, colour-opponent channels and local contrast (a small bright or dark
blob against its neighbourhood: a drone in the sky, a warm body in thermal video).

Shapes: B patches; patches (B, 3, P, P) float RGB in [0, 1] (grey frames: three equal
channels); features (B, C, P / cell, P / cell), C = :func:`num_feature_channels`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

LUMA_WEIGHTS = (0.299, 0.587, 0.114)  # ITU-R BT.601 luma from RGB
HOG_CLIP = 0.2  # cap of a normalised orientation bin (Dalal-Triggs)
HOG_EPS = 1e-2  # energy floor of the block normalisation: flat regions stay near zero
CONTRAST_KERNEL = 7  # side of the box filter that defines a pixel's neighbourhood
NUM_PLAIN_CHANNELS = 4  # intensity, two colour-opponent channels, local contrast


def num_feature_channels(num_orientations: int) -> int:
    """Channels of :func:`target_features` for ``num_orientations`` orientation bins."""
    return num_orientations + NUM_PLAIN_CHANNELS


def _orientation_histogram(grey: Tensor, num_orientations: int) -> Tensor:
    """(B, 1, P, P) intensity -> (B, n, P, P) gradient magnitude soft-binned by unsigned
    orientation into ``n`` bins over [0, pi)."""
    padded = F.pad(grey, (1, 1, 1, 1), mode="replicate")  # (B, 1, P + 2, P + 2)
    gx = (padded[..., 1:-1, 2:] - padded[..., 1:-1, :-2]) / 2  # (B, 1, P, P)
    gy = (padded[..., 2:, 1:-1] - padded[..., :-2, 1:-1]) / 2
    magnitude = torch.sqrt(gx**2 + gy**2)
    angle = torch.atan2(gy, gx).remainder(math.pi)  # unsigned orientation in [0, pi)
    position = angle / math.pi * num_orientations  # (B, 1, P, P) in [0, n)
    low = position.floor()
    frac = position - low
    low_bin = low.long().remainder(num_orientations)
    high_bin = (low_bin + 1).remainder(num_orientations)
    hist = grey.new_zeros(grey.shape[0], num_orientations, *grey.shape[-2:])
    hist.scatter_add_(1, low_bin, magnitude * (1 - frac))
    hist.scatter_add_(1, high_bin, magnitude * frac)
    return hist


def target_features(patches: Tensor, *, cell: int, num_orientations: int) -> Tensor:
    """Features of patches for the correlation filter.

    Channels: ``num_orientations`` block-normalised, clipped orientation bins; intensity and two
    colour-opponent channels minus the patch mean; local contrast (a pixel minus its
    ``CONTRAST_KERNEL`` neighbourhood). Every channel is averaged over ``cell x cell`` pixels.

    Args:
        patches: (B, 3, P, P) float RGB in [0, 1]; P divisible by ``cell``.
        cell: side of a feature cell in patch pixels (>= 1).
        num_orientations: orientation bins (>= 2).

    Returns:
        (B, C, P / cell, P / cell) float32, C = ``num_feature_channels(num_orientations)``.
    """
    if patches.ndim != 4 or patches.shape[1] != 3:
        raise ValueError(f"patches must have shape (B, 3, P, P), got {tuple(patches.shape)}")
    if cell < 1 or patches.shape[-1] % cell or patches.shape[-2] % cell:
        raise ValueError(f"patch side {tuple(patches.shape[-2:])} must be a multiple of {cell=}")
    if num_orientations < 2:
        raise ValueError(f"num_orientations must be >= 2, got {num_orientations}")
    patches = patches.float()
    weights = patches.new_tensor(LUMA_WEIGHTS).view(1, 3, 1, 1)
    grey = (patches * weights).sum(dim=1, keepdim=True)  # (B, 1, P, P)
    hist = F.avg_pool2d(_orientation_histogram(grey, num_orientations), cell)  # (B, n, h, w)
    energy = F.avg_pool2d(hist.pow(2).sum(1, keepdim=True), 3, stride=1, padding=1)
    hog = (hist / torch.sqrt(energy + HOG_EPS**2)).clamp(max=HOG_CLIP)  # (B, n, h, w)
    red, green, blue = patches.unbind(dim=1)
    opponent = torch.stack([red - green, blue - (red + green) / 2], dim=1)  # (B, 2, P, P)
    neighbourhood = F.avg_pool2d(
        F.pad(grey, [CONTRAST_KERNEL // 2] * 4, mode="replicate"), CONTRAST_KERNEL, stride=1
    )  # (B, 1, P, P)
    plain = torch.cat([grey, opponent, grey - neighbourhood], dim=1)  # (B, 4, P, P)
    plain = F.avg_pool2d(plain, cell)  # (B, 4, h, w)
    plain[:, :3] -= plain[:, :3].mean(dim=(-2, -1), keepdim=True)
    return torch.cat([hog, plain], dim=1)  # (B, C, h, w)
