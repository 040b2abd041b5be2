"""Precision-recall over score thresholds, the best-F1 threshold and ``sam2e threshold``."""

import shutil

import numpy as np
import pytest
import yaml

from sam2_enhanced import SAM2EnhancedVideoPredictor
from sam2_enhanced.cli import threshold as threshold_cli
from sam2_enhanced.cli.sam2e import main
from sam2_enhanced.evaluation.detection_pr import (
    best_f1_threshold,
    format_curve,
    precision_recall_curve,
)
from sam2_enhanced.evaluation.mot import TrackSequence, detection_ap

GT = [np.array([[0, 0, 10, 10], [20, 20, 30, 30]], float), np.array([[50, 50, 60, 60]], float)]
DETS = [
    np.array([[0, 0, 10, 10], [20, 20, 30, 31], [70, 70, 80, 80]], float),  # TP, TP, FP
    np.array([[50, 50, 60, 60], [0, 0, 5, 5]], float),  # TP, FP
]
SCORES = [np.array([0.9, 0.6, 0.8]), np.array([0.3, 0.7])]


def test_curve_matches_hand_computed_values():
    curve = precision_recall_curve(GT, DETS, SCORES)
    # sorted scores 0.9 TP, 0.8 FP, 0.7 FP, 0.6 TP, 0.3 TP; 3 GT boxes
    np.testing.assert_allclose(curve.thresholds, [0.9, 0.8, 0.7, 0.6, 0.3])
    np.testing.assert_allclose(curve.precision, [1, 1 / 2, 1 / 3, 2 / 4, 3 / 5])
    np.testing.assert_allclose(curve.recall, [1 / 3, 1 / 3, 1 / 3, 2 / 3, 1])
    np.testing.assert_allclose(curve.f1, [0.5, 0.4, 1 / 3, 4 / 7, 0.75])
    assert (curve.num_gt, curve.num_detections) == (3, 5)
    assert best_f1_threshold(curve) == pytest.approx(0.3)
    assert curve.at(0.65) == pytest.approx((1 / 3, 1 / 3, 1 / 3))  # 0.9, 0.8, 0.7 kept
    assert curve.at(0.95) == (1.0, 0.0, 0.0)  # nothing kept


def test_curve_uses_the_same_matching_as_ap():
    """A box at IoU < 0.5 is a false positive for both; the AP of the curve's points agrees."""
    shifted = [np.array([[5, 0, 15, 10]], float)]  # IoU 1/3 with the GT box
    curve = precision_recall_curve([GT[0][:1]], shifted, [np.array([0.9])])
    assert curve.f1.tolist() == [0.0]
    assert detection_ap([GT[0][:1]], shifted, [np.array([0.9])]) == 0.0
    with pytest.raises(ValueError, match="F1 is 0"):
        best_f1_threshold(curve)


def test_tied_scores_form_one_point_and_ties_in_f1_pick_the_higher_threshold():
    gt = [np.array([[0, 0, 10, 10], [20, 20, 30, 30]], float)]
    dets = [np.array([[0, 0, 10, 10], [40, 40, 50, 50], [20, 20, 30, 30]], float)]
    curve = precision_recall_curve(gt, dets, [np.array([0.8, 0.5, 0.5])])
    np.testing.assert_allclose(curve.thresholds, [0.8, 0.5])
    np.testing.assert_allclose(curve.precision, [1.0, 2 / 3])
    # F1 2/3 at 0.8 and 0.8 at 0.5
    assert best_f1_threshold(curve) == 0.5
    even = precision_recall_curve([gt[0][:1]], [gt[0][:1]], [np.array([0.7])])
    assert best_f1_threshold(even) == 0.7


def test_no_ground_truth_and_no_detections():
    empty = [np.zeros((0, 4))]
    with pytest.raises(ValueError, match="no ground-truth box"):
        precision_recall_curve(empty, DETS[:1], SCORES[:1])
    curve = precision_recall_curve(GT, [np.zeros((0, 4))] * 2, [np.zeros(0)] * 2)
    assert curve.thresholds.size == 0 and curve.num_gt == 3
    with pytest.raises(ValueError, match="no detection"):
        best_f1_threshold(curve)
    with pytest.raises(ValueError, match="one entry per frame"):
        precision_recall_curve(GT, DETS[:1], SCORES[:1])


def test_format_curve_marks_the_best_row():
    curve = precision_recall_curve(GT, DETS, SCORES)
    text = format_curve(curve, [0.5, 0.9], best=0.3)
    assert text.splitlines()[1].split()[:2] == ["0.300", "0.600"]
    assert "<- best F1" in text.splitlines()[1] and len(text.splitlines()) == 4


def test_collect_detections_on_the_tiny_model(model_dir):
    predictor = SAM2EnhancedVideoPredictor.from_pretrained(model_dir, device="cpu")
    gt, boxes, scores = threshold_cli.collect_detections(predictor, 1, "val", 2, floor=0.0)
    assert len(gt) == len(boxes) == len(scores) == 2
    assert all(b.shape == (len(s), 4) for b, s in zip(boxes, scores, strict=True))
    assert sum(len(s) for s in scores) > 0 and all((s >= 0).all() for s in scores)
    assert predictor.config.tracker.det_threshold == 0.5  # restored after the run


