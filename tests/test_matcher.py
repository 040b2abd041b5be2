"""Hungarian matcher: hand-checked assignments, cost terms, empty inputs and bad input."""

import math

import pytest
import torch

from sam2_enhanced.training.matcher import HungarianMatcher, focal_class_cost


def l1_only(**kwargs):
    return HungarianMatcher(class_weight=0.0, l1_weight=1.0, giou_weight=0.0, **kwargs)


def test_swapped_predictions_are_matched_to_the_nearest_target():
    boxes = torch.tensor([[0.8, 0.8, 0.1, 0.1], [0.2, 0.2, 0.1, 0.1], [0.5, 0.5, 0.9, 0.9]])
    targets = torch.tensor([[0.2, 0.2, 0.1, 0.1], [0.8, 0.8, 0.1, 0.1]])
    match = HungarianMatcher(class_weight=2.0, l1_weight=5.0, giou_weight=2.0)(
        torch.zeros(3, 4), boxes, torch.tensor([1, 2]), targets
    )
    pairs = sorted(zip(match.pred_indices.tolist(), match.target_indices.tolist(), strict=True))
    assert pairs == [(0, 1), (1, 0)]


def test_l1_cost_matrix_matches_hand_computation():
    boxes = torch.tensor([[0.1, 0.2, 0.3, 0.4]])
    targets = torch.tensor([[0.2, 0.2, 0.1, 0.5], [0.1, 0.2, 0.3, 0.4]])
    cost = l1_only().cost_matrix(torch.zeros(1, 2), boxes, torch.tensor([0, 1]), targets)
    torch.testing.assert_close(cost, torch.tensor([[0.1 + 0.0 + 0.2 + 0.1, 0.0]]))


def test_focal_class_cost_prefers_the_confident_class():
    logits = torch.tensor([[4.0, -4.0], [-4.0, 4.0]])
    cost = focal_class_cost(logits, torch.tensor([0, 1]), alpha=0.25, gamma=2.0)
    assert cost[0, 0] < cost[1, 0] and cost[1, 1] < cost[0, 1]
    p = 1 / (1 + math.exp(-4.0))
    expected = 0.25 * (1 - p) ** 2 * -math.log(p) - 0.75 * p**2 * -math.log(1 - p)
    assert cost[0, 0].item() == pytest.approx(expected, rel=1e-4)


@pytest.mark.parametrize(("num_preds", "num_targets"), [(0, 2), (3, 0), (0, 0)])
def test_empty_inputs_give_empty_match(num_preds, num_targets):
    match = l1_only()(
        torch.zeros(num_preds, 3),
        torch.rand(num_preds, 4),
        torch.zeros(num_targets, dtype=torch.long),
        torch.rand(num_targets, 4),
    )
    assert match.pred_indices.numel() == 0 and match.target_indices.numel() == 0


def test_more_targets_than_predictions_matches_each_prediction_once():
    match = l1_only()(
        torch.zeros(2, 3), torch.rand(2, 4), torch.tensor([0, 1, 2]), torch.rand(3, 4)
    )
    assert sorted(match.pred_indices.tolist()) == [0, 1]
    assert len(set(match.target_indices.tolist())) == 2


@pytest.mark.parametrize(
    ("logits", "boxes", "labels", "targets"),
    [
        (torch.zeros(2, 3, 1), torch.rand(2, 4), torch.tensor([0]), torch.rand(1, 4)),
        (torch.zeros(2, 3), torch.rand(2, 3), torch.tensor([0]), torch.rand(1, 4)),
        (torch.zeros(2, 3), torch.rand(2, 4), torch.tensor([0, 1]), torch.rand(1, 4)),
        (torch.zeros(2, 3), torch.rand(2, 4), torch.tensor([3]), torch.rand(1, 4)),
        (torch.zeros(2, 3), torch.rand(2, 4), torch.tensor([-1]), torch.rand(1, 4)),
    ],
)
def test_bad_shapes_and_labels_raise(logits, boxes, labels, targets):
    with pytest.raises(ValueError):
        l1_only()(logits, boxes, labels, targets)


def test_negative_weight_raises():
    with pytest.raises(ValueError, match="weights must be >= 0"):
        HungarianMatcher(class_weight=-1.0, l1_weight=1.0, giou_weight=1.0)
