"""Motion classes: camera shift by phase correlation, static / dynamic relative to the scene."""

import dataclasses

import numpy as np
import pytest

from sam2_enhanced import build_predictor
from sam2_enhanced.modeling.motion_class import (
    MOTION_CLASSES,
    MotionClassifier,
    boxes_mask,
    camera_shift,
    classify_motion,
)

SIDE = 96  # frame side in pixels
OBJECT = 8  # object side in pixels


def world(seed: int = 0, side: int = 400) -> np.ndarray:
    """A textured (side, side) grey world the camera looks at."""
    import cv2

    rng = np.random.default_rng(seed)
    noise = rng.uniform(0, 255, (side, side)).astype(np.float32)
    return cv2.GaussianBlur(noise, (0, 0), 3)


def render(scene: np.ndarray, camera_xy, object_xy) -> tuple[np.ndarray, np.ndarray]:
    """The view at ``camera_xy`` (world px) with a bright square at world ``object_xy``;
    returns the (SIDE, SIDE) uint8 frame and the object's (4,) box in frame pixels."""
    cx, cy = camera_xy
    frame = scene[cy : cy + SIDE, cx : cx + SIDE].copy()
    x0, y0 = object_xy[0] - cx, object_xy[1] - cy
    frame[y0 : y0 + OBJECT, x0 : x0 + OBJECT] = 250.0
    return frame.astype(np.uint8), np.array([x0, y0, x0 + OBJECT, y0 + OBJECT], float)


def run(camera_step, object_step, num_frames=8) -> str:
    """The class the classifier gives after ``num_frames`` frames."""
    scene = world()
    classifier = MotionClassifier(window=8, min_frames=3)
    classes = None
    for t in range(num_frames):
        camera = (150 + camera_step[0] * t, 150 + camera_step[1] * t)
        obj = (190 + object_step[0] * t, 190 + object_step[1] * t)
        frame, box = render(scene, camera, obj)
        classes = classifier.update(frame, np.array([7]), box[None])
    return str(classes[0])


@pytest.mark.parametrize(
    ("camera_step", "object_step", "expected"),
    [
        ((0, 0), (0, 0), "static"),  # static object, static camera
        ((3, 1), (0, 0), "static"),  # static object, panning camera: it moves in the image only
        ((-2, 2), (0, 0), "static"),
        ((0, 0), (3, 0), "dynamic"),  # moving object, static camera
        ((3, 1), (3, 1), "dynamic"),  # moving with the camera: still in the image, not the scene
        ((2, 0), (-2, 2), "dynamic"),
    ],
)
def test_motion_class_compensates_camera(camera_step, object_step, expected):
    assert run(camera_step, object_step) == expected


def test_camera_shift_sign_and_masking():
    scene = world(1)
    prev, _ = render(scene, (100, 100), (140, 140))
    cur, box = render(scene, (104, 97), (140, 140))  # camera moves +4, -3: content by -4, +3
    shift = camera_shift(prev, cur, boxes_mask(box[None], cur.shape))
    np.testing.assert_allclose(shift, [-4, 3], atol=0.3)


def test_new_tracks_are_unknown_and_rows_align():
    classifier = MotionClassifier(window=4, min_frames=3)
    frame = world()[:SIDE, :SIDE].astype(np.uint8)
    boxes = np.array([[10, 10, 20, 20], [50, 50, 60, 60]], float)
    for _ in range(2):
        classes = classifier.update(frame, np.array([1, 2]), boxes)
    assert classes.tolist() == ["unknown", "unknown"]
    classes = classifier.update(frame, np.array([2, 1]), boxes[::-1])
    assert classes.tolist() == ["static", "static"]
    assert classifier.update(frame, np.zeros(0, int), np.zeros((0, 4))).shape == (0,)


def test_classify_motion_threshold_scales_with_size():
    frames = np.arange(5)
    moving = np.stack([frames * 1.0, np.zeros(5)], axis=1)  # 1 px / frame
    assert classify_motion(frames, moving, size_px=10) == "dynamic"
    assert classify_motion(frames, moving, size_px=100) == "static"  # 1 px is 1 % of its size


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda: MotionClassifier(window=1), ValueError),
        (lambda: MotionClassifier(window=4, min_frames=5), ValueError),
        (lambda: camera_shift(np.zeros((8, 8, 3)), np.zeros((8, 8, 3))), ValueError),
        (lambda: camera_shift(np.zeros((8, 8)), np.zeros((8, 9))), ValueError),
        (lambda: camera_shift(np.zeros((8, 8)), np.zeros((8, 8)), np.zeros((8, 8))), ValueError),
        (lambda: classify_motion(np.arange(1), np.zeros((1, 2)), 5.0), ValueError),
        (lambda: classify_motion(np.array([3, 3]), np.zeros((2, 2)), 5.0), ValueError),
        (
            lambda: MotionClassifier().update(np.zeros((8, 8)), np.array([1, 2]), np.zeros((1, 4))),
            ValueError,
        ),
    ],
)
def test_bad_input(call, error):
    with pytest.raises(error):
        call()


@pytest.mark.parametrize("enabled", [False, True])
def test_predictor_exposes_motion_classes_behind_the_switch(tiny_cfg, enabled):
    tracker = dataclasses.replace(tiny_cfg.tracker, classify_motion=enabled, det_threshold=0.0)
    predictor = build_predictor(dataclasses.replace(tiny_cfg, tracker=tracker), device="cpu")
    frames = np.random.default_rng(0).integers(0, 255, (5, 64, 64, 3), dtype=np.uint8)
    state = predictor.init_state(frames)
    predictor.add_new_points_or_box(state, 0, 1, box=[10, 10, 30, 30])
    outputs = list(predictor.propagate_in_video(state))
    assert len(outputs) == 5
    for _, _, _, detections in outputs:
        assert ("motion_class" in detections.data) == enabled
        if enabled:
            assert len(detections.data["motion_class"]) == len(detections)
            assert set(detections.data["motion_class"]) <= set(MOTION_CLASSES)
    if enabled:
        assert sum(len(d) for *_, d in outputs) > 0  # rows were classified
