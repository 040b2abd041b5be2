"""Losses of the contrastive denoising queries of one frame (DN-DETR / DINO / RT-DETR).

Each denoising query knows its target (no Hungarian matching): a positive query must predict its
ground truth's class and box, a negative query "no object" (all class targets 0). Per decoder
layer: the class loss over every non-padding denoising query, L1 and GIoU over the positives;
everything is divided by the number of positive queries (targets x groups) and summed over
layers, as the matching queries' losses are.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from sam2_enhanced.box_ops import box_iou, cxcywh_to_xyxy, generalized_box_iou
from sam2_enhanced.modeling.denoising import DenoisingQueries
from sam2_enhanced.modeling.detection_head import DetectionOutput
from sam2_enhanced.training.class_losses import ClassLoss


def paired_iou_giou(pred_cxcywh: Tensor, target_cxcywh: Tensor) -> tuple[Tensor, Tensor]:
    """(K, 4), (K, 4) boxes paired row by row -> IoU (K,) and GIoU (K,)."""
    pred, target = cxcywh_to_xyxy(pred_cxcywh), cxcywh_to_xyxy(target_cxcywh)
    iou = torch.diag(box_iou(pred, target)[0])
    return iou, torch.diag(generalized_box_iou(pred, target))


def denoising_losses(
    detections: DetectionOutput,
    denoising: DenoisingQueries | None,
    target_labels: Tensor,
    target_boxes_cxcywh: Tensor,
    class_loss: ClassLoss,
) -> tuple[Tensor, Tensor, Tensor]:
    """Class, L1 and GIoU losses of one frame's denoising queries, summed over layers.

    Args:
        detections: model detections with B = 1 and denoising outputs (L, 1, D, ...).
        denoising: the queries those outputs came from (B = 1), or None: zero losses.
        target_labels: (G,) long class indices the queries were built from.
        target_boxes_cxcywh: (G, 4) normalized target boxes.
        class_loss: elementwise class loss (focal or varifocal).
    """
    zero = target_boxes_cxcywh.new_zeros(())
    if denoising is None or detections.denoising_logits is None:
        return zero, zero.clone(), zero.clone()
    valid = denoising.valid[0]  # (D,)
    index = denoising.target_index[0][valid]  # (Q,) target of each real query
    positive = denoising.is_positive[0][valid]  # (Q,)
    matched = index[positive]  # (K,) targets of the positives
    if index.numel() and int(index.max()) >= target_labels.shape[0]:
        raise ValueError(
            f"denoising queries refer to target {int(index.max())} but the frame has "
            f"{target_labels.shape[0]} targets; build them from the same targets"
        )
    num_positive = max(int(positive.sum()), 1)
    target = target_boxes_cxcywh[matched].float()  # (K, 4)
    totals = [zero, zero.clone(), zero.clone()]
    layers = zip(
        detections.denoising_logits[:, 0], detections.denoising_boxes_cxcywh[:, 0], strict=True
    )
    for logits, boxes in layers:  # (D, C), (D, 4) per decoder layer
        logits, boxes = logits[valid], boxes[valid]  # (Q, C), (Q, 4)
        pred = boxes[positive].float()  # (K, 4)
        iou, giou = paired_iou_giou(pred, target)  # (K,), (K,)
        onehot = torch.zeros_like(logits, dtype=torch.float32)  # (Q, C)
        onehot[positive.nonzero()[:, 0], target_labels[matched]] = 1.0
        query_iou = logits.new_zeros(logits.shape[0], dtype=torch.float32)  # (Q,)
        query_iou[positive] = iou.detach()
        terms = (
            class_loss(logits, onehot, query_iou).sum(),
            F.l1_loss(pred, target, reduction="none").sum(),
            (1 - giou).sum(),
        )
        totals = [total + term / num_positive for total, term in zip(totals, terms, strict=True)]
    return totals[0], totals[1], totals[2]
