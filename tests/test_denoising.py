"""Contrastive denoising: query construction, attention mask, decoder isolation, losses, config."""

import pytest
import torch

from sam2_enhanced import build_model, load_config
from sam2_enhanced.box_ops import cxcywh_to_xyxy
from sam2_enhanced.modeling.denoising import build_denoising_queries, denoising_attn_mask
from sam2_enhanced.modeling.detection_head import DetectionOutput
from sam2_enhanced.modeling.detr_decoder import DetrDecoder
from sam2_enhanced.training.class_losses import FocalClassLoss
from sam2_enhanced.training.config import load_train_config
from sam2_enhanced.training.denoising_loss import denoising_losses

D, G, C = 16, 4, 3
BOXES = torch.tensor([[0.3, 0.4, 0.2, 0.1], [0.6, 0.5, 0.1, 0.3], [0.5, 0.7, 0.2, 0.2]])
LABELS = torch.tensor([2, 0, 1])


def queries(num_groups=2, box_noise=0.4, label_noise=0.0, labels=LABELS, boxes=BOXES, seed=0):
    return build_denoising_queries(
        [labels],
        [boxes],
        num_groups=num_groups,
        num_classes=C,
        box_noise=box_noise,
        label_noise=label_noise,
        generator=torch.Generator().manual_seed(seed),
    )


def test_queries_copy_every_target_into_positive_and_negative_halves_of_each_group():
    dn = queries(num_groups=2)
    assert dn.num_queries == 2 * 2 * 3 and dn.group_targets == 3
    assert dn.labels.shape == (1, 12) and dn.boxes_cxcywh.shape == (1, 12, 4)
    assert dn.target_index[0].tolist() == [0, 1, 2] * 4
    assert dn.is_positive[0].tolist() == ([True] * 3 + [False] * 3) * 2
    assert dn.labels[0].tolist() == LABELS.tolist() * 4  # no label noise


def test_box_noise_stays_within_bounds_positives_below_and_negatives_beyond():
    box_noise = 0.4
    dn = queries(num_groups=8, box_noise=box_noise, seed=1)
    true = cxcywh_to_xyxy(BOXES).repeat(16, 1)  # (D, 4)
    moved = (cxcywh_to_xyxy(dn.boxes_cxcywh[0]) - true).abs()  # (D, 4)
    limit = (BOXES[:, 2:] * 0.5 * box_noise).repeat(16, 2)  # (D, 4) per-corner half side
    positive = dn.is_positive[0]
    assert bool((moved[positive] <= limit[positive] + 1e-6).all())
    assert bool((moved[~positive] >= limit[~positive] - 1e-6).all())
    assert bool((moved[~positive] <= 2 * limit[~positive] + 1e-6).all())
    assert moved[positive].amax() > 0.5 * limit[positive].amin()  # noise is really applied


def test_noised_boxes_stay_in_the_frame_with_ordered_corners():
    edge = torch.tensor([[0.02, 0.98, 0.04, 0.04]])
    dn = queries(num_groups=16, box_noise=1.0, labels=torch.tensor([0]), boxes=edge)
    corners = cxcywh_to_xyxy(dn.boxes_cxcywh[0])
    assert bool((corners >= -1e-6).all() and (corners <= 1 + 1e-6).all())
    assert bool((dn.boxes_cxcywh[0, :, 2:] >= 0).all())


def test_label_noise_flips_about_half_its_rate_to_random_classes():
    many = torch.zeros(200, dtype=torch.long)
    boxes = torch.tensor([[0.5, 0.5, 0.1, 0.1]]).expand(200, 4)
    dn = queries(num_groups=5, label_noise=0.8, labels=many, boxes=boxes)
    flipped = (dn.labels != 0).float().mean().item()  # 0.4 flipped, 2/3 of them to 1 or 2
    assert flipped == pytest.approx(0.4 * 2 / 3, abs=0.03)
    assert int(dn.labels.max()) < C


def test_frames_are_padded_to_the_most_targets_and_no_target_gives_none():
    dn = build_denoising_queries(
        [LABELS, LABELS[:1]],
        [BOXES, BOXES[:1]],
        num_groups=1,
        num_classes=C,
        box_noise=0.4,
        label_noise=0.0,
        generator=torch.Generator().manual_seed(0),
    )
    assert dn.target_index[1].tolist() == [0, -1, -1, 0, -1, -1]
    assert dn.valid[1].tolist() == [True, False, False, True, False, False]
    empty = torch.zeros(0, dtype=torch.long)
    assert queries(labels=empty, boxes=torch.zeros(0, 4)) is None


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"num_groups": 0}, "num_groups >= 1"),
        ({"box_noise": -0.1}, "box_noise >= 0"),
        ({"label_noise": 1.5}, "label_noise in"),
    ],
)
def test_bad_denoising_arguments_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        queries(**kwargs)


def test_attention_mask_blocks_exactly_denoising_for_matching_and_other_groups():
    mask = denoising_attn_mask(num_matching=3, num_groups=2, group_size=2)
    expected = [
        "...xxxx",  # matching queries see each other only
        "...xxxx",
        "...xxxx",
        ".....xx",  # group 0 sees the matching queries and itself
        ".....xx",
        "...xx..",  # group 1 likewise
        "...xx..",
    ]
    assert ["".join("x" if v else "." for v in row) for row in mask.tolist()] == expected


def decoder(use_denoising=True) -> DetrDecoder:
    torch.manual_seed(0)
    return DetrDecoder(
        d_model=D,
        num_queries=5,
        num_classes=C,
        num_layers=2,
        num_heads=2,
        dim_feedforward=32,
        dropout=0.0,
        use_denoising=use_denoising,
    ).eval()


