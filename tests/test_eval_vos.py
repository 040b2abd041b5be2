"""DAVIS J / F / J&F against hand-computed values."""

import numpy as np
import pytest

from sam2_enhanced.evaluation.vos import (
    boundary_f_measure,
    combine_davis_results,
    evaluate_davis,
    region_similarity,
    seg2bmap,
)


def _square(size=64, top=20, left=20, side=10):
    mask = np.zeros((size, size), dtype=bool)
    mask[top : top + side, left : left + side] = True
    return mask


def test_seg2bmap_ring_shifted_towards_origin():
    mask = np.zeros((6, 6), dtype=bool)
    mask[1:4, 1:4] = True
    expected = np.zeros((6, 6), dtype=bool)
    expected[0, 0:4] = expected[3, 0:4] = True  # top and bottom rows of the 4x4 ring
    expected[1:3, 0] = expected[1:3, 3] = True  # its left and right sides
    np.testing.assert_array_equal(seg2bmap(mask), expected)


def test_shifted_square_j_and_f():
    gt = _square()
    pred = _square(left=22)  # 10x10 square moved 2 px right
    # J: intersection 10 * 8 = 80, union 10 * 12 = 120.
    assert region_similarity(gt, pred) == pytest.approx(2 / 3)
    # 64x64 image: tolerance ceil(0.008 * 90.5) = 1 px (a 3x3 cross). Each boundary ring has
    # 4 * 10 = 40 pixels; of the other's ring, the top and bottom rows match 10 of 11 pixels
    # each and the two side columns moved 2 px match only at their 2 ends -> 22 / 40 for both
    # precision and recall, so F = 22 / 40.
    assert boundary_f_measure(gt, pred) == pytest.approx(22 / 40)
    # Moved 1 px, every boundary pixel is within the 1 px tolerance.
    assert boundary_f_measure(gt, _square(left=21)) == 1.0


def test_empty_masks_and_void():
    empty = np.zeros((8, 8), dtype=bool)
    assert region_similarity(empty, empty) == 1.0
    assert boundary_f_measure(empty, empty) == 1.0
    assert boundary_f_measure(_square(8, 2, 2, 3), empty) == 0.0
    gt, pred = _square(), _square(left=22)
    void = np.zeros_like(gt)
    void[:, :32] = True  # hide everything but the columns 32.. where neither mask is
    assert region_similarity(gt, pred, void) == 1.0


def _clip(num_frames=5):
    return np.stack([_square(left=10 + 2 * t) for t in range(num_frames)])[None]  # (1, T, H, W)


def test_perfect_sequence():
    gt = _clip()
    result = evaluate_davis(gt, gt.copy())
    assert result.summary.j_and_f == 1.0
    assert result.j.shape == (1, 3)  # first and last frames excluded
    assert result.summary.j_recall == 1.0 and result.summary.j_decay == 0.0


def test_first_and_last_frames_excluded():
    gt = _clip()
    pred = gt.copy()
    pred[:, [0, -1]] = False
    assert evaluate_davis(gt, pred).summary.j_and_f == 1.0
    kept = evaluate_davis(gt, pred, exclude_first_last=False).summary
    assert kept.j_mean == pytest.approx(3 / 5) and kept.f_mean == pytest.approx(3 / 5)


def test_recall_and_decay():
    gt = _clip(6)
    pred = gt.copy()
    pred[:, 3:5] = False  # evaluated frames 1..4 score J = F = [1, 1, 0, 0]
    summary = evaluate_davis(gt, pred).summary
    assert summary.j_mean == 0.5 and summary.j_recall == 0.5
    # 4 frames -> bin edges [0, 1, 2, 2, 3]: first bin frames {0, 1}, last {2, 3} -> 1 - 0.
    assert summary.j_decay == 1.0 and summary.f_decay == 1.0


def test_combine_averages_objects():
    gt = _clip()
    one = evaluate_davis(gt, gt.copy())
    two_objects = np.concatenate([gt, gt])
    missed = np.zeros_like(two_objects)
    two = evaluate_davis(two_objects, missed)
    combined = combine_davis_results([one, two])
    assert combined.num_objects == 3
    assert combined.j_and_f == pytest.approx(1 / 3)


@pytest.mark.parametrize(
    ("gt", "pred", "void", "kwargs", "match"),
    [
        (np.zeros((3, 8, 8)), np.zeros((3, 8, 8)), None, {}, r"\(O, T, H, W\)"),
        (np.zeros((1, 3, 8, 8)), np.zeros((1, 3, 8, 9)), None, {}, "shape of gt_masks"),
        (np.zeros((0, 3, 8, 8)), np.zeros((0, 3, 8, 8)), None, {}, "no object"),
        (np.zeros((1, 2, 8, 8)), np.zeros((1, 2, 8, 8)), None, {}, "at least 3 frames"),
        (np.zeros((1, 3, 8, 8)), np.zeros((1, 3, 8, 8)), np.zeros((8, 8)), {}, "void_masks"),
    ],
)
def test_bad_inputs(gt, pred, void, kwargs, match):
    with pytest.raises(ValueError, match=match):
        evaluate_davis(gt, pred, void, **kwargs)


def test_combine_needs_results():
    with pytest.raises(ValueError, match="at least one"):
        combine_davis_results([])
