"""Mask and DETR losses: hand-computed values, masking of absent objects, small-object weights."""

import math

import pytest
import torch
from criteria import set_criterion

from sam2_enhanced.modeling.detection_head import DetectionOutput
from sam2_enhanced.modeling.sam_mask_head import MaskHeadOutput
from sam2_enhanced.training.losses import (
    MaskCriterion,
    dice_loss,
    mask_iou,
    projection_loss,
    sigmoid_focal_loss,
)


def test_focal_loss_matches_formula():
    logit, p = torch.tensor([0.5]), 1 / (1 + math.exp(-0.5))
    positive = sigmoid_focal_loss(logit, torch.tensor([1.0]), alpha=0.25, gamma=2.0)
    negative = sigmoid_focal_loss(logit, torch.tensor([0.0]), alpha=0.25, gamma=2.0)
    assert positive.item() == pytest.approx(0.25 * (1 - p) ** 2 * -math.log(p), rel=1e-5)
    assert negative.item() == pytest.approx(0.75 * p**2 * -math.log(1 - p), rel=1e-5)


def test_dice_and_iou_of_perfect_and_disjoint_masks():
    target = torch.zeros(2, 4, 4)
    target[:, :2] = 1
    perfect = (target * 2 - 1) * 50
    disjoint = -perfect
    assert dice_loss(perfect, target).max() < 1e-6
    assert dice_loss(disjoint, target).min() > 0.9
    assert mask_iou(perfect, target).tolist() == [1.0, 1.0]
    assert mask_iou(disjoint, target).tolist() == [0.0, 0.0]
    assert mask_iou(-torch.ones(1, 4, 4), torch.zeros(1, 4, 4)).item() == 1.0  # both empty


def mask_output(logits, iou_preds, score_logits):
    return MaskHeadOutput(
        mask_logits=logits[:, :1],
        multimask_logits=logits,
        iou_preds=iou_preds,
        object_score_logits=score_logits,
        obj_ptr=torch.zeros(logits.shape[0], 8),
    )


CRITERION = MaskCriterion(
    focal_weight=20.0, dice_weight=1.0, iou_weight=1.0, object_score_weight=1.0
)


def test_absent_object_only_gets_the_object_score_loss():
    logits = torch.randn(1, 1, 4, 4)
    losses = CRITERION(
        mask_output(logits, torch.tensor([[0.3]]), torch.tensor([[0.0]])), torch.zeros(1, 8, 8)
    )
    assert losses.focal.item() == losses.dice.item() == losses.iou.item() == 0.0
    assert losses.object_score.item() == pytest.approx(math.log(2), rel=1e-5)
    assert losses.total.item() == pytest.approx(math.log(2), rel=1e-5)


def test_multimask_loss_takes_the_best_candidate_and_upsamples():
    target = torch.zeros(1, 8, 8)
    target[0, :4] = 1
    good = (target[:, ::2, ::2] * 2 - 1) * 30  # (1, 4, 4) exact at half resolution
    logits = torch.stack([-good, good, torch.zeros_like(good)], dim=1)  # (1, 3, 4, 4)
    losses = CRITERION(
        mask_output(logits, torch.tensor([[0.0, 1.0, 0.5]]), torch.tensor([[5.0]])), target
    )
    assert losses.dice.item() < 1e-3 and losses.focal.item() < 1e-3
    # actual IoUs are 0, 1 and 0.5 (logit 0 -> empty mask, IoU 0): errors 0, 0, 0.5
    assert losses.iou.item() == pytest.approx(0.5 / 3, abs=1e-4)


def test_mask_criterion_rejects_wrong_target_count():
    with pytest.raises(ValueError, match="target_masks must be"):
        CRITERION(
            mask_output(torch.zeros(2, 1, 4, 4), torch.zeros(2, 1), torch.zeros(2, 1)),
            torch.zeros(3, 4, 4),
        )


