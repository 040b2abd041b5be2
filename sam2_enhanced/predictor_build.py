"""``build_predictor(cfg)``: an untrained :class:`SAM2EnhancedVideoPredictor` from a config.

It sits above the predictor, not in :mod:`sam2_enhanced.build`, so that imports run one way:
model parts -> builders (``build``, ``weights``) -> predictor -> this module and the command
line. Trained predictors come from ``SAM2EnhancedVideoPredictor.from_pretrained``.
"""

from __future__ import annotations

import torch

from sam2_enhanced.build import build_model
from sam2_enhanced.config import ModelConfig
from sam2_enhanced.enhanced_video_predictor import SAM2EnhancedVideoPredictor


def build_predictor(
    cfg: ModelConfig, device: str | torch.device | None = None
) -> SAM2EnhancedVideoPredictor:
    """An untrained predictor built from ``cfg`` (``device`` None: cuda if available, else cpu)."""
    return SAM2EnhancedVideoPredictor(build_model(cfg), device=device)
