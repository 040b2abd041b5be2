"""Predictor-side validation (training/validate_tracking.py) and its use by window training."""

import csv

import pytest
import torch

from sam2_enhanced import build_model, load_config
from sam2_enhanced.data.synthetic import SyntheticVideoConfig
from sam2_enhanced.training.config import load_train_config
from sam2_enhanced.training.trainer import Trainer
from sam2_enhanced.training.validate_tracking import validate_tracking

DATA = SyntheticVideoConfig(height=48, width=64, num_frames=3, max_object_size=16)


def test_validate_tracking_scores_the_predictor_beside_static():
    torch.manual_seed(0)
    model = build_model(load_config("tiny")).train()
    result = validate_tracking(model, DATA, num_videos=2)
    assert model.training  # restored
    assert result.num_videos == 2 and result.num_frames == 2 * 2  # init frames unscored
    assert 0.0 <= result.sot_auc <= 1.0 and 0.0 <= result.sot_precision20 <= 1.0
    assert result.static_auc > 0.0  # the init box repeated overlaps a slow object
    with pytest.raises(ValueError, match="num_videos"):
        validate_tracking(model, DATA, num_videos=0)


def test_window_training_keeps_best_by_the_predictors_auc(tmp_path):
    overrides = [
        f"train.output_dir={tmp_path}",
        "train.steps=2",
        "train.use_windows=true",
        "train.window_frame_sides=[64]",
        "train.val_interval=2",
        "train.num_val_videos=1",
        "train.max_objects_per_clip=1",
        "data.height=48",
        "data.width=64",
        "data.max_object_size=16",
        "data.num_frames=3",
    ]
    summary = Trainer(load_train_config("train_tiny", overrides)).train()
    rows = list(csv.DictReader((tmp_path / "val_log.csv").open()))
    assert [int(r["step"]) for r in rows] == [2]
    assert {"sot_auc", "static_auc", "num_frames"} <= set(rows[0])
    assert summary.validation.sot_auc == pytest.approx(float(rows[0]["sot_auc"]))
    assert (tmp_path / "best" / "model.safetensors").is_file()