def test_threshold_command_prints_the_curve_and_writes_config(
    tmp_path, model_dir, monkeypatch, capsys
):
    folder = tmp_path / "model"
    shutil.copytree(model_dir, folder)
    monkeypatch.setattr(threshold_cli, "collect_detections", lambda *a, **k: (GT, DETS, SCORES))
    argv = ["threshold", "--model", str(folder), "--device", "cpu", "--videos", "1", "--write"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "best F1 0.750 at det_threshold 0.300" in out and "wrote" in out
    saved = yaml.safe_load((folder / "config.yaml").read_text())
    assert saved["tracker"]["det_threshold"] == pytest.approx(0.3)
    reloaded = SAM2EnhancedVideoPredictor.from_pretrained(folder, device="cpu")
    assert reloaded.config.tracker.det_threshold == pytest.approx(0.3)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--write"], "--write needs --model"),
        (["--videos", "0"], "whole number >= 1"),
        (["--floor", "1.5", "--model", "{model}"], "--floor must be in"),
        (["--model", "{model}"], "no detection to choose"),  # untrained: nothing above 0.05
    ],
)
def test_threshold_command_bad_input_exits_2(model_dir, capsys, args, message):
    argv = ["threshold", "--device", "cpu", "--max-frames", "2", "--videos", "1"]
    argv += [a.format(model=model_dir) for a in args]
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_write_threshold_needs_a_model_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="no config.yaml"):
        threshold_cli.write_threshold(tmp_path, 0.4)


def tracks_by_threshold(detections_of, case):
    """No-prompt tracks that depend on the predictor's threshold as a real run's would: below
    0.25 a false track on every frame, above it the objects only on even frames, at 0.25 the
    ground truth."""
    threshold = detections_of.predictor.config.tracker.det_threshold
    ids, boxes = list(case.gt.ids), list(case.gt.boxes_xyxy)
    if threshold < 0.25:
        ids = [np.append(i, 999) for i in ids]
        boxes = [np.vstack([b, [[1.0, 1.0, 9.0, 9.0]]]) for b in boxes]
    elif threshold > 0.25:
        ids = [i if t % 2 == 0 else i[:0] for t, i in enumerate(ids)]
        boxes = [b if t % 2 == 0 else b[:0] for t, b in enumerate(boxes)]
    return TrackSequence(ids, boxes)


def test_hota_choice_tracks_at_each_candidate_and_restores_the_threshold(model_dir, monkeypatch):
    predictor = SAM2EnhancedVideoPredictor.from_pretrained(model_dir, device="cpu")
    monkeypatch.setattr(threshold_cli, "mot_with_predictor", tracks_by_threshold)
    choice = threshold_cli.choose_threshold_for_hota(predictor, 1, [0.3, 0.2, 0.25], max_frames=4)
    assert choice.thresholds == [0.2, 0.25, 0.3] and choice.threshold == 0.25
    hota = [m.hota for m in choice.metrics]
    assert hota[1] == pytest.approx(1.0) and hota[0] < 1.0 and hota[2] < 1.0
    assert choice.metrics[0].num_tracker_dets > choice.metrics[1].num_tracker_dets
    assert predictor.config.tracker.det_threshold == 0.5  # restored after the sweep
    text = threshold_cli.hota_report(choice)
    assert "best HOTA 1.000 at det_threshold 0.250" in text
    assert text.splitlines()[3].endswith("<- best HOTA")  # title, header, 0.2, 0.25


@pytest.mark.parametrize(("threshold", "low_inside"), [(0.3, 0.2), (0.2, None), (0.1, None)])
def test_tracking_threshold_keeps_the_low_threshold_only_below_it(model_dir, threshold, low_inside):
    predictor = SAM2EnhancedVideoPredictor.from_pretrained(model_dir, device="cpu")
    tracker_cfg = predictor.config.tracker
    tracker_cfg.low_threshold = 0.2
    with threshold_cli.tracking_threshold(predictor, threshold):
        assert (tracker_cfg.det_threshold, tracker_cfg.low_threshold) == (threshold, low_inside)
    assert (tracker_cfg.det_threshold, tracker_cfg.low_threshold) == (0.5, 0.2)  # restored


def test_threshold_command_hota_writes_the_best_candidate(tmp_path, model_dir, monkeypatch, capsys):
    folder = tmp_path / "model"
    shutil.copytree(model_dir, folder)
    monkeypatch.setattr(threshold_cli, "mot_with_predictor", tracks_by_threshold)
    argv = ["threshold", "--model", str(folder), "--device", "cpu", "--videos", "1"]
    argv += ["--max-frames", "3", "--metric", "hota", "--candidates", "0.2,0.25", "--write"]
    assert main(argv) == 0
    assert "best HOTA 1.000 at det_threshold 0.250" in capsys.readouterr().out
    saved = yaml.safe_load((folder / "config.yaml").read_text())
    assert saved["tracker"]["det_threshold"] == pytest.approx(0.25)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--metric", "hota", "--candidates", "0.2,1.5"], "--candidates must be in [0, 1)"),
        (["--metric", "hota", "--candidates", "0.2,x"], "comma-separated thresholds"),
        (["--candidates", "0.2"], "--candidates is for --metric hota"),
        (["--metric", "hota", "--candidates", "0.3", "--model", "{model}"], "HOTA 0"),
    ],
)
def test_threshold_command_hota_bad_input_exits_2(model_dir, capsys, args, message):
    argv = ["threshold", "--device", "cpu", "--max-frames", "2", "--videos", "1"]
    argv += [a.format(model=model_dir) for a in args]
    assert main(argv) == 2
    assert message in capsys.readouterr().err
