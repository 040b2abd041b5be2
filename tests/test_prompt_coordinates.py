"""Prompt coordinates a user got wrong are refused or warned about, never silently tracked.

A 1280x720 video (the size of the issue's clip, one frame of it is enough): a box wholly outside
the frame, clicks outside it, pixels with ``normalize_coords=False`` and fractions read as pixels.
"""

import warnings

import numpy as np
import pytest
import torch

from sam2_enhanced import build_predictor, load_config
from sam2_enhanced.predictor.prompt_inputs import fit_box_to_frame, to_video_pixels

H, W = 720, 1280


@pytest.fixture(scope="module")
def predictor():
    torch.manual_seed(0)
    cfg = load_config("tiny")
    cfg.detection_tiles.use_tiles = False  # one frame, whole-frame detection only: fast
    return build_predictor(cfg, device="cpu")


@pytest.fixture(scope="module")
def video():
    return np.full((1, H, W, 3), 90, dtype=np.uint8)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"box": [1300, 800, 1320, 820]}, ValueError, "wholly outside the 1280x720 frame"),
        ({"box": [-50, 10, -1, 40]}, ValueError, "wholly outside"),
        ({"points": [[1290, 10]], "labels": [1]}, ValueError, "outside the 1280x720 frame"),
        ({"points": [[5, -3]], "labels": [1]}, ValueError, "outside the 1280x720 frame"),
        (
            {"box": [300, 200, 340, 230], "normalize_coords": False},
            ValueError,
            "normalize_coords=False must be fractions",
        ),
        (
            {"points": [[640, 360]], "labels": [1], "normalize_coords": False},
            ValueError,
            "use normalize_coords=True",
        ),
    ],
)
def test_impossible_coordinates_are_refused_and_nothing_changes(
    predictor, video, kwargs, error, match
):
    state = predictor.init_state(video)
    with pytest.raises(error, match=match):
        predictor.add_new_points_or_box(state, 0, 1, **kwargs)
    assert state.objects == {} and state.cond_detections == {}


@pytest.mark.parametrize(
    ("kwargs", "match", "expected_corners"),
    [
        ({"box": [1260, 700, 1300, 740]}, "clipped to", [[1260, 700], [1280, 720]]),
        ({"box": [-10, -5, 30, 20]}, "clipped to", [[0, 0], [30, 20]]),
        ({"box": [0.1, 0.2, 0.3, 0.4]}, "pass normalize_coords=False", None),
        ({"points": [[0.5, 0.5]], "labels": [1]}, "fractions of the frame", None),
    ],
)
def test_doubtful_coordinates_warn(predictor, video, kwargs, match, expected_corners):
    state = predictor.init_state(video)
    with pytest.warns(UserWarning, match=match):
        predictor.add_new_points_or_box(state, 0, 1, **kwargs)
    if expected_corners is not None:
        assert state.objects[1].prompts[0].video_coords[:2].tolist() == expected_corners


@pytest.mark.parametrize(
    "kwargs",
    [
        {"box": [100, 100, 140, 130]},
        {"box": [0.25, 0.25, 0.5, 0.5], "normalize_coords": False},
        {"points": [[640, 360], [700, 300]], "labels": [1, 0]},
        {"box": [0, 0, 1280, 720]},  # the whole frame: inside, nothing to clip
    ],
)
def test_coordinates_in_the_right_unit_pass_without_a_warning(predictor, video, kwargs):
    state = predictor.init_state(video)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        predictor.add_new_points_or_box(state, 0, 1, **kwargs)
    assert state.obj_ids == [1]


def test_fractions_become_pixels_and_tiny_frames_do_not_warn():
    corners = np.array([[0.25, 0.5], [0.75, 1.0]], np.float32)
    pixels = to_video_pixels(corners, False, (720, 1280), "box")
    assert pixels.tolist() == [[320, 360], [960, 720]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        to_video_pixels(corners, True, (8, 8), "box")  # an 8 px frame: 1 px is a real size
        fit_box_to_frame(pixels, (720, 1280))
