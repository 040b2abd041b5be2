"""The bundled default model: loads offline with ``from_pretrained()`` and really segments."""

import dataclasses

import pytest
import supervision as sv

from sam2_enhanced import SAM2EnhancedVideoPredictor
from sam2_enhanced.data.synthetic import SyntheticVideoConfig, generate_video
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


def test_bundled_model_segments_box_prompted_objects(bundled):
    data = SyntheticVideoConfig(num_frames=3)
    result = validate(bundled, data, num_videos=4, seed_offset=20_000_000)
    # the bundled model scores 0.62 here (5 objects), a freshly initialized `default` model 0.0
    assert result.mean_mask_iou_prompted > 0.3


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
