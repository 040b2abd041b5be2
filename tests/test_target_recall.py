"""Target recall on single-object sequences: scoring, the no-prompt run, ``sam2e recall``."""

import math
from types import SimpleNamespace

import numpy as np
import pytest

from sam2_enhanced import SAM2EnhancedVideoPredictor
from sam2_enhanced.cli.sam2e import main
from sam2_enhanced.config import TrackerConfig
from sam2_enhanced.data.synthetic import SyntheticVideoConfig, generate_video
from sam2_enhanced.data.writers import write_sot_sequence
from sam2_enhanced.evaluation.cases import SotCase
from sam2_enhanced.evaluation.harness import FrameTracks, detection_floor
from sam2_enhanced.evaluation.target_recall import run_target_recall, target_recall

TARGET = np.array([10.0, 10.0, 20.0, 20.0])
MISS = np.array([40.0, 40.0, 50.0, 50.0])  # another (unlabelled) object


def frame(*rows):
    """FrameTracks from (box, score) rows."""
    boxes = np.array([box for box, _ in rows], dtype=np.float64).reshape(len(rows), 4)
    scores = np.array([score for _, score in rows], dtype=np.float64)
    ids = np.arange(len(rows), dtype=np.int64)
    return FrameTracks(ids, boxes, scores, np.zeros(len(rows), np.int64))


@pytest.mark.parametrize(
    ("rows", "floor_hit", "threshold_hit", "top1", "rank", "count"),
    [
        ([(TARGET, 0.9)], 1, 1, 1, 1, 1),  # found, ranked first
        ([(MISS, 0.9), (TARGET, 0.3)], 1, 0, 0, 2, 1),  # found below the threshold, second
        ([(MISS, 0.6), (TARGET + 1.0, 0.7)], 1, 1, 1, 1, 2),  # IoU 0.68 covers
        ([(TARGET + 4.0, 0.9)], 0, 0, 0, None, 1),  # IoU 0.22 does not
        ([], 0, 0, 0, None, 0),  # nothing detected
    ],
)
def test_one_frame_scores(rows, floor_hit, threshold_hit, top1, rank, count):
    result = target_recall([frame(*rows)], TARGET[None], np.array([True]), threshold=0.5)
    assert (result.recall_floor, result.recall_threshold) == (floor_hit, threshold_hit)
    assert result.recall_top1 == top1 and result.detections_per_frame == count
    assert math.isnan(result.mean_rank) if rank is None else result.mean_rank == rank
    assert result.num_frames == 1 and result.median_target_px == pytest.approx(10.0)


def test_absent_frames_are_not_scored_and_frames_are_averaged():
    frames = [frame((TARGET, 0.9)), frame((MISS, 0.9)), frame((MISS, 0.8), (TARGET, 0.7))]
    boxes = np.stack([TARGET, np.full(4, np.nan), TARGET])  # (3, 4), absent in frame 1
    result = target_recall(frames, boxes, np.array([True, False, True]), threshold=0.5)
    assert result.num_frames == 2 and result.recall_floor == 1.0
    assert result.recall_top1 == 0.5 and result.mean_rank == 1.5
    assert result.detections_per_frame == 1.5  # frame 1's detection is not counted


@pytest.mark.parametrize(
    ("frames", "boxes", "present", "message"),
    [
        ([frame()], np.zeros((1, 3)), [True], r"boxes_xyxy \(T, 4\)"),
        ([frame()], TARGET[None], [True, True], r"present \(T,\)"),
        ([frame(), frame()], TARGET[None], [True], "one FrameTracks per frame"),
        ([frame()], TARGET[None], [False], "absent in every frame"),
        ([frame()], np.full((1, 4), np.nan), [True], "must be finite"),
    ],
)
def test_bad_input_raises(frames, boxes, present, message):
    with pytest.raises(ValueError, match=message):
        target_recall(frames, boxes, np.array(present), threshold=0.5)


class Holder:
    """Anything with a ``config.tracker`` (a predictor)."""

    def __init__(self):
        self.config = SimpleNamespace(tracker=TrackerConfig(det_threshold=0.4, low_threshold=0.2))


def test_detection_floor_lowers_and_restores_the_threshold():
    holder = Holder()
    tracker_cfg = holder.config.tracker
    with detection_floor(holder, 0.05) as own:
        assert own == 0.4 and tracker_cfg.det_threshold == 0.05
        assert tracker_cfg.low_threshold is None  # every row reported: no second association
    assert (tracker_cfg.det_threshold, tracker_cfg.low_threshold) == (0.4, 0.2)
    with pytest.raises(RuntimeError), detection_floor(holder, 0.1):
        raise RuntimeError("a failed run")
    assert holder.config.tracker.det_threshold == 0.4
    for bad in (-0.1, 1.0):
        with pytest.raises(ValueError, match="--floor must be in"), detection_floor(holder, bad):
            pass


def small_video():
    cfg = SyntheticVideoConfig(
        height=64, width=96, num_frames=3, min_objects=1, max_objects=1, max_object_size=16
    )
    return generate_video(3, cfg)


def test_run_target_recall_on_the_tiny_model(model_dir):
    predictor = SAM2EnhancedVideoPredictor.from_pretrained(model_dir, device="cpu")
    video = small_video()
    boxes = video.boxes_xyxy[:, 0].astype(np.float64)  # (3, 4)
    present = video.visibility[:, 0] > 0
    case = SotCase("tiny", video.frames, np.where(present[:, None], boxes, np.nan), present)
    result = run_target_recall(predictor, case, floor=0.0)
    assert result.num_frames == present.sum() > 0
    assert 0.0 <= result.recall_threshold <= result.recall_floor <= 1.0
    assert 0.0 <= result.recall_top1 <= result.recall_floor
    assert result.detections_per_frame >= 0.0
    assert predictor.config.tracker.det_threshold == 0.5  # restored after the run


def test_recall_command_prints_a_row_per_sequence_and_the_pool(tmp_path, model_dir, capsys):
    video = small_video()
    for name in ("seq_a", "seq_b"):
        write_sot_sequence(video, 0, tmp_path / "data" / name)
    argv = ["recall", "--data", str(tmp_path / "data"), "--model", model_dir, "--device", "cpu"]
    assert main([*argv, "--max-frames", "2", "--floor", "0.0"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "det_threshold 0.500, tiles off" in lines[0] and lines[1].split()[:2] == [
        "sequence",
        "frames",
    ]
    assert [line.split()[0] for line in lines[2:]] == ["seq_a", "seq_b", "all"]
    assert lines[2].split()[1:] == lines[3].split()[1:]  # the same video twice
    assert int(lines[4].split()[3]) == 2 * int(lines[2].split()[1])  # "all (2 sequences)" N


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--data", "{tmp}/nowhere"], "no such folder"),
        (["--data", "{tmp}", "--floor", "1.5"], "--floor must be in"),
        (["--data", "{tmp}", "--max-frames", "0"], "whole number >= 1"),
    ],
)
def test_recall_command_bad_input_exits_2(tmp_path, model_dir, capsys, args, message):
    argv = ["recall", "--model", model_dir, "--device", "cpu"]
    assert main(argv + [a.format(tmp=tmp_path) for a in args]) == 2
    assert message in capsys.readouterr().err
