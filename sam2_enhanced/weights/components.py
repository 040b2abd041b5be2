"""``from_components``: a model with real DINOv2 weights in its encoder and SAM 2.1 weights in
its SAM-derived parts.

``from_components`` builds a model from a config and fills what real checkpoints can fill; the
parts that are new here (multi-scale neck, high-res branch, DETR decoder, detection and
refinement heads, detection memory tokens, temporal embeddings without a SAM 2 counterpart) keep
their initialization and need training. The key conversions live in
:mod:`sam2_enhanced.modeling.dinov2_weights` and :mod:`sam2_enhanced.weights.sam2`.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

from sam2_enhanced.build import build_model
from sam2_enhanced.config import ModelConfig, load_config
from sam2_enhanced.modeling.dinov2_weights import load_dinov2_weights, read_dinov2_checkpoint
from sam2_enhanced.modeling.sam2_base_enhanced import SAM2EnhancedBase
from sam2_enhanced.weights.sam2 import load_sam2_weights, read_sam2_checkpoint

logger = logging.getLogger(__name__)


def from_components(
    *,
    dinov2: str | Path | None = None,
    sam2_checkpoint: str | Path | None = None,
    config: str | Path | ModelConfig = "small",
) -> SAM2EnhancedBase:
    """A model from a config, with DINOv2 weights in its encoder and SAM 2.1 weights in its
    SAM-derived parts.

    Args:
        dinov2: a DINOv2 checkpoint for ``encoder.vit``: a ``save_pretrained`` folder, a torch.hub
            ``.pth`` file or a Hub id such as ``"facebook/dinov2-small"``. None: the config's
            ``encoder.pretrained`` if set, else the ViT stays randomly initialized.
        sam2_checkpoint: an official SAM 2.1 ``.pt`` file (``sam2.1_hiera_tiny.pt`` ...); its
            prompt encoder, mask decoder, object-pointer MLP, memory attention and memory
            encoder load where shapes agree (see
            :func:`~sam2_enhanced.weights.sam2.convert_sam2_state_dict`). None: skipped.
        config: preset name, YAML path or :class:`ModelConfig`; its encoder geometry must match
            the DINOv2 checkpoint (``small``: ViT-S/14, ``base``: ViT-B/14).
    Returns:
        The model in eval mode. Its ``config`` has ``encoder.pretrained`` cleared, since the
        weights now live in the model (``save_pretrained`` stores them).
    Raises:
        FileNotFoundError: a checkpoint that is not there (or a Hub id while offline).
        ValueError: a file that is not a checkpoint, or a DINOv2 that does not fit the config.
    """
    if isinstance(config, str | Path):
        cfg = load_config(config)
    elif isinstance(config, ModelConfig):
        cfg = config
    else:
        raise TypeError(
            f"config must be a preset name, a YAML path or a ModelConfig, got {config!r}"
        )
    dinov2 = dinov2 if dinov2 is not None else cfg.encoder.pretrained
    cfg = dataclasses.replace(cfg, encoder=dataclasses.replace(cfg.encoder, pretrained=None))
    dinov2_checkpoint = read_dinov2_checkpoint(dinov2) if dinov2 is not None else None
    sam2_state = read_sam2_checkpoint(sam2_checkpoint) if sam2_checkpoint is not None else None
    model = build_model(cfg)
    if dinov2_checkpoint is not None:
        load_dinov2_weights(model.encoder.vit, dinov2_checkpoint)
        logger.info("loaded DINOv2 encoder weights from %s", dinov2_checkpoint.source)
    if sam2_state is not None:
        load_sam2_weights(model, sam2_state)
    return model.eval()
