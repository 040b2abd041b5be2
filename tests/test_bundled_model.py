"""The bundled default model: loads offline with ``from_pretrained()`` and really segments."""

import dataclasses
from functools import partial

import pytest
import supervision as sv

from sam2_enhanced import SAM2EnhancedVideoPredictor
from sam2_enhanced.data.synthetic import SyntheticVideoConfig, generate_video
from sam2_enhanced.evaluation.cases import synthetic_cases
from sam2_enhanced.evaluation.eval_report import method_summaries
from sam2_enhanced.evaluation.harness import evaluate_cases, sot_with_predictor
from sam2_enhanced.evaluation.trivial import sot_static
from sam2_enhanced.training.config import load_train_config
from sam2_enhanced.training.validate import validate
from sam2_enhanced.weights.checkpoint import DEFAULT_MODEL_DIR, load_pretrained


@pytest.fixture(scope="module")
def bundled():
    return load_pretrained()


def test_bundled_model_is_the_default_configs_architecture(bundled):
    recipe = load_train_config("default").model
    assert dataclasses.asdict(bundled.config) == dataclasses.asdict(recipe)
    size_mb = (DEFAULT_MODEL_DIR / "model.safetensors").stat().st_size / 2**20
    assert size_mb < 50  # the limit for a model shipped inside the package


def test_bundled_model_segments_box_prompted_objects_better_than_the_box(bundled):
    data = SyntheticVideoConfig(num_frames=3)
    result = validate(bundled, data, num_videos=4, split="test")
    # the prompt box filled scores 0.607 here (5 objects), the bundled model 0.625, a freshly
    # initialized `default` model 0.0: a model must do better than filling the box it is given
    assert result.mean_mask_iou_prompted > result.static_mask_iou_prompted


@pytest.mark.skipif(
    not (DEFAULT_MODEL_DIR / "model.safetensors").is_file(), reason="no bundled model"
)
def test_bundled_model_beats_static_on_tracked_frames():
    """SOT protocol on 4 fresh test-split videos of 8 frames, the init frame unscored: the
    bundled model's box must beat the init box repeated (``static``). Measured: AUC 0.080 for
    the bundled model against 0.213 for ``static`` (P@20 0.43 against 0.93)."""
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
