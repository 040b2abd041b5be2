"""The bundled default model: loads offline with ``from_pretrained()`` and really segments."""

import dataclasses
from functools import partial

import numpy as np
import pytest
import supervision as sv

from sam2_enhanced import SAM2EnhancedVideoPredictor
from sam2_enhanced.data.splits import split_seeds
from sam2_enhanced.data.synthetic import SyntheticVideoConfig, generate_video
from sam2_enhanced.evaluation.cases import synthetic_cases
from sam2_enhanced.evaluation.eval_report import method_summaries
from sam2_enhanced.evaluation.harness import evaluate_cases, sot_with_predictor
from sam2_enhanced.evaluation.trivial import sot_static
from sam2_enhanced.evaluation.vos import region_similarity
from sam2_enhanced.training.config import load_train_config
from sam2_enhanced.weights.checkpoint import DEFAULT_MODEL_DIR, load_pretrained

TUNED_TRACKER_KEYS = ("det_threshold", "low_threshold", "min_hits")


@pytest.fixture(scope="module")
def bundled():
    return load_pretrained()


def test_bundled_model_is_the_default_configs_architecture(bundled):
    recipe = dataclasses.asdict(load_train_config("default").model)
    shipped = dataclasses.asdict(bundled.config)
    # the no-prompt tracker's thresholds and min_hits are chosen after training, for tracking
    # HOTA on val (docs/architecture.md); the recipe keeps the preset's defaults
    chosen = {key: shipped["tracker"].pop(key) for key in TUNED_TRACKER_KEYS}
    for key in TUNED_TRACKER_KEYS:
        recipe["tracker"].pop(key)
    assert shipped == recipe
    assert 0.0 < chosen["low_threshold"] < chosen["det_threshold"] < 0.5
    assert chosen["min_hits"] >= 1
    size_mb = (DEFAULT_MODEL_DIR / "model.safetensors").stat().st_size / 2**20
    assert size_mb < 50  # the limit for a model shipped inside the package


def test_bundled_model_segments_box_prompted_objects_better_than_the_box(bundled):
    """The predictor (search windows) on the prompted frame of every object of 6 fresh
    test-split videos: its mask must beat the prompt box filled (a box around a blob or a spinning
    shape covers background too)."""
    predictor = SAM2EnhancedVideoPredictor(bundled, device="cpu")
    model_ious, box_ious = [], []
    for seed in split_seeds("test", 6):
        video = generate_video(seed, SyntheticVideoConfig(num_frames=1))
        state = predictor.init_state(video.frames)
        for o in range(video.masks.shape[1]):
            box = video.boxes_xyxy[0, o]
            if not video.masks[0, o].any():
                continue
            _, _, masks, _ = predictor.add_new_points_or_box(state, 0, o + 1, box=box.tolist())
            filled = np.zeros_like(video.masks[0, o])
            x0, y0, x1, y1 = box.astype(int)
            filled[y0:y1, x0:x1] = True
            model_ious.append(region_similarity(video.masks[0, o], masks[-1, 0].numpy() > 0))
            box_ious.append(region_similarity(video.masks[0, o], filled))
    assert len(model_ious) >= 6
    assert np.mean(model_ious) > np.mean(box_ious)


@pytest.mark.skipif(
    not (DEFAULT_MODEL_DIR / "model.safetensors").is_file(), reason="no bundled model"
)
def test_bundled_model_beats_static_on_tracked_frames():
    """SOT protocol on 4 fresh test-split videos of 8 frames, the init frame unscored: the
    bundled model's box must beat the init box repeated (``static``). Measured: AUC 0.383 for
    the bundled model (stage 3, search windows) against 0.213 for ``static``; the stage-2 model,
    whole frames, scored 0.080."""
    predictor = SAM2EnhancedVideoPredictor.from_pretrained()
    refs = synthetic_cases("sot", 4, SyntheticVideoConfig(num_frames=8), split="test")
    runners = {"ours": partial(sot_with_predictor, predictor), "static": sot_static}
    outcome = evaluate_cases("sot", refs, runners, progress=False)
    assert not outcome.errors
    summaries = method_summaries(outcome)
    assert summaries["ours"].curves.auc > summaries["static"].curves.auc


def test_from_pretrained_without_argument_tracks_offline():
    predictor = SAM2EnhancedVideoPredictor.from_pretrained()
    video = generate_video(7, SyntheticVideoConfig(num_frames=3, min_object_size=12))
    first = video.first_visible_frame(0)
    state = predictor.init_state(video.frames)
    box = video.boxes_xyxy[first, 0].tolist()
    _, obj_ids, masks, detections = predictor.add_new_points_or_box(state, first, 1, box=box)
    height, width = video.frames.shape[1:3]
    assert obj_ids == [1] and masks.shape == (1, 1, height, width)
    assert isinstance(detections, sv.Detections)
    outputs = list(predictor.propagate_in_video(state))
    assert [o[0] for o in outputs] == list(range(first, 3))
    assert all(o[2].shape == (1, 1, height, width) for o in outputs)
