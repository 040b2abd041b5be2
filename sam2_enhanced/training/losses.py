"""Losses of one frame: per-object masks (SAM 2) and the DETR set loss (Deformable DETR).

Masks: sigmoid focal + dice on the mask logits upsampled to the target resolution (the best of
the candidates when several are predicted), L1 between the predicted and the actual IoU, and
BCE of the occlusion score against visibility. Targets known only by their box (real
single-object video) get BoxInst's projection loss instead of focal + dice and no IoU term.
Unlike SAM 2, the focal loss is class-balanced (mean over object pixels plus mean over
background pixels) rather than averaged over the image: averaged, an object of a few pixels
barely moves the loss and the mask decoder collapses to background. Mask, dice, projection and
IoU terms only count visible objects; every term is averaged over the tracked objects.

Detections: Hungarian matching per decoder layer, a sigmoid class loss over all queries and
classes (focal, or IoU-aware varifocal: ``training/class_losses.py``), L1 and GIoU over matched
pairs, all divided by the number of targets and summed over layers (auxiliary losses) and the
token proposals the queries are selected from (two-stage Deformable DETR; or, with the dense
assignment, one-to-many as in Co-DETR: ``training/dense_proposals.py``). The refined outputs
get the same loss with the box terms of small targets weighted up. Contrastive denoising
queries, when the model was given some, add their own class, L1 and GIoU terms against their
known targets (``training/denoising_loss.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from sam2_enhanced.modeling.denoising import DenoisingQueries
from sam2_enhanced.modeling.detection_head import DetectionOutput
from sam2_enhanced.modeling.sam_mask_head import MaskHeadOutput
from sam2_enhanced.training.class_losses import ClassLoss, FocalClassLoss, sigmoid_focal_loss
from sam2_enhanced.training.denoising_loss import denoising_losses
from sam2_enhanced.training.dense_proposals import PROPOSAL_ASSIGNMENTS, dense_proposal_losses
from sam2_enhanced.training.matcher import HungarianMatcher
from sam2_enhanced.training.pair_losses import assigned_terms, objectness

__all__ = [
    "DetectionLosses",
    "MaskCriterion",
    "MaskLosses",
    "SetCriterion",
    "dice_loss",
    "mask_iou",
    "projection_loss",
    "sigmoid_focal_loss",
    "soft_dice",
]

LOGIT_CLAMP = 32.0  # masks of absent objects are -1024 without gradient; keep the loss readable


def soft_dice(probs: Tensor, targets: Tensor) -> Tensor:
    """(..., N) probabilities and targets -> (...) 1 - (2|PT| + 1) / (|P| + |T| + 1)."""
    numerator = 2 * (probs * targets).sum(-1) + 1
    return 1 - numerator / (probs.sum(-1) + targets.sum(-1) + 1)


def dice_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """(..., H, W) logits and targets -> (...) soft dice loss, 1 - (2|PT| + 1) / (|P| + |T| + 1)."""
    return soft_dice(logits.sigmoid().flatten(-2), targets.flatten(-2))


def projection_loss(logits: Tensor, box_masks: Tensor) -> Tensor:
    """BoxInst's projection loss (Tian et al., CVPR 2021) for masks known only by their box.

    The max-projection of a mask onto the x axis (the columns it covers) and onto the y axis
    (the rows) of the true mask equal those of its tight box, so the predicted probabilities'
    projections are pulled, by soft dice, onto the box's: a confident mask whose tight box is
    the target box has a loss near zero, whatever its shape inside the box.

    Args:
        logits: (..., H, W) mask logits.
        box_masks: (..., H, W) {0, 1} filled boxes.

    Returns:
        (...) dice on the x projection plus dice on the y projection.
    """
    probs = logits.sigmoid()
    along_x = soft_dice(probs.amax(dim=-2), box_masks.amax(dim=-2))  # columns (..., W)
    along_y = soft_dice(probs.amax(dim=-1), box_masks.amax(dim=-1))  # rows (..., H)
    return along_x + along_y


def mask_iou(logits: Tensor, targets: Tensor) -> Tensor:
    """(..., H, W) logits and {0, 1} targets -> (...) IoU of ``logits > 0`` (1 when both empty)."""
    pred = (logits > 0).flatten(-2)
    gt = (targets > 0.5).flatten(-2)
    inter = (pred & gt).sum(-1).float()
    union = (pred | gt).sum(-1).float()
    return torch.where(union > 0, inter / union.clamp(min=1), torch.ones_like(union))


@dataclass
class MaskLosses:
    """Unweighted mask terms of one frame (scalars) and their weighted sum."""

    focal: Tensor  # class-balanced sigmoid focal loss of the best candidate
    dice: Tensor  # dice loss of the best candidate
    projection: Tensor  # box projection loss of the best candidate (box-only targets)
    iou: Tensor  # L1 of predicted vs actual IoU over all candidates
    object_score: Tensor  # BCE of the occlusion logit vs visibility
    total: Tensor  # weighted sum


class MaskCriterion:
    """SAM 2's mask losses for O tracked objects on one frame."""

    def __init__(
        self,
        *,
        focal_weight: float,
        dice_weight: float,
        iou_weight: float,
        object_score_weight: float,
        projection_weight: float = 1.0,
        focal_alpha: float = 0.25,
        focal_gamma: float = 2.0,
    ) -> None:
        self.focal_weight = focal_weight
        self.dice_weight = dice_weight
        self.iou_weight = iou_weight
        self.object_score_weight = object_score_weight
        self.projection_weight = projection_weight
        self.focal_alpha = focal_alpha
        self.focal_gamma = focal_gamma

    def balanced_focal(self, logits: Tensor, targets: Tensor) -> Tensor:
        """(O, M, H, W) -> (O, M): mean focal loss over object pixels plus mean over the rest.

        Averaged over the whole image, an object of a few pixels barely moves the loss and the
        decoder collapses to predicting background everywhere; balanced, both halves count.
        """
        focal = sigmoid_focal_loss(logits, targets, self.focal_alpha, self.focal_gamma)
        focal, positive = focal.flatten(2), targets.flatten(2)  # (O, M, HW)
        num_pos = positive.sum(-1).clamp(min=1)
        num_neg = (1 - positive).sum(-1).clamp(min=1)
        return (focal * positive).sum(-1) / num_pos + (focal * (1 - positive)).sum(-1) / num_neg

    def __call__(
        self, masks: MaskHeadOutput, target_masks: Tensor, box_only: Tensor | None = None
    ) -> MaskLosses:
        """Losses of one frame.

        Args:
            masks: mask head output for O objects; its ``multimask_logits`` (O, M, h, w) are
                supervised (M = 1 or the number of candidates).
            target_masks: (O, H, W) {0, 1} visible pixels of each object (any resolution;
                logits are upsampled to it).
            box_only: (O,) bool, rows whose target is only a filled box: the projection loss
                replaces focal + dice there, and the IoU term is off (the true IoU is unknown).
                None: no row is.
        """
        logits = masks.multimask_logits
        num_objects = logits.shape[0]
        if target_masks.shape[0] != num_objects or target_masks.ndim != 3:
            raise ValueError(
                f"target_masks must be (O, H, W) with O = {num_objects}, got shape "
                f"{tuple(target_masks.shape)}"
            )
        logits = F.interpolate(
            logits.float(), size=target_masks.shape[-2:], mode="bilinear", align_corners=False
        )  # (O, M, H, W)
        # clamp the value, not the gradient: a hard clamp would zero the gradient of every pixel
        # past the bound, and a decoder pushed there (all background) could never come back
        logits = logits + (logits.clamp(-LOGIT_CLAMP, LOGIT_CLAMP) - logits).detach()
        targets = target_masks[:, None].float().expand_as(logits)  # (O, M, H, W)
        present = (target_masks.flatten(1) > 0.5).any(dim=1).float()  # (O,)
        if box_only is None:
            box_only = torch.zeros(num_objects, dtype=torch.bool, device=logits.device)
        boxed = box_only.float()  # (O,)
        focal = self.balanced_focal(logits, targets)  # (O, M)
        dice = dice_loss(logits, targets)  # (O, M)
        projection = projection_loss(logits, targets)  # (O, M)
        choice = torch.where(
            box_only[:, None],
            self.projection_weight * projection,
            self.focal_weight * focal + self.dice_weight * dice,
        )  # (O, M)
        best = choice.argmin(dim=1)  # (O,)
        rows = torch.arange(num_objects, device=logits.device)
        actual_iou = mask_iou(logits.detach(), targets)  # (O, M)
        iou = (masks.iou_preds.float() - actual_iou).abs().mean(dim=1)  # (O,)
        masked = present * (1 - boxed)  # (O,) visible objects with a true mask
        object_score = F.binary_cross_entropy_with_logits(
            masks.object_score_logits[:, 0].float(), present, reduction="none"
        )  # (O,)
        denominator = max(num_objects, 1)
        terms = {
            "focal": (focal[rows, best] * masked).sum() / denominator,
            "dice": (dice[rows, best] * masked).sum() / denominator,
            "projection": (projection[rows, best] * present * boxed).sum() / denominator,
            "iou": (iou * masked).sum() / denominator,
            "object_score": object_score.sum() / denominator,
        }
        total = (
            self.focal_weight * terms["focal"]
            + self.dice_weight * terms["dice"]
            + self.projection_weight * terms["projection"]
            + self.iou_weight * terms["iou"]
            + self.object_score_weight * terms["object_score"]
        )
        return MaskLosses(**terms, total=total)


