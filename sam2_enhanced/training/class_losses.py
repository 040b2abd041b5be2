"""Elementwise sigmoid class losses of the detector: focal (RetinaNet) and varifocal (IoU-aware).

:class:`FocalClassLoss` pushes a matched query's class probability to 1 whatever its box;
:class:`VarifocalClassLoss` (VarifocalNet, Zhang et al. CVPR 2021; RT-DETR) pushes it to the IoU
of its box with its target, so the score ranks detections by localization quality and is
calibrated against IoU. Both take the same arguments, so :class:`SetCriterion` and the
denoising loss are written once; ``build_class_loss`` picks one by name (``train.det_class_loss``).
"""

from __future__ import annotations

from typing import Protocol

import torch.nn.functional as F
from torch import Tensor

CLASS_LOSSES = ("focal", "varifocal")  # values of train.det_class_loss


def sigmoid_focal_loss(logits: Tensor, targets: Tensor, alpha: float, gamma: float) -> Tensor:
    """Elementwise focal loss (Lin et al.); ``targets`` in [0, 1], same shape as ``logits``."""
    probs = logits.sigmoid()
    ce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p_t = probs * targets + (1 - probs) * (1 - targets)
    loss = ce * (1 - p_t) ** gamma
    if alpha >= 0:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    return loss


def varifocal_loss(
    logits: Tensor, quality: Tensor, positive: Tensor, alpha: float, gamma: float
) -> Tensor:
    """Elementwise varifocal loss: BCE against the target score q (``quality``), weighted by q
    on positives and by ``alpha * p**gamma`` on negatives (as RT-DETR's ``loss_labels_vfl``).

    The weights carry no gradient, so a negative's gradient is ``alpha * p**gamma * p`` per
    logit: always pushing its probability down.

    Args:
        logits: (..., C) class logits.
        quality: (..., C) target scores in [0, 1]: IoU of the matched box at its class, 0
            elsewhere.
        positive: (..., C) {0, 1}: the matched query's class (one-hot).
    """
    quality = quality.detach()
    probs = logits.detach().sigmoid()
    weight = alpha * probs**gamma * (1 - positive.to(logits.dtype)) + quality
    return F.binary_cross_entropy_with_logits(logits, quality, weight=weight, reduction="none")


class ClassLoss(Protocol):
    """Elementwise class loss of Q queries: (Q, C) logits, (Q, C) {0, 1} one-hot targets and
    (Q,) IoU of each query's box with its target (0 for unmatched) -> (Q, C)."""

    def __call__(self, class_logits: Tensor, onehot: Tensor, iou: Tensor) -> Tensor: ...


class FocalClassLoss:
    """Sigmoid focal loss against the one-hot targets (the IoU is not used)."""

    def __init__(self, *, alpha: float, gamma: float) -> None:
        self.alpha = alpha
        self.gamma = gamma

    def __call__(self, class_logits: Tensor, onehot: Tensor, iou: Tensor) -> Tensor:
        """(Q, C), (Q, C), (Q,) -> (Q, C)."""
        return sigmoid_focal_loss(class_logits.float(), onehot, self.alpha, self.gamma)


class VarifocalClassLoss:
    """Varifocal loss whose positive target is the query's IoU with its target (detached)."""

    def __init__(self, *, alpha: float, gamma: float) -> None:
        self.alpha = alpha
        self.gamma = gamma

    def __call__(self, class_logits: Tensor, onehot: Tensor, iou: Tensor) -> Tensor:
        """(Q, C), (Q, C), (Q,) -> (Q, C)."""
        quality = onehot * iou.detach().clamp(0.0, 1.0)[:, None].to(onehot.dtype)  # (Q, C)
        return varifocal_loss(class_logits.float(), quality, onehot, self.alpha, self.gamma)


def build_class_loss(
    name: str, *, focal_alpha: float, varifocal_alpha: float, gamma: float
) -> ClassLoss:
    """The class loss called ``name`` (one of :data:`CLASS_LOSSES`)."""
    if name == "focal":
        return FocalClassLoss(alpha=focal_alpha, gamma=gamma)
    if name == "varifocal":
        return VarifocalClassLoss(alpha=varifocal_alpha, gamma=gamma)
    raise ValueError(f"train.det_class_loss must be one of {CLASS_LOSSES}, got {name!r}")
