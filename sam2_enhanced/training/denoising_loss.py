"""Losses of the contrastive denoising queries of one frame (DN-DETR / DINO / RT-DETR).

Each denoising query knows its target (no Hungarian matching): a positive query must predict its
ground truth's class and box, a negative query "no object" (all class targets 0). Per decoder
layer: the class loss over every non-padding denoising query, L1 and GIoU over the positives;
everything is divided by the number of positive queries (targets x groups) and summed over
layers, as the matching queries' losses are.
"""

from __future__ import annotations

from torch import Tensor

from sam2_enhanced.modeling.denoising import DenoisingQueries
from sam2_enhanced.modeling.detection_head import DetectionOutput
from sam2_enhanced.training.class_losses import ClassLoss
from sam2_enhanced.training.pair_losses import assigned_terms


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
    positive_rows = positive.nonzero()[:, 0]  # (K,)
    totals = [zero, zero.clone(), zero.clone()]
    layers = zip(
        detections.denoising_logits[:, 0], detections.denoising_boxes_cxcywh[:, 0], strict=True
    )
    for logits, boxes in layers:  # (D, C), (D, 4) per decoder layer
        class_terms, l1, giou_loss = assigned_terms(
            class_loss,
            logits[valid],
            boxes[valid],
            positive_rows,
            target_labels[matched],
            target_boxes_cxcywh[matched],
        )  # (Q, C), (K,), (K,)
        terms = (class_terms.sum(), l1.sum(), giou_loss.sum())
        totals = [total + term / num_positive for total, term in zip(totals, terms, strict=True)]
    return totals[0], totals[1], totals[2]
