"""Detector class losses: varifocal by hand, its relation to focal, gradients, the set loss."""

import math

import pytest
import torch
from criteria import set_criterion

from sam2_enhanced.modeling.detection_head import DetectionOutput
from sam2_enhanced.training.class_losses import (
    FocalClassLoss,
    VarifocalClassLoss,
    build_class_loss,
    sigmoid_focal_loss,
)
from sam2_enhanced.training.losses import SetCriterion

LN3 = math.log(3.0)
VARIFOCAL = VarifocalClassLoss(alpha=0.75, gamma=2.0)


def test_varifocal_matches_a_hand_computed_two_by_two_example():
    # p = [[0.5, 0.75], [0.75, 0.25]]; query 0 is matched to class 1 with IoU 0.6
    logits = torch.tensor([[0.0, LN3], [LN3, -LN3]])
    onehot = torch.tensor([[0.0, 1.0], [0.0, 0.0]])
    loss = VARIFOCAL(logits, onehot, torch.tensor([0.6, 0.0]))
    expected = torch.tensor(
        [
            [0.75 * 0.5**2 * math.log(2), 0.6 * -(0.6 * math.log(0.75) + 0.4 * math.log(0.25))],
            [0.75 * 0.75**2 * math.log(4), 0.75 * 0.25**2 * -math.log(0.75)],
        ]
    )
    torch.testing.assert_close(loss, expected, rtol=1e-5, atol=1e-7)


def test_varifocal_with_iou_one_is_bce_on_positives_and_focal_on_negatives():
    logits = torch.randn(6, 3) * 3
    onehot = torch.zeros(6, 3)
    onehot[torch.arange(3), torch.tensor([0, 2, 1])] = 1.0
    loss = VARIFOCAL(logits, onehot, torch.tensor([1.0, 1, 1, 0, 0, 0]))
    bce = sigmoid_focal_loss(logits, onehot, alpha=-1.0, gamma=0.0)  # plain BCE
    focal = sigmoid_focal_loss(logits, onehot, alpha=1 - 0.75, gamma=2.0)
    positive = onehot.bool()
    torch.testing.assert_close(loss[positive], bce[positive])
    torch.testing.assert_close(loss[~positive], focal[~positive])


@pytest.mark.parametrize(
    ("logit", "matched", "iou", "sign"),
    [
        (3.0, False, 0.0, 1),  # over-confident negative: pushed down
        (-3.0, False, 0.0, 1),  # confident negative: still down, barely
        (-1.0, True, 0.8, -1),  # positive scoring below its IoU: pushed up
        (3.0, True, 0.5, 1),  # positive scoring above its IoU: pushed down to the IoU
    ],
)
def test_varifocal_gradient_moves_the_score_toward_the_iou(logit, matched, iou, sign):
    logits = torch.tensor([[logit]], requires_grad=True)
    onehot = torch.tensor([[float(matched)]])
    VARIFOCAL(logits, onehot, torch.tensor([iou])).sum().backward()
    assert torch.sign(logits.grad).item() == sign
    if not matched:  # weight is detached: d/dlogit = alpha * p^gamma * p
        p = torch.sigmoid(torch.tensor(logit)).item()
        assert logits.grad.item() == pytest.approx(0.75 * p**2 * p, rel=1e-5)


def test_focal_class_loss_ignores_the_iou():
    logits, onehot = torch.randn(4, 2), torch.eye(2).repeat(2, 1)
    focal = FocalClassLoss(alpha=0.25, gamma=2.0)
    torch.testing.assert_close(
        focal(logits, onehot, torch.zeros(4)), focal(logits, onehot, torch.ones(4))
    )


def test_unknown_class_loss_name_is_refused():
    with pytest.raises(ValueError, match="train.det_class_loss"):
        build_class_loss("bce", focal_alpha=0.25, varifocal_alpha=0.75, gamma=2.0)


def criterion(name: str) -> SetCriterion:
    return set_criterion(
        class_loss=build_class_loss(name, focal_alpha=0.25, varifocal_alpha=0.75, gamma=2.0)
    )


def single_layer(boxes, logits):
    return DetectionOutput(
        class_logits=logits[None, None],
        boxes_cxcywh=boxes[None, None],
        refined_logits=logits[None],
        refined_boxes_cxcywh=boxes[None],
        query_states=torch.zeros(1, boxes.shape[0], 8),
    )


def test_set_loss_with_varifocal_targets_the_matched_boxs_iou():
    target = torch.tensor([[0.5, 0.5, 0.2, 0.2]])
    shifted = torch.tensor([[0.55, 0.5, 0.2, 0.2]])  # IoU 0.03 / 0.05 = 0.6
    logits = torch.full((1, 1), math.log(0.6 / 0.4), requires_grad=True)  # p = IoU
    losses = criterion("varifocal")(single_layer(shifted, logits), torch.tensor([0]), target)
    losses.class_loss.backward()
    assert abs(logits.grad.item()) < 1e-6  # p = IoU is the minimum of BCE(p, IoU)
    focal_logits = logits.detach().clone().requires_grad_(True)
    focal = criterion("focal")(single_layer(shifted, focal_logits), torch.tensor([0]), target)
    focal.class_loss.backward()
    assert focal_logits.grad.item() < 0  # focal still pushes the score toward 1
