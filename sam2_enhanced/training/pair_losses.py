"""Class and box terms of predictions assigned to targets: what the set loss (Hungarian
matches), the dense proposal loss (cells inside objects) and the denoising loss (queries built
from known targets) share once each has decided which prediction learns which target."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from sam2_enhanced.box_ops import box_iou, cxcywh_to_xyxy, generalized_box_iou
from sam2_enhanced.training.class_losses import ClassLoss


def paired_iou_giou(pred_cxcywh: Tensor, target_cxcywh: Tensor) -> tuple[Tensor, Tensor]:
    """(K, 4), (K, 4) boxes paired row by row -> IoU (K,) and GIoU (K,)."""
    pred, target = cxcywh_to_xyxy(pred_cxcywh), cxcywh_to_xyxy(target_cxcywh)
    iou = torch.diag(box_iou(pred, target)[0])
    return iou, torch.diag(generalized_box_iou(pred, target))


def objectness(class_logits: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
    """Class-agnostic form of (N, C) logits and (G,) labels for partly labelled frames (real
    video: the class is unknown): each prediction's best class logit (N, 1), every label 0."""
    return class_logits.amax(dim=-1, keepdim=True), torch.zeros_like(labels)


def assigned_terms(
    class_loss: ClassLoss,
    class_logits: Tensor,
    boxes_cxcywh: Tensor,
    pred_indices: Tensor,
    labels: Tensor,
    target_boxes_cxcywh: Tensor,
) -> tuple[Tensor, Tensor, Tensor]:
    """Losses of N predictions of which K are assigned a target each.

    Args:
        class_loss: elementwise class loss (focal or varifocal).
        class_logits: (N, C) logits; boxes_cxcywh: (N, 4) boxes of all predictions.
        pred_indices: (K,) the assigned predictions.
        labels: (K,) their target classes; target_boxes_cxcywh: (K, 4) their target boxes.

    Returns:
        class terms (N, C) (the assigned rows learn their class, IoU-aware for varifocal; every
        other entry is a negative), L1 (K,) summed over the 4 coordinates, and 1 - GIoU (K,).
    """
    pred = boxes_cxcywh[pred_indices].float()  # (K, 4)
    target = target_boxes_cxcywh.float()  # (K, 4)
    iou, giou = paired_iou_giou(pred, target)  # (K,), (K,)
    onehot = torch.zeros_like(class_logits, dtype=torch.float32)  # (N, C)
    onehot[pred_indices, labels] = 1.0
    pred_iou = class_logits.new_zeros(class_logits.shape[0], dtype=torch.float32)  # (N,)
    pred_iou[pred_indices] = iou.detach()
    l1 = F.l1_loss(pred, target, reduction="none").sum(-1)  # (K,)
    return class_loss(class_logits, onehot, pred_iou), l1, 1 - giou
