"""MOT metrics through TrackEval, the size breakdown and detection AP, on hand-computed toys."""

import math

import numpy as np
import pytest

from sam2_enhanced.evaluation.mot import (
    SizeBucket,
    TrackSequence,
    combine_mot_results,
    detection_ap,
    evaluate_mot,
)

BOX_A = [0.0, 0.0, 10.0, 10.0]
BOX_B = [50.0, 50.0, 60.0, 60.0]


def _seq(frames):
    """frames: list of [(id, box), ...] per frame -> TrackSequence."""
    ids = [np.array([i for i, _ in f], dtype=int) for f in frames]
    boxes = [np.array([b for _, b in f], dtype=float).reshape(-1, 4) for f in frames]
    return TrackSequence(ids, boxes)


def test_perfect_tracker():
    gt = _seq([[(1, BOX_A), (2, BOX_B)]] * 3)
    pred = _seq([[(7, BOX_A), (9, BOX_B)]] * 3)  # ids differ from GT's: only consistency counts
    m = evaluate_mot(gt, pred).overall
    assert (m.hota, m.det_a, m.ass_a, m.loc_a) == (1.0, 1.0, 1.0, 1.0)
    assert (m.mota, m.motp, m.idf1, m.idsw) == (1.0, 1.0, 1.0, 0)
    assert (m.num_gt_dets, m.num_tracker_dets) == (6, 6)


def test_id_switch():
    gt = _seq([[(1, BOX_A)]] * 4)
    pred = _seq([[(10, BOX_A)]] * 2 + [[(20, BOX_A)]] * 2)
    m = evaluate_mot(gt, pred).overall
    assert m.idsw == 1
    assert m.mota == pytest.approx(1 - 1 / 4)  # 1 - (FN 0 + FP 0 + IDSW 1) / 4 GT
    # Best one-to-one ID match GT1<->10: IDTP 2, IDFN 2, IDFP 2 -> 2*2 / (2*2 + 2 + 2).
    assert m.idf1 == pytest.approx(0.5)
    # Every frame matches at IoU 1 -> DetA 1. Each TP pair (1,10), (1,20): 2 matches,
    # |GT1| = 4, |trk| = 2 -> A = 2 / (4 + 2 - 2) = 0.5; AssA = 0.5, HOTA = sqrt(0.5).
    assert m.det_a == 1.0
    assert m.ass_a == pytest.approx(0.5)
    assert m.hota == pytest.approx(math.sqrt(0.5))


def test_hota_one_of_two_tracks():
    gt = _seq([[(1, BOX_A), (2, BOX_B)]] * 3)
    pred = _seq([[(7, BOX_A)]] * 3)
    m = evaluate_mot(gt, pred).overall
    # At every alpha: TP 3, FN 3, FP 0 -> DetA = 3 / (3 + 3 + 0) = 0.5.
    # Pair (1, 7): 3 matches, |GT1| = 3, |trk7| = 3 -> A = 3 / (3 + 3 - 3) = 1 -> AssA = 1.
    assert m.det_a == pytest.approx(0.5)
    assert m.ass_a == pytest.approx(1.0)
    assert m.hota == pytest.approx(math.sqrt(0.5 * 1.0))
    assert m.mota == pytest.approx(1 - 3 / 6)
    assert m.idf1 == pytest.approx(2 * 3 / (2 * 3 + 0 + 3))  # IDTP 3, IDFP 0, IDFN 3


def test_hota_averages_over_alpha():
    gt = _seq([[(1, BOX_A)]] * 2)
    pred = _seq([[(5, [0.0, 0.0, 10.0, 16.0])]] * 2)  # IoU = 100 / 160 = 0.625
    m = evaluate_mot(gt, pred).overall
    # Alphas 0.05..0.95 (19): the match holds for 0.05..0.60 (12) with DetA = AssA = 1,
    # and fails above (DetA = AssA = 0) -> HOTA = DetA = AssA = 12 / 19.
    assert m.hota == pytest.approx(12 / 19)
    assert m.det_a == pytest.approx(12 / 19)
    assert m.ass_a == pytest.approx(12 / 19)
    assert m.motp == pytest.approx(0.625)
    assert m.mota == 1.0


