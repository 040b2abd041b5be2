"""Tests of the synthetic small-object video generator."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import pytest

from sam2_enhanced.data.synthetic import (
    CLASS_NAMES,
    EXIT_MOTION,
    MOTION_TYPES,
    SyntheticVideoConfig,
    generate_video,
    masks_to_boxes_xyxy,
)
from sam2_enhanced.data.synthetic_motion import fold_into_range
from sam2_enhanced.data.synthetic_render import SpriteStyle, render_sprite

# Every effect off: objects static, fully visible, no camera motion, no noise.
PLAIN = SyntheticVideoConfig(
    height=64,
    width=64,
    num_frames=6,
    min_objects=2,
    max_objects=2,
    min_object_size=6,
    max_object_size=12,
    motion_weights=(1, 0, 0, 0, 0),
    prob_scale_change=0.0,
    prob_appearance_change=0.0,
    prob_occlusion=0.0,
    max_clutter_occluders=0,
    prob_exit=0.0,
    prob_distractor=0.0,
    prob_camera_motion=0.0,
    prob_noise=0.0,
    prob_blur=0.0,
    prob_grey=0.0,
)


def plain(**changes) -> SyntheticVideoConfig:
    return dataclasses.replace(PLAIN, **changes)


def tight_box_by_loops(mask: np.ndarray) -> list[float]:
    """Reference tight pixel-edge box computed the slow, obvious way."""
    ys, xs = np.nonzero(mask)
    if len(ys) == 0:
        return [0.0, 0.0, 0.0, 0.0]
    return [float(xs.min()), float(ys.min()), float(xs.max() + 1), float(ys.max() + 1)]


def longer_sides(boxes_xyxy: np.ndarray) -> np.ndarray:
    return np.maximum(
        boxes_xyxy[..., 2] - boxes_xyxy[..., 0], boxes_xyxy[..., 3] - boxes_xyxy[..., 1]
    )


def test_class_names_and_motion_types():
    assert CLASS_NAMES == ("drone", "bird", "vehicle", "balloon")
    assert MOTION_TYPES == ("static", "linear", "curved", "erratic", "fast")


def test_same_seed_is_byte_identical_and_seeds_differ():
    first, again, other = generate_video(3), generate_video(3), generate_video(4)
    for field in ("frames", "boxes_xyxy", "masks", "visibility", "class_ids", "track_ids"):
        assert getattr(first, field).tobytes() == getattr(again, field).tobytes(), field
    assert first.motion_types == again.motion_types
    assert not np.array_equal(first.frames, other.frames)


def test_shapes_and_dtypes():
    video = generate_video(
        0, SyntheticVideoConfig(num_frames=5, height=48, width=80, max_object_size=20)
    )
    num_objects = video.num_objects
    assert video.frames.shape == (5, 48, 80, 3) and video.frames.dtype == np.uint8
    assert video.boxes_xyxy.shape == (5, num_objects, 4) and video.boxes_xyxy.dtype == np.float32
    assert video.masks.shape == (5, num_objects, 48, 80) and video.masks.dtype == bool
    assert video.visibility.shape == (5, num_objects) and video.visibility.dtype == np.float32
    assert video.class_ids.shape == (num_objects,) and video.class_ids.dtype == np.int64
    assert video.track_ids.tolist() == list(range(1, num_objects + 1))
    assert video.camera_xy.shape == (5, 2)
    assert (video.num_frames, video.height, video.width) == (5, 48, 80)


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4, 5])
def test_ground_truth_invariants(seed):
    video = generate_video(seed, SyntheticVideoConfig(max_objects=4, prob_occlusion=0.5))
    height, width = video.height, video.width
    assert video.num_objects >= 1
    assert set(video.class_ids.tolist()) <= set(range(len(CLASS_NAMES)))
    boxes = video.boxes_xyxy
    assert (boxes[..., 0::2] >= 0).all() and (boxes[..., 0::2] <= width).all()
    assert (boxes[..., 1::2] >= 0).all() and (boxes[..., 1::2] <= height).all()
    for t in range(video.num_frames):
        for o in range(video.num_objects):
            assert boxes[t, o].tolist() == tight_box_by_loops(video.masks[t, o])
    empty = ~video.masks.any(axis=(2, 3))
    np.testing.assert_array_equal(video.visibility == 0, empty)
    assert ((video.visibility >= 0) & (video.visibility <= 1)).all()
    assert (video.masks.sum(axis=1) <= 1).all(), "visible masks must not overlap"
    full = video.visibility == 1
    assert ((longer_sides(boxes)[full] >= 3) & (longer_sides(boxes)[full] <= 40)).all()
    for o in range(video.num_objects):
        assert video.first_visible_frame(o) == int(np.argmax(~empty[:, o]))


def test_masks_to_boxes_xyxy_hand_example():
    masks = np.zeros((2, 5, 6), dtype=bool)
    masks[0, 1:3, 2:5] = True  # rows 1-2, columns 2-4
    masks[0, 4, 0] = True  # and the bottom-left pixel
    boxes = masks_to_boxes_xyxy(masks)
    np.testing.assert_array_equal(boxes, [[0, 1, 5, 5], [0, 0, 0, 0]])


@pytest.mark.parametrize("low,high", [(3, 3), (10, 12), (20, 30)])
def test_fully_visible_sizes_stay_in_configured_range(low, high):
    cfg = plain(
        min_object_size=low,
        max_object_size=high,
        max_objects=3,
        num_frames=8,
        motion_weights=(1, 1, 1, 1, 1),
        prob_scale_change=1.0,
        prob_appearance_change=1.0,
    )
    sides = np.concatenate(
        [
            longer_sides(v.boxes_xyxy)[v.visibility == 1]
            for v in (generate_video(seed, cfg) for seed in range(4))
        ]
    )
    assert sides.size > 0
    assert sides.min() >= low and sides.max() <= high


@pytest.mark.parametrize("class_id", range(4))
@pytest.mark.parametrize("size", [1, 3, 7, 40])
def test_sprite_longer_side_is_exactly_the_size(class_id, size):
    style = SpriteStyle(class_id, (200.0, 10.0, 10.0), (10.0, 10.0, 200.0), 3.0, 0.0)
    for angle in (0.0, 0.7, 2.0):
        mask, rgb = render_sprite(style, size, angle, flap=0.3, brightness=1.0)
        assert max(mask.shape) == size and rgb.shape == (*mask.shape, 3)
        assert mask[0].any() and mask[-1].any() and mask[:, 0].any() and mask[:, -1].any()


def test_fold_into_range_reflects_at_the_walls():
    values = np.array([[-2.0], [3.0], [12.0], [25.0]])
    folded = fold_into_range(values, np.array([0.0]), np.array([10.0]))
    np.testing.assert_allclose(folded, [[2.0], [3.0], [8.0], [5.0]])


def test_all_effects_off_gives_static_fully_visible_colour_video():
    video = generate_video(7, PLAIN)
    assert (video.visibility == 1).all()
    assert (video.camera_xy == 0).all() and not video.is_grey
    assert (video.boxes_xyxy == video.boxes_xyxy[:1]).all()
    assert not np.array_equal(video.frames[..., 0], video.frames[..., 1])
    assert not video.is_distractor.any()


def test_background_is_textured_not_flat():
    video = generate_video(2, plain(max_background_shapes=0))
    background = video.frames[0][~video.masks[0].any(axis=0)]  # (P, 3)
    assert len(np.unique(background, axis=0)) > 200
    assert background.astype(np.float32).std(axis=0).max() > 3.0


def test_occlusion_gives_partial_visibility_only_when_on():
    partial = [
        ((v.visibility > 0) & (v.visibility < 1)).any()
        for v in (generate_video(s, plain(prob_occlusion=1.0)) for s in range(3))
    ]
    assert any(partial)
    assert all((generate_video(s, PLAIN).visibility == 1).all() for s in range(3))


def test_camera_motion_shifts_static_objects_by_the_camera_offset():
    video = generate_video(1, plain(prob_camera_motion=1.0, camera_max_speed=2.0))
    assert (video.camera_xy != 0).any()
    moved = False
    for o in range(video.num_objects):
        for t in np.flatnonzero(video.visibility[:, o] == 1):
            if video.visibility[0, o] == 1:
                shift = np.tile(video.camera_xy[t], 2).astype(np.float32)
                np.testing.assert_array_equal(
                    video.boxes_xyxy[t, o], video.boxes_xyxy[0, o] - shift
                )
                moved |= bool(shift.any())
    assert moved


def test_exit_objects_leave_and_come_back():
    video = generate_video(0, plain(prob_exit=1.0, num_frames=16, max_objects=3))
    for o in range(video.num_objects):
        assert video.motion_types[o] == EXIT_MOTION
        seen = video.visibility[:, o] > 0
        gone = np.flatnonzero(~seen)
        assert gone.size > 0 and seen[gone[0] :].any()


def test_distractors_are_annotated_look_alikes():
    video = generate_video(0, plain(prob_distractor=1.0))
    assert video.is_distractor.sum() == video.num_objects // 2
    for o in np.flatnonzero(video.is_distractor):  # each follows its target in drawing order
        assert not video.is_distractor[o - 1] and video.class_ids[o] == video.class_ids[o - 1]


def test_scale_and_appearance_change_only_when_on():
    sides_fixed = longer_sides(generate_video(0, PLAIN).boxes_xyxy)
    assert (sides_fixed == sides_fixed[:1]).all()
    scaled = generate_video(0, plain(prob_scale_change=1.0, num_frames=10))
    assert (longer_sides(scaled.boxes_xyxy).std(axis=0) > 0).any()
    turning = generate_video(0, plain(prob_appearance_change=1.0, num_frames=10))
    assert not (turning.masks == turning.masks[:1]).all()


@pytest.mark.parametrize("field", ["prob_noise", "prob_blur"])
def test_noise_and_blur_change_pixels_not_ground_truth(field):
    clean = generate_video(4, PLAIN)
    degraded = generate_video(4, plain(**{field: 1.0}))
    assert not np.array_equal(clean.frames, degraded.frames)
    np.testing.assert_array_equal(clean.masks, degraded.masks)
    np.testing.assert_array_equal(clean.boxes_xyxy, degraded.boxes_xyxy)


def test_grey_videos_have_equal_channels():
    video = generate_video(0, plain(prob_grey=1.0, prob_noise=1.0))
    assert video.is_grey
    np.testing.assert_array_equal(video.frames[..., 0], video.frames[..., 1])
    np.testing.assert_array_equal(video.frames[..., 1], video.frames[..., 2])


@pytest.mark.parametrize("seed", [0, 3, 7])
def test_thermal_videos_are_grey_with_warm_objects_and_the_same_ground_truth(seed):
    colour = generate_video(seed, PLAIN)
    thermal = generate_video(seed, plain(prob_thermal=1.0))
    assert thermal.is_grey and not colour.is_grey
    np.testing.assert_array_equal(thermal.frames[..., 0], thermal.frames[..., 2])
    np.testing.assert_array_equal(colour.masks, thermal.masks)
    np.testing.assert_array_equal(colour.boxes_xyxy, thermal.boxes_xyxy)
    grey = thermal.frames[0, ..., 0].astype(np.float32)  # (H, W)
    background = np.median(grey[~thermal.masks[0].any(axis=0)])
    for mask in thermal.masks[0]:  # each object stands out from the sky (warm or black-hot)
        assert abs(float(np.median(grey[mask])) - background) > 15


def test_thermal_look_does_not_change_other_videos():
    before = generate_video(5, dataclasses.replace(SyntheticVideoConfig(), prob_thermal=0.0))
    default = generate_video(5)
    np.testing.assert_array_equal(before.frames, default.frames)


@pytest.mark.parametrize("motion,min_step", [("static", 0.0), ("fast", 3.0)])
def test_motion_weights_select_the_motion(motion, min_step):
    weights = tuple(float(m == motion) for m in MOTION_TYPES)
    video = generate_video(5, plain(motion_weights=weights, height=128, width=128))
    assert set(video.motion_types) == {motion}
    centres = (video.boxes_xyxy[..., :2] + video.boxes_xyxy[..., 2:]) / 2  # (T, O, 2)
    steps = np.linalg.norm(np.diff(centres, axis=0), axis=-1)  # (T-1, O)
    assert steps.mean() >= min_step if min_step else (steps == 0).all()


def test_bigger_frames_for_validation():
    video = generate_video(0, SyntheticVideoConfig(height=224, width=224, num_frames=12))
    assert video.frames.shape == (12, 224, 224, 3)


def test_default_video_is_fast():
    generate_video(0)
    start = time.perf_counter()
    for seed in range(3):
        generate_video(seed)
    # ~25 ms per video on one core; a loose bound so a busy machine does not fail it
    assert (time.perf_counter() - start) / 3 < 0.5


@pytest.mark.parametrize(
    "changes,field",
    [
        ({"height": 8}, "height"),
        ({"width": 12.5}, "width"),
        ({"num_frames": 0}, "num_frames"),
        ({"min_objects": 0}, "min_objects"),
        ({"min_objects": 3, "max_objects": 2}, "max_objects"),
        ({"min_object_size": 0}, "min_object_size"),
        ({"min_object_size": 10, "max_object_size": 5}, "max_object_size"),
        ({"max_object_size": 65}, "max_object_size"),
        ({"motion_weights": (1.0, 1.0)}, "motion_weights"),
        ({"motion_weights": (0, 0, 0, 0, 0)}, "motion_weights"),
        ({"motion_weights": (1, -1, 0, 0, 0)}, "motion_weights"),
        ({"prob_occlusion": 1.5}, "prob_occlusion"),
        ({"prob_grey": -0.1}, "prob_grey"),
        ({"prob_thermal": 2.0}, "prob_thermal"),
        ({"prob_background_warp": 1.5}, "prob_background_warp"),
        ({"background_warp_px": -0.5}, "background_warp_px"),
        ({"prob_background_warp": 0.5, "background_warp_px": 0.0}, "background_warp_px"),
        ({"prob_noise": "high"}, "prob_noise"),
        ({"camera_jitter": -1.0}, "camera_jitter"),
        ({"max_clutter_occluders": 65}, "max_clutter_occluders"),
        ({"max_background_shapes": True}, "max_background_shapes"),
    ],
)
def test_bad_config_raises_value_error_naming_the_field(changes, field):
    with pytest.raises(ValueError, match=field):
        SyntheticVideoConfig(**changes)


@pytest.mark.parametrize("seed,error", [(-1, ValueError), (1.5, ValueError), ("3", ValueError)])
def test_bad_seed_raises(seed, error):
    with pytest.raises(error, match="seed"):
        generate_video(seed, PLAIN)


def test_bad_cfg_and_object_index_raise():
    with pytest.raises(TypeError, match="SyntheticVideoConfig"):
        generate_video(0, {"height": 64})
    video = generate_video(0, PLAIN)
    with pytest.raises(ValueError, match="obj_index"):
        video.first_visible_frame(video.num_objects)
