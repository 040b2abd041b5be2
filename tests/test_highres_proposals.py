"""Stride-4 proposal map: fusion shapes, peak selection, the decoder variant, the whole model."""

import dataclasses

import pytest
import torch

from sam2_enhanced.box_ops import box_iou, cxcywh_to_xyxy
from sam2_enhanced.build import build_model
from sam2_enhanced.config import ModelConfig, from_dict
from sam2_enhanced.modeling.detr_decoder import DetrDecoder, token_anchors
from sam2_enhanced.modeling.highres_proposals import (
    HighResProposalMap,
    distinct_queries,
    peak_scores,
)
from sam2_enhanced.weights.checkpoint import load_pretrained, save_pretrained

D, G, C = 16, 4, 3


def decoder() -> DetrDecoder:
    torch.manual_seed(0)
    return DetrDecoder(
        d_model=D,
        num_queries=5,
        num_classes=C,
        num_layers=2,
        num_heads=2,
        dim_feedforward=32,
        dropout=0.0,
        highres_proposals=HighResProposalMap(d_model=D),
    )


def test_map_keeps_the_stride4_grid_and_stays_local():
    module = HighResProposalMap(d_model=D)
    high_res = torch.randn(2, D, 4 * G, 4 * G)
    out = module(high_res)
    assert out.shape == (2, D, 4 * G, 4 * G)
    torch.testing.assert_close(out[1:], module(high_res[1:]))  # batched equals unbatched
    changed = high_res.clone()
    changed[0, :, 9, 9] += 5.0
    moved = (module(changed) - out).abs().sum(1)[0]  # (4G, 4G)
    assert moved[9, 9] > 0 and moved[11, 11] > 0  # two 3x3 convolutions reach 2 cells
    assert moved[0, 0] == 0 and moved[12, 12] == 0
    with pytest.raises(ValueError, match="high_res must be"):
        module(torch.randn(D, 4 * G, 4 * G))


@pytest.mark.parametrize(
    ("scores", "peaks"),
    [
        # one blob: only its maximum survives
        ([[0, 1, 0], [1, 3, 1], [0, 1, 0]], {4}),
        # two separate maxima both survive; their flanks do not
        ([[5, 1, 0], [1, 0, 1], [0, 1, 4]], {0, 8}),
        # a plateau: every tied cell is a peak
        ([[2, 2, 0], [1, 0, -1], [-2, -3, -4]], {0, 1}),
    ],
)
def test_peak_scores_keep_only_local_maxima(scores, peaks):
    flat = torch.tensor(scores, dtype=torch.float32).reshape(1, 9)
    out = peak_scores(flat, 3)
    kept = set(torch.isfinite(out[0]).nonzero().squeeze(1).tolist())
    assert kept == peaks
    assert torch.equal(out[0, list(peaks)], flat[0, list(peaks)])


def test_decoder_proposes_from_every_stride4_cell_and_queries_sit_on_peaks():
    module = decoder()
    features, pos = torch.randn(2, D, G, G), torch.randn(2, D, G, G)
    high_res = torch.randn(2, D, 4 * G, 4 * G)
    out = module(features, pos, high_res=high_res)
    assert out.proposal_logits.shape == (2, 16 * G * G, C)
    assert out.states.shape == (2, 2, 5, D)
    torch.testing.assert_close(
        out.proposal_boxes[0], token_anchors(4 * G, torch.device("cpu")), atol=1e-5, rtol=0
    )  # untrained: each cell's proposal is its one-cell anchor
    for b in range(2):
        scores = peak_scores(out.proposal_logits[b : b + 1].amax(-1), 4 * G)[0]
        chosen = scores.topk(5).indices
        assert torch.isfinite(scores[chosen]).all()  # 5 peaks exist in random features
        torch.testing.assert_close(out.reference_boxes[b], out.proposal_boxes[b, chosen])
    with pytest.raises(ValueError, match="needs high_res"):
        module(features, pos)


def test_token_decoder_ignores_high_res():
    torch.manual_seed(0)
    plain = DetrDecoder(
        d_model=D, num_queries=5, num_classes=C, num_layers=1, num_heads=2,
        dim_feedforward=32, dropout=0.0,
    )  # fmt: skip
    features, pos = torch.randn(1, D, G, G), torch.randn(1, D, G, G)
    a = plain(features, pos)
    b = plain(features, pos, high_res=torch.randn(1, D, 4 * G, 4 * G))
    assert torch.equal(a.states, b.states)


def test_config_value_is_checked():
    with pytest.raises(ValueError, match="decoder.proposal_level must be one of"):
        from_dict(ModelConfig, {"decoder": {"proposal_level": "s8"}})


@pytest.fixture(scope="module")
def highres_model(tiny_cfg):
    cfg = dataclasses.replace(
        tiny_cfg, decoder=dataclasses.replace(tiny_cfg.decoder, proposal_level="highres")
    )
    torch.manual_seed(0)
    return build_model(cfg)