def detections(boxes, logits, num_layers=2):
    return DetectionOutput(
        class_logits=logits[None, None].expand(num_layers, 1, -1, -1),
        boxes_cxcywh=boxes[None, None].expand(num_layers, 1, -1, -1),
        refined_logits=logits[None],
        refined_boxes_cxcywh=boxes[None],
        query_states=torch.zeros(1, boxes.shape[0], 8),
    )


def test_perfect_detections_have_zero_box_losses_and_low_class_loss():
    targets = torch.tensor([[0.3, 0.3, 0.2, 0.2], [0.7, 0.6, 0.1, 0.3]])
    labels = torch.tensor([1, 0])
    boxes = torch.cat([targets.flip(0), torch.tensor([[0.5, 0.5, 0.5, 0.5]])])
    logits = torch.full((3, 2), -8.0)
    logits[0, 0] = logits[1, 1] = 8.0
    losses = set_criterion()(detections(boxes, logits), labels, targets)
    assert losses.l1.item() == pytest.approx(0.0, abs=1e-6)
    assert losses.giou.item() == pytest.approx(0.0, abs=1e-6)
    assert losses.refine_box.item() == pytest.approx(0.0, abs=1e-6)
    assert losses.class_loss.item() < 1e-4


def test_no_targets_gives_class_loss_only():
    logits = torch.zeros(3, 2)
    losses = set_criterion()(
        detections(torch.rand(3, 4), logits, 1), torch.zeros(0, dtype=torch.long), torch.zeros(0, 4)
    )
    assert losses.l1.item() == 0.0 and losses.giou.item() == 0.0
    expected = 6 * 0.75 * 0.5**2 * math.log(2)  # 3 queries x 2 classes of negatives at p = 0.5
    assert losses.class_loss.item() == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize(("side", "boosted"), [(0.05, True), (0.5, False)])
def test_small_targets_weight_up_the_refined_box_loss(side, boosted):
    targets = torch.tensor([[0.5, 0.5, side, side]])
    boxes = torch.tensor([[0.52, 0.5, side, side]])
    logits = torch.zeros(1, 2)
    plain = set_criterion(small_object_boost=0.0)(
        detections(boxes, logits), torch.tensor([0]), targets
    )
    weighted = set_criterion(small_object_boost=2.0)(
        detections(boxes, logits), torch.tensor([0]), targets
    )
    ratio = weighted.refine_box.item() / plain.refine_box.item()
    assert ratio == pytest.approx(3.0 if boosted else 1.0, rel=1e-5)
    assert weighted.l1.item() == pytest.approx(plain.l1.item())  # decoder layers unaffected


def test_set_criterion_rejects_batches():
    det = detections(torch.rand(2, 4), torch.zeros(2, 2))
    det.class_logits = det.class_logits.expand(-1, 2, -1, -1)
    with pytest.raises(ValueError, match="one frame"):
        set_criterion()(det, torch.tensor([0]), torch.rand(1, 4))


def test_balanced_focal_does_not_depend_on_object_size():
    target = torch.zeros(2, 16, 16)
    target[0, :1, :1] = 1  # 1 pixel
    target[1, :8] = 1  # half the image
    losses = CRITERION(
        mask_output(torch.zeros(2, 1, 16, 16), torch.zeros(2, 1), torch.full((2, 1), 5.0)), target
    )
    # logit 0 everywhere: positives 0.25 * 0.5^2 * ln 2, negatives 0.75 * 0.5^2 * ln 2, per object
    assert losses.focal.item() == pytest.approx((0.25 + 0.75) * 0.25 * math.log(2), rel=1e-5)


def test_saturated_logits_still_get_a_gradient():
    target = torch.zeros(1, 16, 16)
    target[0, 4:8, 4:8] = 1
    logits = torch.full((1, 1, 16, 16), -100.0, requires_grad=True)  # all background, saturated
    losses = CRITERION(mask_output(logits, torch.ones(1, 1), torch.full((1, 1), 5.0)), target)
    assert math.isfinite(losses.total.item())
    losses.total.backward()
    assert bool((logits.grad[0, 0, 4:8, 4:8] < 0).all())  # pushes the object's pixels back up


