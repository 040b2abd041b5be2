"""Prompt sampling: coordinates in model pixels, jitter bounds, error-region clicks, bad input."""

import pytest
import torch

from sam2_enhanced.modeling.sam_mask_head import NO_OBJ_SCORE
from sam2_enhanced.training.prompts import (
    PromptChoice,
    box_prompts,
    choose_prompt,
    corrective_clicks,
    drop_previous,
    first_frame_prompts,
    jitter_boxes,
    mask_prompts,
    point_prompts,
    sample_points,
)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def square_masks():
    """Two objects on a 20 x 40 (H x W) frame."""
    masks = torch.zeros(2, 20, 40)
    masks[0, 2:6, 4:12] = 1  # x 4..11, y 2..5
    masks[1, 10:11, 30:31] = 1  # a single pixel at (30, 10)
    return masks


def test_box_prompts_scale_to_model_pixels():
    prompts = box_prompts(torch.tensor([[4.0, 2.0, 12.0, 6.0]]), (20, 40), image_size=80)
    torch.testing.assert_close(prompts.point_coords, torch.tensor([[[8.0, 8.0], [24.0, 24.0]]]))
    assert prompts.point_labels.tolist() == [[2, 3]]
    assert prompts.is_prompted.tolist() == [True]


def test_jitter_is_bounded_and_keeps_corners_ordered():
    boxes = torch.tensor([[10.0, 10.0, 30.0, 20.0]]).repeat(200, 1)
    jittered = jitter_boxes(boxes, rel_std=1.0, max_px=2.0, generator=gen())
    assert (jittered - boxes).abs().max() <= 2.0 + 1e-6
    assert (jittered[:, 2:] >= jittered[:, :2]).all()
    assert not torch.equal(jittered, boxes)
    torch.testing.assert_close(jitter_boxes(boxes, 0.0, 2.0, gen()), boxes)


def test_sampled_points_lie_inside_the_mask():
    masks = square_masks()
    points = sample_points(masks[0] > 0, 50, gen())
    xs, ys = points[:, 0].floor().long(), points[:, 1].floor().long()
    assert masks[0, ys, xs].all()
    prompts = point_prompts(masks, 3, image_size=80, generator=gen())
    assert prompts.point_coords.shape == (2, 3, 2) and (prompts.point_labels == 1).all()
    torch.testing.assert_close(prompts.point_coords[1], torch.tensor([[61.0, 42.0]] * 3))


def test_mask_prompts_keep_objects_smaller_than_a_cell():
    prompts = mask_prompts(square_masks(), mask_size=10)
    assert prompts.mask_inputs.shape == (2, 1, 10, 10)
    assert prompts.has_mask.all() and prompts.is_prompted.all()
    assert prompts.mask_inputs[1].sum() == 1  # 1 pixel of 8 in its cell: kept as the peak
    assert prompts.mask_inputs[0].sum() == 4  # 8 x 4 px object = 2 x 2 cells of 4 x 2 px


@pytest.mark.parametrize(
    ("prob_mask", "prob_box", "kind"), [(1.0, 0.0, "mask"), (0.0, 1.0, "box"), (0.0, 0.0, "points")]
)
def test_choose_prompt_follows_probabilities(prob_mask, prob_box, kind):
    for seed in range(5):
        choice = choose_prompt(
            prob_mask=prob_mask, prob_box=prob_box, max_points=3, generator=gen(seed)
        )
        assert choice.kind == kind
        assert (1 <= choice.num_points <= 3) if kind == "points" else choice.num_points == 0


@pytest.mark.parametrize(
    ("choice", "multimask"),
    [
        (PromptChoice("points", 1), True),
        (PromptChoice("points", 2), False),
        (PromptChoice("box", 0), False),
    ],
)
def test_single_click_is_multimask(choice, multimask):
    assert choice.multimask is multimask


def test_first_frame_box_prompt_is_the_mask_box_without_jitter():
    prompts = first_frame_prompts(
        square_masks(),
        PromptChoice("box", 0),
        image_size=40,
        mask_size=16,
        box_jitter=0.0,
        box_jitter_max_px=3.0,
        generator=gen(),
    )
    expected = torch.tensor([[[4.0, 4.0], [12.0, 12.0]], [[30.0, 20.0], [31.0, 22.0]]])
    torch.testing.assert_close(prompts.point_coords, expected)


@pytest.mark.parametrize(
    ("masks", "choice", "match"),
    [
        (torch.zeros(1, 8, 8), PromptChoice("box", 0), "empty masks"),
        (torch.ones(1, 8, 8), PromptChoice("scribble", 0), "prompt kind"),
    ],
)
def test_first_frame_prompts_bad_input(masks, choice, match):
    with pytest.raises(ValueError, match=match):
        first_frame_prompts(
            masks,
            choice,
            image_size=8,
            mask_size=8,
            box_jitter=0.1,
            box_jitter_max_px=1.0,
            generator=gen(),
        )


def test_corrective_clicks_sign_follows_the_error_kind():
    gt = torch.zeros(3, 10, 10)
    gt[0, 2:5, 2:5] = 1  # missed entirely -> positive click inside it
    pred = torch.zeros(3, 10, 10, dtype=torch.bool)
    pred[1, 6:8, 6:8] = True  # false positive -> negative click inside it
    gt[2, 0:3, 0:3] = 1
    pred[2] = gt[2] > 0  # perfect -> no click
    prompts = corrective_clicks(pred, gt, image_size=20, generator=gen())
    assert prompts.point_labels[:, 0].tolist() == [1, 0, -1]
    x0, y0 = (prompts.point_coords[0, 0] / 2).floor().long().tolist()
    x1, y1 = (prompts.point_coords[1, 0] / 2).floor().long().tolist()
    assert gt[0, y0, x0] == 1 and pred[1, y1, x1]


def test_corrective_clicks_shape_mismatch_raises():
    with pytest.raises(ValueError, match="both be"):
        corrective_clicks(torch.zeros(2, 4, 4, dtype=torch.bool), torch.zeros(2, 4, 5), 8, gen())


def test_sampling_from_empty_mask_raises():
    with pytest.raises(ValueError, match="empty mask"):
        sample_points(torch.zeros(4, 4, dtype=torch.bool), 1, gen())


def test_drop_previous_withholds_whole_rows_at_the_given_rate():
    previous = torch.randn(400, 1, 4, 4)
    torch.testing.assert_close(drop_previous(previous, 0.0, gen()), previous)
    assert bool((drop_previous(previous, 1.0, gen()) == NO_OBJ_SCORE).all())
    dropped = drop_previous(previous, 0.25, gen())
    withheld = (dropped == NO_OBJ_SCORE).flatten(1).all(dim=1)  # (O,)
    kept = (dropped == previous).flatten(1).all(dim=1)
    assert bool((withheld ^ kept).all())  # a row is withheld whole or kept whole
    assert 0.15 < withheld.float().mean() < 0.35
    torch.testing.assert_close(drop_previous(previous, 0.25, gen()), dropped)  # seeded


@pytest.mark.parametrize(
    ("shape", "prob", "match"),
    [
        ((2, 1, 4, 4), 1.5, r"prob must be in \[0, 1\]"),
        ((2, 1, 4, 4), -0.1, r"prob must be in \[0, 1\]"),
        ((2, 4, 4), 0.5, r"\(O, 1, m, m\)"),
        ((2, 3, 4, 4), 0.5, r"\(O, 1, m, m\)"),
    ],
)
def test_drop_previous_bad_input(shape, prob, match):
    with pytest.raises(ValueError, match=match):
        drop_previous(torch.zeros(shape), prob, gen())
