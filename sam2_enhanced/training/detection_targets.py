"""Detection targets of one training frame: the set loss's labels and boxes, and the
contrastive denoising queries built from them (``train.dn_groups``)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from sam2_enhanced.box_ops import xyxy_to_cxcywh
from sam2_enhanced.modeling.denoising import DenoisingQueries, build_denoising_queries
from sam2_enhanced.training.config import TrainConfig


@dataclass
class FrameTargets:
    """What the detector learns on one frame."""

    labels: Tensor  # (G,) long classes
    boxes_cxcywh: Tensor  # (G, 4) normalized boxes
    exhaustive: bool  # every object of the frame is labelled (False: real video, only the
    # target: positives-only loss, no denoising)


def detection_targets(
    boxes_xyxy: Tensor, visibility: Tensor, class_ids: Tensor, frame_hw: tuple[int, int]
) -> tuple[Tensor, Tensor]:
    """One frame's visible objects -> labels (G,) and normalized boxes (G, 4).

    Args:
        boxes_xyxy: (O, 4) pixel boxes; visibility: (O,); class_ids: (O,).
    """
    height, width = frame_hw
    sizes = boxes_xyxy[:, 2:] - boxes_xyxy[:, :2]  # (O, 2)
    keep = (visibility > 0) & (sizes > 0).all(dim=1) & (class_ids >= 0)
    scale = boxes_xyxy.new_tensor([width, height, width, height])
    return class_ids[keep], xyxy_to_cxcywh(boxes_xyxy[keep] / scale)


def frame_denoising_queries(
    cfg: TrainConfig,
    num_classes: int,
    labels: Tensor,
    boxes_cxcywh: Tensor,
    generator: torch.Generator,
) -> DenoisingQueries | None:
    """One frame's denoising queries (B = 1) from its targets (G,), (G, 4) with ``cfg``'s
    ``dn_groups``, ``dn_box_noise`` and ``dn_label_noise``; None when off or G = 0."""
    if cfg.dn_groups == 0:
        return None
    return build_denoising_queries(
        [labels],
        [boxes_cxcywh],
        num_groups=cfg.dn_groups,
        num_classes=num_classes,
        box_noise=cfg.dn_box_noise,
        label_noise=cfg.dn_label_noise,
        generator=generator,
    )