def test_token_proposals_are_supervised_like_a_decoder_layer():
    targets = torch.tensor([[0.3, 0.3, 0.2, 0.2]])
    labels = torch.tensor([1])
    logits = torch.full((2, 2), -8.0)
    logits[0, 1] = 8.0
    boxes = torch.cat([targets, torch.tensor([[0.5, 0.5, 0.5, 0.5]])])
    plain = detections(boxes, logits, num_layers=1)
    criterion = set_criterion()
    without = criterion(plain, labels, targets)
    plain.proposal_logits, plain.proposal_boxes_cxcywh = logits[None], boxes[None]
    perfect = criterion(plain, labels, targets)
    assert perfect.l1.item() == pytest.approx(0.0, abs=1e-6)
    assert perfect.class_loss.item() == pytest.approx(2 * without.class_loss.item(), rel=1e-5)
    plain.proposal_boxes_cxcywh = torch.tensor([[[0.8, 0.8, 0.1, 0.1], [0.6, 0.6, 0.2, 0.2]]])
    off = criterion(plain, labels, targets)
    assert off.l1 > 0.1 and off.giou > 1.0 and off.total > perfect.total


def box_target(x0, y0, x1, y1, size=16):
    target = torch.zeros(size, size)
    target[y0:y1, x0:x1] = 1.0
    return target


@pytest.mark.parametrize(
    "predicted, expected",
    [
        (box_target(4, 6, 10, 12), "near zero"),  # the box itself
        (box_target(4, 6, 10, 7) + box_target(4, 6, 5, 12), "near zero"),
        # an L along two sides has the box's projections: BoxInst does not see inside
        (box_target(9, 6, 15, 12), "large"),  # shifted right, off most of the box
        (box_target(0, 0, 3, 3), "large"),  # elsewhere
    ],
)
def test_projection_loss_is_near_zero_only_for_masks_with_the_boxs_projections(predicted, expected):
    logits = (predicted * 2 - 1) * 20  # confident: +20 inside, -20 outside
    loss = projection_loss(logits, box_target(4, 6, 10, 12)).item()
    assert (loss < 0.05) if expected == "near zero" else (loss > 0.4)


def test_projection_loss_grows_with_the_shift_and_gives_gradients():
    target = box_target(4, 6, 10, 12)
    losses = [
        projection_loss((box_target(4 + s, 6, 10 + s, 12) * 2 - 1) * 4, target).item()
        for s in (0, 2, 4)
    ]
    assert losses[0] < losses[1] < losses[2]
    logits = torch.zeros(16, 16, requires_grad=True)
    projection_loss(logits, target).backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0


def test_box_only_rows_get_the_projection_loss_and_no_iou_or_focal_terms():
    target = box_target(4, 6, 10, 12)[None]  # (1, H, W)
    logits = ((target * 2 - 1) * 20)[:, None]  # (1, 1, H, W) the box exactly
    criterion = MaskCriterion(
        focal_weight=1.0,
        dice_weight=1.0,
        iou_weight=1.0,
        object_score_weight=1.0,
        projection_weight=3.0,
    )
    output = mask_output(logits, torch.tensor([[0.0]]), torch.tensor([[5.0]]))
    boxed = criterion(output, target, torch.tensor([True]))
    masked = criterion(output, target, torch.tensor([False]))
    assert boxed.focal.item() == boxed.dice.item() == boxed.iou.item() == 0.0
    assert boxed.projection.item() < 0.05 and boxed.object_score.item() > 0
    assert masked.projection.item() == 0.0 and masked.iou.item() == pytest.approx(1.0)
    assert boxed.total.item() == pytest.approx(
        3.0 * boxed.projection.item() + boxed.object_score.item(), rel=1e-5
    )