@dataclass
class DetectionLosses:
    """Unweighted detection terms of one frame (scalars) and their weighted sum."""

    class_loss: Tensor  # class loss, summed over decoder layers and token proposals
    l1: Tensor  # L1 box loss, summed over decoder layers and token proposals
    giou: Tensor  # 1 - GIoU, summed over decoder layers and token proposals
    refine_class: Tensor  # class loss of the refined outputs
    refine_box: Tensor  # L1 + GIoU terms of the refined boxes, small targets weighted up
    dn_class: Tensor  # class loss of the denoising queries, summed over layers (0: none)
    dn_l1: Tensor  # L1 box loss of the positive denoising queries, summed over layers
    dn_giou: Tensor  # 1 - GIoU of the positive denoising queries, summed over layers
    total: Tensor  # weighted sum


class SetCriterion:
    """DETR set loss over every decoder layer and the token proposals, plus the small-object
    refinement outputs and the denoising queries.

    ``class_loss`` is the elementwise class loss (default: focal with ``focal_alpha`` and
    ``focal_gamma``); the matching cost stays the matcher's whichever it is.
    ``proposal_assignment`` "dense" trains the token proposals one-to-many
    (``training/dense_proposals.py``, centre-sampling radius ``proposal_radius`` tokens) instead
    of by Hungarian matching; the decoder layers stay one-to-one.
    """

    def __init__(
        self,
        *,
        matcher: HungarianMatcher,
        class_weight: float,
        l1_weight: float,
        giou_weight: float,
        refine_weight: float,
        small_object_size: float,
        image_size: int,
        small_object_boost: float,
        focal_alpha: float = 0.25,
        focal_gamma: float = 2.0,
        class_loss: ClassLoss | None = None,
        proposal_assignment: str = "hungarian",
        proposal_radius: float = 1.5,
    ) -> None:
        if proposal_assignment not in PROPOSAL_ASSIGNMENTS:
            raise ValueError(
                f"proposal_assignment must be one of {PROPOSAL_ASSIGNMENTS}, "
                f"got {proposal_assignment!r}"
            )
        self.matcher = matcher
        self.proposal_assignment = proposal_assignment
        self.proposal_radius = proposal_radius
        self.class_weight = class_weight
        self.l1_weight = l1_weight
        self.giou_weight = giou_weight
        self.refine_weight = refine_weight
        self.small_object_size = small_object_size
        self.image_size = image_size
        self.small_object_boost = small_object_boost
        self.class_loss = class_loss or FocalClassLoss(alpha=focal_alpha, gamma=focal_gamma)

    def layer_losses(
        self,
        class_logits: Tensor,
        boxes_cxcywh: Tensor,
        target_labels: Tensor,
        target_boxes_cxcywh: Tensor,
        box_weights: Tensor,
        positives_only: bool = False,
    ) -> tuple[Tensor, Tensor, Tensor]:
        """(N, C), (N, 4) predictions vs (G,), (G, 4) targets -> class, L1, GIoU losses.

        ``box_weights`` (G,) scale each target's box terms; all terms are divided by max(G, 1).
        ``positives_only``: the targets are not all the frame's objects (real video: only the
        tracked target is labelled, its class unknown), so the class is ignored (matching and
        loss read each query's best class logit, its objectness) and only the matched queries
        get a class term: the other queries may have found unlabelled objects.
        """
        if positives_only:
            class_logits, target_labels = objectness(class_logits, target_labels)  # (N, 1)
        match = self.matcher(class_logits, boxes_cxcywh, target_labels, target_boxes_cxcywh)
        num_boxes = max(target_labels.shape[0], 1)
        class_loss, l1, giou_loss = assigned_terms(
            self.class_loss,
            class_logits,
            boxes_cxcywh,
            match.pred_indices,
            target_labels[match.target_indices],
            target_boxes_cxcywh[match.target_indices],
        )  # (N, C), (K,), (K,)
        if positives_only:
            class_loss = class_loss[match.pred_indices]  # (K, 1)
        weights = box_weights[match.target_indices]  # (K,)
        return (
            class_loss.sum() / num_boxes,
            (l1 * weights).sum() / num_boxes,
            (giou_loss * weights).sum() / num_boxes,
        )

    def proposal_losses(
        self,
        logits: Tensor,
        boxes_cxcywh: Tensor,
        target_labels: Tensor,
        target_boxes_cxcywh: Tensor,
        positives_only: bool,
    ) -> tuple[Tensor, Tensor, Tensor]:
        """(P, C), (P, 4) proposals vs (G,), (G, 4) targets -> class, L1, GIoU."""
        if self.proposal_assignment == "dense":
            return dense_proposal_losses(
                logits,
                boxes_cxcywh,
                target_labels,
                target_boxes_cxcywh,
                self.proposal_radius,
                self.class_loss,
                positives_only,
            )
        ones = target_boxes_cxcywh.new_ones(target_labels.shape[0])  # (G,)
        return self.layer_losses(
            logits, boxes_cxcywh, target_labels, target_boxes_cxcywh, ones, positives_only
        )

    def __call__(
        self,
        detections: DetectionOutput,
        target_labels: Tensor,
        target_boxes_cxcywh: Tensor,
        denoising: DenoisingQueries | None = None,
        positives_only: bool = False,
    ) -> DetectionLosses:
        """Losses of one frame.

        Args:
            detections: model detections with B = 1 (L decoder layers, N queries).
            target_labels: (G,) long class indices (G may be 0).
            target_boxes_cxcywh: (G, 4) normalized target boxes.
            denoising: the denoising queries the model decoded (built from these targets), or
                None: no denoising terms.
            positives_only: the targets are only some of the frame's objects, of unknown class
                (real video): class-agnostic terms on the targets' own queries and proposals,
                nothing pushed to "no object" (:meth:`layer_losses`); no denoising.
        """
        if positives_only and denoising is not None:
            raise ValueError(
                "denoising queries need every object labelled with its class; got them with "
                "positives_only=True (a partly labelled frame)"
            )
        if detections.class_logits.shape[1] != 1:
            raise ValueError(
                f"SetCriterion takes one frame (B = 1), got B = {detections.class_logits.shape[1]}"
            )
        ones = target_boxes_cxcywh.new_ones(target_labels.shape[0])  # (G,)
        outputs = list(
            zip(detections.class_logits[:, 0], detections.boxes_cxcywh[:, 0], strict=True)
        )
        totals = [torch.zeros((), device=target_labels.device) for _ in range(3)]
        for class_logits, boxes in outputs:  # every decoder layer
            terms = self.layer_losses(
                class_logits, boxes, target_labels, target_boxes_cxcywh, ones, positives_only
            )
            totals = [a + b for a, b in zip(totals, terms, strict=True)]
        if detections.proposal_logits is not None and detections.proposal_boxes_cxcywh is not None:
            terms = self.proposal_losses(
                detections.proposal_logits[0],
                detections.proposal_boxes_cxcywh[0],
                target_labels,
                target_boxes_cxcywh,
                positives_only,
            )
            totals = [a + b for a, b in zip(totals, terms, strict=True)]
        side_px = target_boxes_cxcywh[:, 2:].prod(-1).clamp(min=0).sqrt() * self.image_size
        small = (side_px < self.small_object_size).float()  # (G,)
        refine_class, refine_l1, refine_giou = self.layer_losses(
            detections.refined_logits[0],
            detections.refined_boxes_cxcywh[0],
            target_labels,
            target_boxes_cxcywh,
            1 + self.small_object_boost * small,
            positives_only,
        )
        refine_box = self.l1_weight * refine_l1 + self.giou_weight * refine_giou
        dn_class, dn_l1, dn_giou = denoising_losses(
            detections, denoising, target_labels, target_boxes_cxcywh, self.class_loss
        )
        total = (
            self.class_weight * (totals[0] + dn_class)
            + self.l1_weight * (totals[1] + dn_l1)
            + self.giou_weight * (totals[2] + dn_giou)
            + self.refine_weight * (self.class_weight * refine_class + refine_box)
        )
        return DetectionLosses(
            class_loss=totals[0],
            l1=totals[1],
            giou=totals[2],
            refine_class=refine_class,
            refine_box=refine_box,
            dn_class=dn_class,
            dn_l1=dn_l1,
            dn_giou=dn_giou,
            total=total,
        )
