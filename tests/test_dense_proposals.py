"""One-to-many proposal assignment: which tokens are positives, the losses, the set loss switch."""

import math

import pytest
import torch
from criteria import set_criterion

from sam2_enhanced.modeling.detection_head import DetectionOutput
from sam2_enhanced.training.class_losses import FocalClassLoss, VarifocalClassLoss
from sam2_enhanced.training.dense_proposals import dense_assignment, dense_proposal_losses
from sam2_enhanced.training.losses import SetCriterion

FOCAL = FocalClassLoss(alpha=0.25, gamma=2.0)
GRID = 8  # tokens of 1/8 of the side; token centres at (i + 0.5) / 8


def token(x: int, y: int) -> int:
    return y * GRID + x


@pytest.mark.parametrize(
    ("box", "radius", "positives"),
    [
        # an object smaller than a token: only the token holding its centre
        ([0.30, 0.30, 0.02, 0.02], 1.5, {token(2, 2)}),
        # 4 x 4 tokens centred on a token corner: every token inside is within 1.5 tokens
        (
            [0.5, 0.5, 0.5, 0.5],
            1.5,
            {token(x, y) for x in range(3, 5) for y in range(3, 5)}
            | {token(x, y) for x in (2, 5) for y in range(2, 6)}
            | {token(x, y) for x in range(2, 6) for y in (2, 5)},
        ),
        # the same box, radius 0.5: only the four tokens around its centre
        ([0.5, 0.5, 0.5, 0.5], 0.5, {token(x, y) for x in range(3, 5) for y in range(3, 5)}),
        # radius 0 still keeps the centre's token
        ([0.5, 0.5, 0.5, 0.5], 0.0, {token(4, 4)}),
        # a box at the border: its centre's token is clamped inside the grid
        ([1.0, 0.0, 0.01, 0.01], 1.5, {token(7, 0)}),
    ],
)
def test_positive_tokens(box, radius, positives):
    assigned = dense_assignment(torch.tensor([box]), GRID, radius)
    assert assigned.shape == (GRID * GRID,)
    assert set((assigned == 0).nonzero().squeeze(1).tolist()) == positives
    assert set(assigned.unique().tolist()) <= {-1, 0}


def test_a_token_claimed_by_two_targets_goes_to_the_smaller():
    boxes = torch.tensor([[0.5, 0.5, 0.6, 0.6], [0.5625, 0.5625, 0.05, 0.05]])
    assigned = dense_assignment(boxes, GRID, 1.5)
    assert assigned[token(4, 4)] == 1  # the small box's centre token
    assert (assigned == 0).sum() > 1  # the big box keeps the rest of its tokens


def test_no_targets_no_positives_and_bad_radius():
    assert (dense_assignment(torch.zeros(0, 4), GRID, 1.5) == -1).all()
    with pytest.raises(ValueError, match="radius must be >= 0"):
        dense_assignment(torch.zeros(1, 4), GRID, -1.0)