def test_size_breakdown_isolates_buckets():
    tiny = [0.0, 0.0, 8.0, 8.0]  # size 8
    large = [100.0, 100.0, 200.0, 200.0]  # size 100
    large_pred = [105.0, 105.0, 195.0, 195.0]  # size 90 (medium) but IoU 0.81 with the large GT
    stray = [300.0, 300.0, 320.0, 320.0]  # size 20, matches nothing
    gt = _seq([[(1, tiny), (2, large)]] * 2)
    pred = _seq([[(5, large_pred), (6, stray)]] * 2)
    result = evaluate_mot(gt, pred)
    by_size = result.by_size
    assert list(by_size) == ["tiny", "small", "medium", "large"]
    # The tiny track is missed; the large-object and stray boxes do not count against it.
    assert (by_size["tiny"].num_gt_dets, by_size["tiny"].num_tracker_dets) == (2, 0)
    assert by_size["tiny"].hota == 0.0
    # The medium-sized box matched to the large GT belongs to the large bucket.
    assert (by_size["large"].num_gt_dets, by_size["large"].num_tracker_dets) == (2, 2)
    assert by_size["large"].mota == 1.0 and by_size["large"].idf1 == 1.0
    assert math.isnan(by_size["medium"].hota)  # nothing in the bucket at all
    # The unmatched stray box is judged by its own size: a false positive in "small" only.
    assert (by_size["small"].num_gt_dets, by_size["small"].num_tracker_dets) == (0, 2)
    assert by_size["small"].det_a == 0.0
    assert result.overall.num_tracker_dets == 4


def test_custom_buckets():
    gt = _seq([[(1, BOX_A)]])
    result = evaluate_mot(gt, gt, size_buckets=[SizeBucket("all", 0.0, math.inf)])
    assert list(result.by_size) == ["all"] and result.by_size["all"].hota == 1.0


def test_combine_sequences():
    perfect = evaluate_mot(_seq([[(1, BOX_A)]] * 4), _seq([[(3, BOX_A)]] * 4))
    switch = evaluate_mot(_seq([[(1, BOX_A)]] * 4), _seq([[(10, BOX_A)]] * 2 + [[(20, BOX_A)]] * 2))
    combined = combine_mot_results([perfect, switch]).overall
    assert combined.mota == pytest.approx(1 - 1 / 8)
    assert combined.idf1 == pytest.approx(2 * 6 / (2 * 6 + 2 + 2))  # IDTP 4+2, IDFP 2, IDFN 2
    # AssA is TP-weighted: (4 * 1 + 4 * 0.5) / 8 = 0.75, DetA 1.
    assert combined.hota == pytest.approx(math.sqrt(0.75))
    assert combined.num_gt_dets == 8


def test_empty_inputs():
    empty = TrackSequence([], [])
    assert math.isnan(evaluate_mot(empty, empty).overall.hota)
    no_output = evaluate_mot(_seq([[(1, BOX_A)]] * 2), _seq([[], []]))
    assert no_output.overall.hota == 0.0 and no_output.overall.mota == 0.0
    assert no_output.overall.num_gt_dets == 2


@pytest.mark.parametrize(
    ("build", "error", "match"),
    [
        (lambda: TrackSequence([np.array([1])], []), ValueError, "one ids array"),
        (lambda: TrackSequence([np.array([1, 2])], [np.array([BOX_A])]), ValueError, "ids but"),
        (
            lambda: TrackSequence([np.array([1, 1])], [np.array([BOX_A, BOX_B])]),
            ValueError,
            "repeats",
        ),
        (
            lambda: TrackSequence([np.array([1])], [np.array([[5.0, 0, 1, 1]])]),
            ValueError,
            "negative",
        ),
        (lambda: TrackSequence([np.array([1])], [np.array([[np.nan] * 4])]), ValueError, "NaN"),
        (lambda: TrackSequence([np.array([1.5])], [np.array([BOX_A])]), TypeError, "integers"),
        (lambda: TrackSequence([np.array([1])], [np.array([0.0, 1, 2])]), ValueError, "shape"),
        (lambda: SizeBucket("bad", 10.0, 5.0), ValueError, "min_size < max_size"),
        (
            lambda: evaluate_mot(_seq([[(1, BOX_A)]]), _seq([[], []])),
            ValueError,
            "frames",
        ),
        (
            lambda: evaluate_mot(
                _seq([[(1, BOX_A)]]), _seq([[(1, BOX_A)]]), [SizeBucket("a", 0, 1)] * 2
            ),
            ValueError,
            "unique",
        ),
        (lambda: combine_mot_results([]), ValueError, "at least one"),
    ],
)
def test_bad_inputs(build, error, match):
    with pytest.raises(error, match=match):
        build()


def _frames(*boxes_per_frame):
    return [np.array(b, dtype=float).reshape(-1, 4) for b in boxes_per_frame]