def test_model_trains_the_map_and_reloads_identically(highres_model, tmp_path):
    size = highres_model.image_size
    frame = highres_model.encode_image(torch.rand(1, 3, size, size))
    detections = highres_model.detect(frame, None)
    grid = frame.fpn_s0.shape[-1]
    assert detections.proposal_logits.shape[1] == grid * grid
    (detections.proposal_logits.sum() + detections.refined_boxes_cxcywh.sum()).backward()
    for name, param in highres_model.detr_decoder.highres_proposals.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name
    save_pretrained(highres_model, tmp_path / "ckpt")
    reloaded = load_pretrained(tmp_path / "ckpt")
    assert reloaded.config.decoder.proposal_level == "highres"
    images = torch.rand(1, 3, size, size)
    with torch.no_grad():
        again = reloaded.eval().detect(reloaded.encode_image(images), None)
        original = highres_model.eval().detect(highres_model.encode_image(images), None)
    assert torch.equal(again.refined_boxes_cxcywh, original.refined_boxes_cxcywh)
    assert torch.equal(again.proposal_logits, original.proposal_logits)


def test_context_blocks_start_as_identity_then_widen_the_view():
    torch.manual_seed(0)
    plain = HighResProposalMap(d_model=D)
    wide = HighResProposalMap(d_model=D, context_dilations=(2, 4))
    wide.load_state_dict(plain.state_dict(), strict=False)  # as init_from a model without them
    high_res = torch.randn(2, D, 4 * G, 4 * G)
    torch.testing.assert_close(wide(high_res), plain(high_res))  # zero-initialised output convs
    for block in wide.context:
        torch.nn.init.normal_(block.out.weight, std=0.1)
    changed = high_res.clone()
    changed[0, :, 0, 0] += 5.0
    moved = (wide(changed) - wide(high_res)).abs().sum(1)[0]  # (4G, 4G)
    assert moved[8, 8] > 0  # 2 + 2 (mix) + 2 (dilation 2) + 4 (dilation 4) cells away
    assert moved[11, 11] == 0  # beyond the field of view
    torch.testing.assert_close(wide(high_res)[1:], wide(high_res[1:]))  # batched = unbatched
    wide(high_res).sum().backward()
    for name, param in wide.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


@pytest.mark.parametrize(
    ("decoder_keys", "message"),
    [
        ({"proposal_context_dilations": [2, 0]}, "must be >= 1"),
        ({"proposal_context_dilations": [2], "proposal_level": "tokens"}, "need decoder"),
    ],
)
def test_bad_context_dilations_are_refused(decoder_keys, message):
    with pytest.raises(ValueError, match=message):
        from_dict(ModelConfig, {"decoder": decoder_keys})
    with pytest.raises(ValueError, match="must be >= 1"):
        HighResProposalMap(d_model=D, context_dilations=(0,))


def test_distinct_queries_pass_over_overlapping_proposals_then_top_up():
    boxes = torch.tensor(
        [[[0.2, 0.2, 0.1, 0.1], [0.21, 0.2, 0.1, 0.1], [0.7, 0.7, 0.1, 0.1], [0.5, 0.5, 0.1, 0.1]]]
    )  # (1, 4, 4): proposal 1 nearly repeats proposal 0
    scores = torch.tensor([[0.9, 0.8, 0.7, 0.1]])
    assert distinct_queries(scores, boxes, 3, 0.5, 4).tolist() == [[0, 2, 3]]
    assert distinct_queries(scores, boxes, 4, 0.5, 4).tolist() == [[0, 2, 3, 1]]  # topped up
    assert distinct_queries(scores, boxes, 2, 0.5, 2).tolist() == [[0, 1]]  # 2 candidates only
    assert distinct_queries(scores, boxes, 9, 0.5, 40).tolist() == [[0, 2, 3, 1]]  # N <= P
    assert distinct_queries(scores, boxes, 3, 1.0, 4).tolist() == [[0, 1, 2]]  # nothing overlaps
    batched = distinct_queries(scores.repeat(2, 1), boxes.repeat(2, 1, 1), 3, 0.5, 4)
    assert batched.tolist() == [[0, 2, 3]] * 2


def test_decoder_with_distinct_queries_decodes_them():
    torch.manual_seed(0)
    module = DetrDecoder(
        d_model=D, num_queries=5, num_classes=C, num_layers=1, num_heads=2,
        dim_feedforward=32, dropout=0.0, highres_proposals=HighResProposalMap(d_model=D),
        query_nms_iou=0.5,
    )  # fmt: skip
    with torch.no_grad():
        module.proposal_box.layers[-1].bias.copy_(torch.tensor([0.0, 0.0, 2.0, 2.0]))  # wide
    features, pos = torch.randn(1, D, G, G), torch.randn(1, D, G, G)
    out = module(features, pos, high_res=torch.randn(1, D, 4 * G, 4 * G))
    chosen = distinct_queries(
        out.proposal_logits.amax(-1), out.proposal_boxes, 5, 0.5, 50
    )[0]  # fmt: skip
    torch.testing.assert_close(out.reference_boxes[0], out.proposal_boxes[0, chosen])
    refs = cxcywh_to_xyxy(out.reference_boxes[0])
    overlap = box_iou(refs, refs)[0].fill_diagonal_(0)
    assert overlap.max() <= 0.5 + 1e-6  # every pair of queries is distinct


@pytest.mark.parametrize("value", [0.0, 1.5, -0.2])
def test_bad_query_nms_iou_is_refused(value):
    with pytest.raises(ValueError, match="query_nms_iou"):
        from_dict(ModelConfig, {"decoder": {"query_nms_iou": value}})
    with pytest.raises(ValueError, match="query_nms_iou"):
        DetrDecoder(
            d_model=D, num_queries=5, num_classes=C, num_layers=1, num_heads=2,
            dim_feedforward=32, dropout=0.0, query_nms_iou=value,
        )  # fmt: skip
