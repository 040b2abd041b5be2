"""Weight-space averaging of two checkpoints of one architecture (WiSE-FT, Wortsman et al. 2022).

A fine-tune that gains on one validation and loses a little on another can often keep the gain
and drop the loss when its weights are interpolated with the model it started from:
``(1 - alpha) * base + alpha * tuned``, tensor by tensor. Both checkpoints must have been built
from the same model config (the architecture and every inference setting); the result keeps it.
"""

from __future__ import annotations

from pathlib import Path

import torch

from sam2_enhanced.config import to_dict
from sam2_enhanced.modeling.sam2_base_enhanced import SAM2EnhancedBase
from sam2_enhanced.weights.checkpoint import load_pretrained


def average_models(base: SAM2EnhancedBase, tuned: SAM2EnhancedBase, alpha: float) -> None:
    """Set ``base``'s floating tensors to ``(1 - alpha) * base + alpha * tuned`` in place
    (integer buffers stay ``base``'s).

    Raises:
        ValueError: ``alpha`` outside [0, 1], or the two models' configs differ.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    base_cfg, tuned_cfg = to_dict(base.config), to_dict(tuned.config)
    if base_cfg != tuned_cfg:
        differ = sorted(k for k in base_cfg if base_cfg[k] != tuned_cfg.get(k))
        raise ValueError(f"the two checkpoints have different configs (sections {differ})")
    tuned_state = tuned.state_dict()
    with torch.no_grad():
        for name, tensor in base.state_dict().items():
            if tensor.is_floating_point():
                tensor.lerp_(tuned_state[name].to(tensor.dtype), alpha)


def average_checkpoints(
    base: str | Path | None, tuned: str | Path, alpha: float
) -> SAM2EnhancedBase:
    """Load two checkpoints (``base`` None: the bundled model) and return their average."""
    model = load_pretrained(base)
    average_models(model, load_pretrained(tuned), alpha)
    return model
