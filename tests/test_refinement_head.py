"""Small-object refinement head: iterative passes (``heads.refine_steps``) on a tiny head."""

import pytest
import torch

from sam2_enhanced.modeling.detection_head import SmallObjectRefinementHead

D, GRID = 32, 32  # query width; side of the stride-4 map


def make_head(num_steps: int) -> SmallObjectRefinementHead:
    torch.manual_seed(0)
    head = SmallObjectRefinementHead(
        d_model=D,
        feature_dim=D,
        image_size=128,
        small_object_size=32.0,
        grid=4,
        hidden_dim=32,
        num_steps=num_steps,
    )
    torch.nn.init.normal_(head.mlp.layers[-1].weight, std=0.5)  # non-zero deltas
    return head


def inputs(num_queries: int = 3):
    torch.manual_seed(1)
    boxes = torch.tensor([[0.3, 0.4, 0.1, 0.12], [0.6, 0.5, 0.2, 0.1], [0.5, 0.5, 0.95, 0.95]])
    return (
        torch.randn(2, num_queries, D),  # states (B, N, d)
        torch.randn(2, num_queries, 4),  # class logits (B, N, C)
        boxes[:num_queries].expand(2, -1, -1).clone(),  # (B, N, 4)
        torch.randn(2, D, GRID, GRID),  # stride-4 map (B, d, 4g, 4g)
    )


@pytest.mark.parametrize("num_steps", [2, 3])
def test_each_pass_starts_from_the_previous_box_and_scores_once(num_steps):
    states, logits, boxes, high_res = inputs()
    one_pass = make_head(1)
    expected_logits, expected_boxes = one_pass(states, logits, boxes, high_res)
    for _ in range(num_steps - 1):
        _, expected_boxes = one_pass(states, logits, expected_boxes, high_res)
    refined_logits, refined_boxes = make_head(num_steps)(states, logits, boxes, high_res)
    torch.testing.assert_close(refined_boxes, expected_boxes)
    torch.testing.assert_close(refined_logits, expected_logits)  # first pass's score delta


def test_second_pass_moves_small_boxes_and_leaves_large_ones():
    states, logits, boxes, high_res = inputs()
    _, once = make_head(1)(states, logits, boxes, high_res)
    _, twice = make_head(2)(states, logits, boxes, high_res)
    assert not torch.allclose(twice[:, :2], once[:, :2], atol=1e-3)
    torch.testing.assert_close(twice[:, 2], boxes[:, 2], atol=1e-3, rtol=0)


def test_batched_equals_one_frame_at_a_time_and_no_queries_is_empty():
    states, logits, boxes, high_res = inputs()
    head = make_head(2)
    batched = head(states, logits, boxes, high_res)
    for b in range(2):
        single = head(states[b : b + 1], logits[b : b + 1], boxes[b : b + 1], high_res[b : b + 1])
        for whole, one in zip(batched, single, strict=True):
            torch.testing.assert_close(whole[b : b + 1], one)
    empty_logits, empty_boxes = head(states[:, :0], logits[:, :0], boxes[:, :0], high_res)
    assert empty_logits.shape == (2, 0, 4) and empty_boxes.shape == (2, 0, 4)


def test_gradients_reach_the_head_and_the_decoder_box_through_every_pass():
    states, logits, boxes, high_res = inputs()
    boxes.requires_grad_(True)
    head = make_head(2)
    refined_logits, refined_boxes = head(states, logits, boxes, high_res)
    (refined_boxes.sum() + refined_logits.sum()).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in head.parameters())
    assert boxes.grad is not None and boxes.grad[:, :2].abs().sum() > 0


@pytest.mark.parametrize("num_steps", [0, -1])
def test_fewer_than_one_pass_is_rejected(num_steps):
    with pytest.raises(ValueError, match="num_steps"):
        make_head(num_steps)