def test_denoising_queries_do_not_change_the_matching_queries_outputs():
    module = decoder()
    features, pos = torch.randn(1, D, G, G), torch.randn(1, D, G, G)
    plain = module(features, pos)
    dn = queries(num_groups=2)
    with_dn = module(features, pos, dn)
    assert plain.denoising_states is None
    assert with_dn.denoising_states.shape == (2, 1, dn.num_queries, D)
    torch.testing.assert_close(with_dn.states, plain.states, atol=1e-5, rtol=0)
    torch.testing.assert_close(with_dn.denoising_reference, dn.boxes_cxcywh)
    # groups do not see each other: changing group 1's inputs leaves group 0 as it was
    other = queries(num_groups=2)
    other.labels[:, 6:] = (other.labels[:, 6:] + 1) % C
    changed = module(features, pos, other).denoising_states
    torch.testing.assert_close(changed[:, :, :6], with_dn.denoising_states[:, :, :6])
    assert (changed[:, :, 6:] - with_dn.denoising_states[:, :, 6:]).abs().max() > 1e-3


def test_a_decoder_without_the_denoising_embedding_refuses_denoising_queries():
    with pytest.raises(ValueError, match="use_denoising"):
        decoder(use_denoising=False)(torch.randn(1, D, G, G), torch.randn(1, D, G, G), queries())


def test_inference_of_a_model_trained_with_denoising_equals_one_without():
    cfg = load_config("tiny")
    cfg.decoder.use_denoising = True
    torch.manual_seed(0)
    with_dn = build_model(cfg).eval()
    cfg.decoder.use_denoising = False
    without = build_model(cfg).eval()
    result = without.load_state_dict(with_dn.state_dict(), strict=False)
    assert result.missing_keys == []
    assert result.unexpected_keys == ["detr_decoder.denoising_label_embed.weight"]
    with torch.no_grad():
        frame = with_dn.encode_image(torch.rand(1, 3, 112, 112))
        a, b = with_dn.detect(frame, None), without.detect(frame, None)
    assert a.denoising_logits is None
    torch.testing.assert_close(a.refined_logits, b.refined_logits, atol=0, rtol=0)
    torch.testing.assert_close(a.boxes_cxcywh, b.boxes_cxcywh, atol=0, rtol=0)


def dn_output(dn, boxes, logits):
    """Detections whose denoising outputs are ``boxes`` (D, 4), ``logits`` (D, C), 2 layers."""
    return DetectionOutput(
        class_logits=torch.zeros(2, 1, 1, C),
        boxes_cxcywh=torch.zeros(2, 1, 1, 4),
        refined_logits=torch.zeros(1, 1, C),
        refined_boxes_cxcywh=torch.zeros(1, 1, 4),
        query_states=torch.zeros(1, 1, 8),
        denoising_logits=logits[None, None].expand(2, 1, -1, -1),
        denoising_boxes_cxcywh=boxes[None, None].expand(2, 1, -1, -1),
    )


def test_denoising_loss_uses_the_known_targets_positives_only_for_boxes():
    dn = queries(num_groups=2)
    index, positive = dn.target_index[0], dn.is_positive[0]
    perfect = BOXES[index]  # every query (negatives too) predicts its ground truth box
    logits = torch.full((dn.num_queries, C), -9.0)
    logits[positive.nonzero()[:, 0], LABELS[index[positive]]] = 9.0
    focal = FocalClassLoss(alpha=0.25, gamma=2.0)
    cls, l1, giou = denoising_losses(dn_output(dn, perfect, logits), dn, LABELS, BOXES, focal)
    assert l1.item() == pytest.approx(0.0, abs=1e-6) and giou.item() == pytest.approx(0.0, abs=1e-6)
    assert cls.item() < 1e-4
    # negatives predicting their object's class is wrong; positives' boxes off is wrong
    confident = logits.clone()
    confident[~positive] = logits[positive]
    wrong = denoising_losses(dn_output(dn, perfect, confident), dn, LABELS, BOXES, focal)
    assert wrong[0].item() > 1.0 and wrong[1].item() == pytest.approx(0.0, abs=1e-6)
    shifted = perfect.clone()
    shifted[~positive] += 0.1  # negatives' boxes are not supervised
    assert denoising_losses(dn_output(dn, shifted, logits), dn, LABELS, BOXES, focal)[1] < 1e-6
    shifted[positive] += 0.1  # 2 layers x 4 coordinates x 0.1, per positive
    l1 = denoising_losses(dn_output(dn, shifted, logits), dn, LABELS, BOXES, focal)[1]
    assert l1.item() == pytest.approx(2 * 4 * 0.1, rel=1e-4)


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("train.det_class_loss=bce", "train.det_class_loss"),
        ("train.dn_groups=-1", "train.dn_groups"),
        ("train.dn_box_noise=-0.5", "train.dn_box_noise"),
        ("train.dn_label_noise=1.5", "train.dn_label_noise"),
        ("train.varifocal_alpha=2.0", "train.varifocal_alpha"),
        ("train.dn_groups=2", "model.decoder.use_denoising"),  # the decoder lacks the embedding
    ],
)
def test_bad_convergence_aid_settings_are_refused_naming_the_key(override, key):
    with pytest.raises(ValueError, match=key.replace(".", r"\.")):
        load_train_config("train_tiny", [override])


def test_good_convergence_aid_settings_load():
    run = load_train_config(
        "train_tiny",
        ["train.det_class_loss=varifocal", "train.dn_groups=3", "model.decoder.use_denoising=true"],
    )
    assert run.train.dn_groups == 3 and run.model.decoder.use_denoising