def test_ap_perfect_and_fp_first():
    gt = _frames([BOX_A], [BOX_B])
    assert detection_ap(gt, gt, [np.array([0.9]), np.array([0.8])]) == 1.0
    # Ranked: FP (0.95), TP (0.9): recall [0, 1], precision [0, 0.5] -> envelope 0.5 everywhere.
    dets = _frames([BOX_A, [30.0, 30.0, 40.0, 40.0]])
    assert detection_ap(_frames([BOX_A]), dets, [np.array([0.9, 0.95])]) == pytest.approx(0.5)


def test_ap_101_point_interpolation():
    gt = _frames([BOX_A, BOX_B])
    dets = _frames([BOX_A, [30.0, 30.0, 40.0, 40.0], BOX_B])
    # Ranked TP, FP, TP: recall [.5, .5, 1], precision [1, .5, 2/3] -> envelope [1, 2/3, 2/3];
    # recall points 0..0.50 (51) read 1, points 0.51..1.00 (50) read 2/3.
    ap = detection_ap(gt, dets, [np.array([0.9, 0.8, 0.7])])
    assert ap == pytest.approx((51 * 1.0 + 50 * 2 / 3) / 101)


def test_ap_min_size_ignores_small_gt_and_detections():
    tiny_gt = [0.0, 0.0, 4.0, 4.0]  # size 4
    big = [30.0, 30.0, 50.0, 50.0]  # size 20
    gt = _frames([tiny_gt, big])
    dets = _frames([big])
    # Without a filter the tiny GT is a miss: recall reaches 0.5 -> 51 of 101 points read 1.
    assert detection_ap(gt, dets, [np.array([0.5])]) == pytest.approx(51 / 101)
    assert detection_ap(gt, dets, [np.array([0.5])], min_size=8.0) == 1.0
    # A detection matched to an ignored GT and an unmatched small detection are both ignored.
    dets = _frames([tiny_gt, [80.0, 80.0, 85.0, 85.0], big])
    scores = [np.array([0.9, 0.95, 0.5])]
    assert detection_ap(gt, dets, scores, min_size=8.0) == 1.0
    assert detection_ap(_frames([big]), dets, scores) == pytest.approx(1 / 3)  # two FPs first


def test_ap_size_range_scores_only_objects_inside_it():
    tiny_gt = [0.0, 0.0, 4.0, 4.0]  # size 4
    big = [30.0, 30.0, 50.0, 50.0]  # size 20
    gt = _frames([tiny_gt, big])
    # The tiny object found, the big one missed: AP 1 on [3, 8) px, 0 on >= 8 px.
    dets, scores = _frames([tiny_gt]), [np.array([0.9])]
    assert detection_ap(gt, dets, scores, min_size=3.0, max_size=8.0) == 1.0
    assert detection_ap(gt, dets, scores, min_size=8.0) == 0.0
    # A detection on the big object and an unmatched big detection are ignored in [3, 8) ...
    dets = _frames([big, [80.0, 80.0, 100.0, 100.0], tiny_gt])
    scores = [np.array([0.95, 0.9, 0.5])]
    assert detection_ap(gt, dets, scores, min_size=3.0, max_size=8.0) == 1.0
    # ... but an unmatched detection inside the range is a false positive.
    dets = _frames([[60.0, 60.0, 65.0, 65.0], tiny_gt])
    scores = [np.array([0.95, 0.5])]
    assert detection_ap(gt, dets, scores, min_size=3.0, max_size=8.0) == pytest.approx(0.5)
    assert math.isnan(detection_ap(_frames([big]), dets, scores, min_size=3.0, max_size=8.0))


@pytest.mark.parametrize(("min_size", "max_size"), [(8.0, 3.0), (8.0, 8.0), (-1.0, 8.0)])
def test_ap_bad_size_range(min_size, max_size):
    with pytest.raises(ValueError, match="0 <= min_size < max_size"):
        detection_ap(
            _frames([BOX_A]), _frames([BOX_A]), [np.array([0.5])], 0.5, min_size, 100, max_size
        )


def test_ap_empty():
    assert math.isnan(detection_ap([], [], []))
    assert detection_ap(_frames([BOX_A]), _frames([]), [np.array([])]) == 0.0


@pytest.mark.parametrize(
    ("gt", "dets", "scores", "match"),
    [
        (_frames([BOX_A]), [], [], "one entry per frame"),
        (_frames([BOX_A]), _frames([BOX_A]), [np.array([0.5, 0.4])], "scores"),
        (_frames([BOX_A]), _frames([[9.0, 0, 1, 1]]), [np.array([0.5])], "negative"),
    ],
)
def test_ap_bad_inputs(gt, dets, scores, match):
    with pytest.raises(ValueError, match=match):
        detection_ap(gt, dets, scores)