def proposals(boxes_value: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    logits = torch.full((GRID * GRID, 2), -4.0, requires_grad=True)
    boxes = torch.full((GRID * GRID, 4), boxes_value).requires_grad_(True)
    return logits, boxes


def test_losses_push_positives_up_and_toward_their_box_and_negatives_down():
    target = torch.tensor([[0.5, 0.5, 0.5, 0.5]])
    logits, boxes = proposals(0.4)
    class_term, l1, giou = dense_proposal_losses(
        logits, boxes, torch.tensor([1]), target, 1.5, FOCAL
    )
    (class_term + l1 + giou).backward()
    assigned = dense_assignment(target, GRID, 1.5)
    positive = assigned >= 0
    assert (logits.grad[positive, 1] < 0).all()  # the target's class goes up on positives
    assert (logits.grad[positive, 0] > 0).all()  # the other class down
    assert (logits.grad[~positive] > 0).all()  # every class down on negatives
    assert (boxes.grad[~positive] == 0).all()  # no box term on negatives
    assert (boxes.grad[positive, 2:] < 0).all()  # too small: width and height grow
    assert l1.item() == pytest.approx(4 * 0.1, abs=1e-6)  # per positive, summed over x, y, w, h


def test_exact_boxes_have_zero_box_loss_and_varifocal_targets_their_iou():
    target = torch.tensor([[0.5, 0.5, 0.5, 0.5]])
    logits, _ = proposals()
    exact = target.expand(GRID * GRID, 4)
    _, l1, giou = dense_proposal_losses(logits, exact, torch.tensor([0]), target, 1.5, FOCAL)
    assert l1.item() == pytest.approx(0.0) and giou.item() == pytest.approx(0.0, abs=1e-6)
    at_iou = torch.full((GRID * GRID, 1), math.log(1.0 / 1e-6)).requires_grad_(True)
    varifocal = VarifocalClassLoss(alpha=0.75, gamma=2.0)
    class_term, _, _ = dense_proposal_losses(
        at_iou, exact, torch.tensor([0]), target, 1.5, varifocal
    )
    class_term.backward()
    positive = dense_assignment(target, GRID, 1.5) >= 0
    assert at_iou.grad[positive].abs().max() < 1e-4  # p ~ 1 = IoU: nothing to learn
    assert (at_iou.grad[~positive] > 0).all()


def test_no_targets_gives_only_the_negative_class_term_and_bad_grid():
    logits, boxes = proposals()
    class_term, l1, giou = dense_proposal_losses(
        logits, boxes, torch.zeros(0, dtype=torch.long), torch.zeros(0, 4), 1.5, FOCAL
    )
    assert class_term.item() > 0 and l1.item() == 0 and giou.item() == 0
    with pytest.raises(ValueError, match="square token grid"):
        dense_proposal_losses(
            logits[:10], boxes[:10], torch.tensor([0]), torch.rand(1, 4), 1.5, FOCAL
        )


def criterion(assignment: str) -> SetCriterion:
    return set_criterion(proposal_assignment=assignment)


def test_set_loss_switch_changes_only_the_proposal_terms():
    target_labels, target = torch.tensor([0]), torch.tensor([[0.5, 0.5, 0.5, 0.5]])
    logits, boxes = proposals(0.4)
    queries = torch.rand(3, 4) * 0.5 + 0.25
    detections = DetectionOutput(
        class_logits=torch.zeros(1, 1, 3, 2),
        boxes_cxcywh=queries[None, None],
        refined_logits=torch.zeros(1, 3, 2),
        refined_boxes_cxcywh=queries[None],
        query_states=torch.zeros(1, 3, 8),
        proposal_logits=logits[None],
        proposal_boxes_cxcywh=boxes[None],
    )
    one_to_one = criterion("hungarian")(detections, target_labels, target)
    one_to_many = criterion("dense")(detections, target_labels, target)
    assert one_to_one.refine_class == one_to_many.refine_class
    assert one_to_one.class_loss != one_to_many.class_loss
    one_to_many.total.backward()
    positive = dense_assignment(target, GRID, 1.5) >= 0
    assert (boxes.grad[positive].abs().sum(-1) > 0).all()  # every positive learns its box
    with pytest.raises(ValueError, match="proposal_assignment must be one of"):
        criterion("atss")


def test_positives_only_ignores_every_other_cell_and_the_class():
    target = torch.tensor([[0.5, 0.5, 0.5, 0.5]])
    logits, boxes = proposals(0.4)
    with torch.no_grad():
        logits[:, 1] = -2.0  # class 1 is each cell's best: the objectness read
    class_term, l1, _ = dense_proposal_losses(
        logits, boxes, torch.tensor([0]), target, 1.5, FOCAL, positives_only=True
    )
    class_term.backward()
    positive = dense_assignment(target, GRID, 1.5) >= 0
    assert (logits.grad[~positive] == 0).all()  # unlabelled objects may be anywhere else
    assert (logits.grad[positive, 0] == 0).all()  # the placeholder class is not learnt
    assert (logits.grad[positive, 1] < 0).all()  # the objectness goes up
    assert l1.item() == pytest.approx(4 * 0.1, abs=1e-6)


def test_positives_only_set_loss_pushes_no_query_to_no_object():
    target_labels, target = torch.tensor([0]), torch.tensor([[0.5, 0.5, 0.2, 0.2]])
    logits = torch.zeros(3, 2, requires_grad=True)
    queries = torch.tensor([[0.5, 0.5, 0.2, 0.2], [0.1, 0.1, 0.1, 0.1], [0.9, 0.9, 0.1, 0.1]])
    detections = DetectionOutput(
        class_logits=logits[None, None],
        boxes_cxcywh=queries[None, None],
        refined_logits=logits[None],
        refined_boxes_cxcywh=queries[None],
        query_states=torch.zeros(1, 3, 8),
    )
    losses = criterion("hungarian")(detections, target_labels, target, positives_only=True)
    losses.total.backward()
    assert (logits.grad[1:] == 0).all()  # the two other queries: unlabelled, untouched
    assert logits.grad[0].sum() < 0  # the matched query's objectness goes up
    with pytest.raises(ValueError, match="denoising queries need every object labelled"):
        criterion("hungarian")(detections, target_labels, target, object(), positives_only=True)
