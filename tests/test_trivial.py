"""Trivial baselines and frame-0 scoring, with values computed by hand."""

import numpy as np
import pytest

from sam2_enhanced.evaluation.cases import SotCase, VosCase
from sam2_enhanced.evaluation.harness import evaluate_sot_method, evaluate_vos_method
from sam2_enhanced.evaluation.trivial import sot_static, vos_empty, vos_static_mask


def _sliding_sot_case():
    """A 20x16 box moving 1 px right per frame over 6 frames: the static box's IoU on frame t
    is (20 - t) / (20 + t) and its centre error is t px."""
    gt = np.array([[10.0 + t, 12.0, 30.0 + t, 28.0] for t in range(6)])
    return SotCase("slide", np.zeros((6, 40, 48, 3), np.uint8), gt, np.ones(6, bool))


def test_sot_static_repeats_the_init_box_from_the_init_frame():
    case = _sliding_sot_case()
    case.present[0] = False
    case.boxes_xyxy[0] = np.nan  # init frame is now 1
    boxes = sot_static(case)
    assert np.isnan(boxes[0]).all()
    np.testing.assert_array_equal(boxes[1:], np.tile(case.boxes_xyxy[1], (5, 1)))


# IoU of frames 1..5: 19/21, 18/22, 17/23, 16/24, 15/25 exceed 19, 17, 15, 14, 12 of the 21
# success thresholds 0, 0.05, ..., 1; frame 0 (IoU 1) exceeds 20 of them.
IOUS = [(20 - t) / (20 + t) for t in range(1, 6)]


@pytest.mark.parametrize(
    ("score_init_frame", "auc", "average_overlap", "num_frames"),
    [
        (False, 77 / (5 * 21), np.mean(IOUS), 5),  # GOT-10k: the init frame is not scored
        (True, 97 / (6 * 21), np.mean([1.0, *IOUS]), 6),  # OTB: it is, with its GT box
    ],
)
def test_sot_static_scores_and_the_init_frame(score_init_frame, auc, average_overlap, num_frames):
    case = _sliding_sot_case()
    run = evaluate_sot_method(case, sot_static, score_init_frame)
    assert run.result.curves.auc == pytest.approx(auc)
    assert run.result.average_overlap == pytest.approx(average_overlap)
    assert run.result.curves.precision_at_20 == 1.0  # centre errors 0..5 px
    assert run.num_scored_frames == num_frames and run.num_frames == 6


def _vos_case():
    """8x8 frames 0..4. Object 0: a 2x2 square at the top left on frames 0-1, then at the top
    right (far from where it was). Object 1: absent on frames 0-1, a 2x2 square at the bottom
    left from frame 2 (its prompt frame)."""
    masks = np.zeros((5, 2, 8, 8), bool)  # (A, O, H, W)
    masks[:2, 0, 0:2, 0:2] = True
    masks[2:, 0, 0:2, 5:7] = True
    masks[2:, 1, 5:7, 0:2] = True
    return VosCase("squares", None, 5, masks, np.array([1, 2]), np.arange(5))


def test_vos_trivial_predictions():
    case = _vos_case()
    assert not vos_empty(case).any() and vos_empty(case).shape == (2, 5, 8, 8)
    static = vos_static_mask(case)
    np.testing.assert_array_equal(static[0], np.repeat(case.masks[:1, 0], 5, axis=0))
    assert not static[1, :2].any()
    np.testing.assert_array_equal(static[1, 2:], case.masks[2:, 1])


# DAVIS leaves out frames 0 and 4. Default: object 0 scored on frames 1-3, object 1 (prompted on
# frame 2) on frame 3 only. With the init frame: both objects on frames 1-3.
# empty:  J = F = 0 wherever the object is visible, 1 on object 1's frame 1 (both empty).
# static-mask: object 0 right on frame 1 only (1/3), object 1 right on every frame (1).
@pytest.mark.parametrize(
    ("runner", "score_init_frame", "j_and_f", "num_scored"),
    [
        (vos_empty, False, 0.0, 4),
        (vos_empty, True, (0 + 1 / 3) / 2, 6),
        (vos_static_mask, False, (1 / 3 + 1) / 2, 4),
        (vos_static_mask, True, (1 / 3 + 1) / 2, 6),
    ],
)
def test_vos_trivial_scores_and_the_prompt_frame(runner, score_init_frame, j_and_f, num_scored):
    run = evaluate_vos_method(_vos_case(), runner, score_init_frame)
    summary = run.result.summary
    assert summary.j_mean == pytest.approx(j_and_f) and summary.f_mean == pytest.approx(j_and_f)
    assert summary.j_and_f == pytest.approx(j_and_f)
    assert run.num_scored_frames == num_scored and summary.num_objects == 2
