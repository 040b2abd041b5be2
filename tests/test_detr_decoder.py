"""DETR decoder with two-stage query selection: anchors, proposals, selection, box deltas."""

import pytest
import torch

from sam2_enhanced.modeling.detection_head import DetectionHead
from sam2_enhanced.modeling.detr_decoder import DetrDecoder, box_sine_embedding, token_anchors

D, G, C = 16, 4, 3


def decoder(num_queries=5, d_model=D) -> DetrDecoder:
    torch.manual_seed(0)
    return DetrDecoder(
        d_model=d_model,
        num_queries=num_queries,
        num_classes=C,
        num_layers=2,
        num_heads=2,
        dim_feedforward=32,
        dropout=0.0,
    )


def test_token_anchors_are_one_token_boxes_in_row_major_order():
    anchors = token_anchors(G, torch.device("cpu"))
    assert anchors.shape == (G * G, 4)
    torch.testing.assert_close(anchors[0], torch.tensor([0.125, 0.125, 0.25, 0.25]))
    torch.testing.assert_close(anchors[1], torch.tensor([0.375, 0.125, 0.25, 0.25]))  # next x
    torch.testing.assert_close(anchors[G], torch.tensor([0.125, 0.375, 0.25, 0.25]))  # next y


def test_box_sine_embedding_tells_nearby_boxes_apart():
    boxes = torch.tensor([[0.50, 0.5, 0.05, 0.05], [0.52, 0.5, 0.05, 0.05]])
    embedded = box_sine_embedding(boxes, D)
    assert embedded.shape == (2, D)
    assert (embedded[0] - embedded[1]).abs().max() > 0.5  # 2% of a side moves the top frequency


def test_queries_start_from_the_best_scoring_token_proposals():
    module = decoder()
    features, pos = torch.randn(2, D, G, G), torch.randn(2, D, G, G)
    out = module(features, pos)
    assert out.states.shape == (2, 2, 5, D)
    assert out.proposal_logits.shape == (2, G * G, C)
    assert out.proposal_boxes.shape == (2, G * G, 4)
    # untrained, proposals sit on their anchors
    anchors = token_anchors(G, torch.device("cpu"))
    torch.testing.assert_close(out.proposal_boxes[0], anchors, atol=1e-5, rtol=0)
    for b in range(2):
        best = out.proposal_logits[b].amax(dim=-1).topk(5).indices
        torch.testing.assert_close(out.reference_boxes[b], out.proposal_boxes[b, best].detach())
    assert not out.reference_boxes.requires_grad


def test_more_queries_than_tokens_selects_every_token():
    out = decoder(num_queries=100)(torch.randn(1, D, G, G), torch.randn(1, D, G, G))
    assert out.states.shape[2] == G * G


def test_boxes_are_deltas_from_the_reference_boxes():
    head = DetectionHead(d_model=D, num_classes=C)
    torch.nn.init.zeros_(head.box_embed.layers[-1].weight)
    torch.nn.init.zeros_(head.box_embed.layers[-1].bias)
    reference = torch.tensor([[[0.2, 0.3, 0.05, 0.1], [0.7, 0.6, 0.3, 0.2]]])  # (B=1, N=2, 4)
    logits, boxes = head(torch.randn(3, 1, 2, D), reference)
    assert logits.shape == (3, 1, 2, C)
    torch.testing.assert_close(boxes, reference.expand(3, -1, -1, -1))


def test_width_not_divisible_by_eight_is_refused():
    with pytest.raises(ValueError, match="multiple of 8"):
        decoder(d_model=12)
