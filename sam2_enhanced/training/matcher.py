"""Hungarian matching of DETR predictions to ground-truth boxes (Deformable-DETR costs).

cost = class_weight * focal class cost + l1_weight * L1(cxcywh) - giou_weight * GIoU(xyxy),
solved per frame with ``scipy.optimize.linear_sum_assignment``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor

from sam2_enhanced.box_ops import cxcywh_to_xyxy, generalized_box_iou


@dataclass
class Match:
    """One-to-one assignment of predictions to targets of one frame."""

    pred_indices: Tensor  # (K,) long, indices into the N predictions
    target_indices: Tensor  # (K,) long, indices into the G targets; K = min(N, G)


def focal_class_cost(class_logits: Tensor, target_labels: Tensor, alpha: float, gamma: float):
    """(N, C) logits, (G,) labels -> (N, G) focal cost of predicting each target's class."""
    probs = class_logits.sigmoid()
    neg = (1 - alpha) * probs**gamma * -(1 - probs + 1e-8).log()  # (N, C)
    pos = alpha * (1 - probs) ** gamma * -(probs + 1e-8).log()  # (N, C)
    return pos[:, target_labels] - neg[:, target_labels]


class HungarianMatcher:
    """Matches N predictions of one frame to G targets minimizing the weighted cost."""

    def __init__(
        self,
        *,
        class_weight: float,
        l1_weight: float,
        giou_weight: float,
        focal_alpha: float = 0.25,
        focal_gamma: float = 2.0,
    ) -> None:
        if min(class_weight, l1_weight, giou_weight) < 0:
            raise ValueError(
                f"matcher weights must be >= 0, got class {class_weight}, l1 {l1_weight}, "
                f"giou {giou_weight}"
            )
        self.class_weight = class_weight
        self.l1_weight = l1_weight
        self.giou_weight = giou_weight
        self.focal_alpha = focal_alpha
        self.focal_gamma = focal_gamma

    def cost_matrix(
        self,
        class_logits: Tensor,
        boxes_cxcywh: Tensor,
        target_labels: Tensor,
        target_boxes_cxcywh: Tensor,
    ) -> Tensor:
        """(N, C), (N, 4), (G,), (G, 4) -> (N, G) matching cost."""
        cost_class = focal_class_cost(
            class_logits, target_labels, self.focal_alpha, self.focal_gamma
        )
        cost_l1 = torch.cdist(boxes_cxcywh, target_boxes_cxcywh, p=1)  # (N, G)
        cost_giou = -generalized_box_iou(
            cxcywh_to_xyxy(boxes_cxcywh), cxcywh_to_xyxy(target_boxes_cxcywh)
        )  # (N, G)
        return (
            self.class_weight * cost_class + self.l1_weight * cost_l1 + self.giou_weight * cost_giou
        )

    @torch.no_grad()
    def __call__(
        self,
        class_logits: Tensor,
        boxes_cxcywh: Tensor,
        target_labels: Tensor,
        target_boxes_cxcywh: Tensor,
    ) -> Match:
        """Match one frame.

        Args:
            class_logits: (N, C) sigmoid class logits of the predictions.
            boxes_cxcywh: (N, 4) predicted normalized boxes.
            target_labels: (G,) long class indices in 0..C-1.
            target_boxes_cxcywh: (G, 4) normalized target boxes.
        """
        if class_logits.ndim != 2 or boxes_cxcywh.shape != (class_logits.shape[0], 4):
            raise ValueError(
                "expected class_logits (N, C) and boxes_cxcywh (N, 4), got shapes "
                f"{tuple(class_logits.shape)} and {tuple(boxes_cxcywh.shape)}"
            )
        if target_labels.ndim != 1 or target_boxes_cxcywh.shape != (target_labels.shape[0], 4):
            raise ValueError(
                "expected target_labels (G,) and target_boxes_cxcywh (G, 4), got shapes "
                f"{tuple(target_labels.shape)} and {tuple(target_boxes_cxcywh.shape)}"
            )
        device = class_logits.device
        if target_labels.numel() == 0 or class_logits.shape[0] == 0:
            empty = torch.zeros(0, dtype=torch.long, device=device)
            return Match(pred_indices=empty, target_indices=empty.clone())
        num_classes = class_logits.shape[1]
        if int(target_labels.min()) < 0 or int(target_labels.max()) >= num_classes:
            raise ValueError(
                f"target_labels must be in 0..{num_classes - 1}, got {target_labels.tolist()}"
            )
        cost = self.cost_matrix(
            class_logits.float(), boxes_cxcywh.float(), target_labels, target_boxes_cxcywh.float()
        )
        rows, cols = linear_sum_assignment(cost.cpu().numpy())
        return Match(
            pred_indices=torch.as_tensor(rows, dtype=torch.long, device=device),
            target_indices=torch.as_tensor(cols, dtype=torch.long, device=device),
        )
