"""The small-object probe: scoring of second-frame detections, the script, and bad input."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import supervision as sv

from sam2_enhanced import build_predictor
from sam2_enhanced.data.splits import split_seeds
from sam2_enhanced.data.synthetic import generate_video
from sam2_enhanced.evaluation.small_object_probe import probe_video_config, small_object_probe

H, W, SIZE = 64, 96, 8
SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "small_object_probe.py"


class BoxPredictor:
    """A stand-in predictor that reports the true box of each probe video, shifted by ``shift``
    pixels (the probe's scoring is under test, not a model)."""

    def __init__(self, num_videos, shift):
        cfg = probe_video_config(H, W, SIZE)
        self.boxes = [
            generate_video(s, cfg).boxes_xyxy[1, 0] for s in split_seeds("val", num_videos)
        ]
        self.shift = shift

    def init_state(self, frames):
        assert frames.shape == (2, H, W, 3)
        return self.boxes.pop(0)

    def propagate_in_video(self, box):
        xyxy = (box + self.shift)[None].astype(np.float32)  # (1, 4)
        for frame_idx in range(2):
            yield frame_idx, [], None, sv.Detections(xyxy=xyxy, confidence=np.ones(1))


@pytest.mark.parametrize(("shift", "found"), [(0.0, 3), (1.0, 3), (SIZE, 0)])
def test_found_counts_second_frame_detections_at_iou_half(shift, found):
    result = small_object_probe(
        BoxPredictor(3, shift), num_videos=3, height=H, width=W, object_size=SIZE
    )
    assert result.num_found == found and result.found_rate == found / 3
    assert len(result.best_ious) == 3 and all(0.0 <= iou <= 1.0 for iou in result.best_ious)
    assert result.mean_detections == 1.0 and result.seconds_per_frame >= 0.0


def test_the_untrained_tiny_predictor_runs_the_probe(tiny_cfg):
    result = small_object_probe(
        build_predictor(tiny_cfg, device="cpu"), num_videos=1, height=H, width=W, object_size=SIZE
    )
    assert result.num_videos == 1 and result.num_found in (0, 1)
    assert result.best_ious[0] == 0.0 or result.mean_detections > 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(num_videos=0), "num_videos must be >= 1"),
        (dict(num_videos=1, object_size=0), "min_object_size"),
        (dict(num_videos=1, object_size=40), "max_object_size"),
        (dict(num_videos=1, split="dev"), "split must be one of"),
    ],
)
def test_bad_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        small_object_probe(BoxPredictor(0, 0.0), height=H, width=W, **kwargs)


def probe_script():
    spec = importlib.util.spec_from_file_location("small_object_probe_script", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


def test_the_script_prints_a_row_per_tile_setting(model_dir, capsys):
    probe_script().main([model_dir, "--num-videos", "1", "--frame", "96x64", "--threads", "1"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "8 px object on 96x64 frames, 1 val videos"
    assert [line.split()[0] for line in lines[2:]] == ["off", "on"]


def test_the_script_refuses_a_bad_frame_size(model_dir, capsys):
    with pytest.raises(SystemExit):
        probe_script().main([model_dir, "--frame", "1280by720"])
    assert "--frame must be WIDTHxHEIGHT, got '1280by720'" in capsys.readouterr().err
