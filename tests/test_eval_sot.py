"""Single-object protocol metrics against hand-computed values."""

import numpy as np
import pytest

from sam2_enhanced.evaluation.sot import (
    SUCCESS_THRESHOLDS,
    evaluate_sot_sequence,
    paired_box_iou,
    summarize_sot,
)

NAN_BOX = [np.nan] * 4
BOX = [0.0, 0.0, 10.0, 10.0]


def test_perfect_tracker():
    gt = np.array([[t, 2 * t, t + 8, 2 * t + 12] for t in range(10)], dtype=float)
    result = evaluate_sot_sequence(gt.copy(), gt)
    assert result.average_overlap == 1.0
    # Success counts IoU strictly above each threshold (OTB / pytracking), so the 1.0
    # threshold is never passed: a perfect tracker scores 20 / 21.
    np.testing.assert_array_equal(result.curves.success, [1.0] * 20 + [0.0])
    assert result.curves.auc == pytest.approx(20 / 21)
    assert result.curves.precision_at_20 == 1.0
    assert result.curves.norm_precision_at_02 == 1.0
    assert result.curves.norm_precision_auc == 1.0
    assert result.state_accuracy == 1.0
    assert np.isnan(result.absent_accuracy)  # no absent frame


def test_one_frame_off():
    gt = np.array([BOX] * 4)
    pred = gt.copy()
    pred[2] = [5.0, 0.0, 15.0, 10.0]  # overlap 5x10 = 50, union 150 -> IoU 1/3, error 5 px
    result = evaluate_sot_sequence(pred, gt)
    np.testing.assert_allclose(result.ious, [1, 1, 1 / 3, 1])
    np.testing.assert_allclose(result.center_errors_px, [0, 0, 5, 0])
    np.testing.assert_allclose(result.norm_center_errors, [0, 0, 0.5, 0])  # 5 px / 10 px wide
    # IoU 1/3 passes the 7 thresholds 0..0.30 and fails 0.35..0.95 (13) and 1.0.
    expected_success = np.where(SUCCESS_THRESHOLDS < 1 / 3, 1.0, 0.75)
    expected_success[-1] = 0.0
    np.testing.assert_allclose(result.curves.success, expected_success)
    assert result.curves.auc == pytest.approx((7 * 1.0 + 13 * 0.75) / 21)
    assert result.curves.precision[4] == 0.75 and result.curves.precision[5] == 1.0
    assert result.curves.precision_at_20 == 1.0
    assert result.curves.norm_precision_at_02 == 0.75
    # 0.5 normalised error passes only the last of the 51 thresholds 0..0.5.
    assert result.curves.norm_precision_auc == pytest.approx((50 * 0.75 + 1.0) / 51)
    assert result.average_overlap == pytest.approx((3 + 1 / 3) / 4)


def test_absent_frames_and_state_accuracy():
    gt = np.array([BOX, NAN_BOX, NAN_BOX, BOX])
    pred = np.array([BOX, NAN_BOX, BOX, NAN_BOX])
    result = evaluate_sot_sequence(pred, gt)
    np.testing.assert_array_equal(result.gt_present, [True, False, False, True])
    np.testing.assert_array_equal(result.ious[[0, 3]], [1.0, 0.0])  # empty prediction -> 0
    assert np.isnan(result.ious[1]) and np.isinf(result.center_errors_px[3])
    assert result.num_present_frames == 2
    assert result.absent_accuracy == 0.5  # frame 1 right (empty), frame 2 wrong (a box)
    # Anti-UAV: frame 0 IoU 1, frame 1 p=1, frame 2 p=0, frame 3 IoU 0 -> 2 / 4.
    assert result.state_accuracy == 0.5
    assert result.curves.auc == pytest.approx(20 * 0.5 / 21)
    assert result.curves.precision_at_20 == 0.5


def test_gt_present_flags_override_boxes():
    gt = np.array([BOX] * 3)
    result = evaluate_sot_sequence(np.array([BOX, NAN_BOX, BOX]), gt, [True, False, True])
    assert result.num_present_frames == 2
    assert result.absent_accuracy == 1.0
    assert result.state_accuracy == 1.0


def test_summary_per_sequence_and_pooled():
    perfect = evaluate_sot_sequence(np.array([BOX] * 2), np.array([BOX] * 2))
    lost = evaluate_sot_sequence(np.array([NAN_BOX] * 6), np.array([BOX] * 6))
    only_absent = evaluate_sot_sequence(np.array([NAN_BOX]), np.array([NAN_BOX]))
    summary = summarize_sot([perfect, lost, only_absent])
    assert summary.num_sequences == 2  # the all-absent sequence is left out of the curves
    assert summary.curves.auc == pytest.approx((20 / 21 + 0.0) / 2)
    assert summary.pooled_curves.auc == pytest.approx(2 / 8 * 20 / 21)
    assert summary.average_overlap == 0.5
    assert summary.absent_accuracy == 1.0
    assert summary.state_accuracy == pytest.approx((1.0 + 0.0 + 1.0) / 3)
    assert summary.num_frames == 9


def test_empty_sequence():
    result = evaluate_sot_sequence(np.zeros((0, 4)), np.zeros((0, 4)))
    assert result.num_frames == 0
    assert np.isnan(result.curves.auc) and np.isnan(result.state_accuracy)


def test_paired_iou_zero_area_union():
    boxes = np.array([[1.0, 1.0, 1.0, 1.0]])
    assert paired_box_iou(boxes, boxes)[0] == 0.0


@pytest.mark.parametrize(
    ("pred", "gt", "gt_present", "match"),
    [
        (np.zeros((3, 4)), np.zeros((2, 4)), None, "same number of frames"),
        (np.zeros((2, 3)), np.zeros((2, 3)), None, "shape"),
        (np.array([[5.0, 0, 1, 10]]), np.array([BOX]), None, "negative width"),
        (np.array([BOX]), np.array([[0.0, 9, 10, 1]]), None, "negative width"),
        (np.array([[0.0, np.nan, 1, 1]]), np.array([BOX]), None, "partly NaN"),
        (np.array([[0.0, 0, np.inf, 1]]), np.array([BOX]), None, "infinite"),
        (np.array([BOX]), np.array([NAN_BOX]), [True], "gt_present is True"),
        (np.array([BOX]), np.array([BOX]), [True, False], "gt_present must have shape"),
        (np.array([BOX]), np.array([[0.0, 0, 0, 10]]), None, "zero width"),
    ],
)
def test_bad_inputs(pred, gt, gt_present, match):
    with pytest.raises(ValueError, match=match):
        evaluate_sot_sequence(pred, gt, gt_present)


def test_summarize_needs_results():
    with pytest.raises(ValueError, match="at least one"):
        summarize_sot([])
