"""Tests of the synthetic background deformation (``data/synthetic_warp.py``)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from sam2_enhanced.data.synthetic import SyntheticVideoConfig, generate_video
from sam2_enhanced.data.synthetic_warp import BackgroundWarp

# A still camera, no sensor noise, no blur (it smears objects past their masks): between frames
# only objects (and the warp) change pixels.
STILL = SyntheticVideoConfig(
    height=96, width=96, num_frames=5, prob_camera_motion=0.0, prob_noise=0.0, prob_blur=0.0
)


def test_warp_off_leaves_every_video_byte_identical():
    for seed in (0, 4):
        off = generate_video(
            seed, dataclasses.replace(SyntheticVideoConfig(), prob_background_warp=0)
        )
        np.testing.assert_array_equal(off.frames, generate_video(seed).frames)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_warp_moves_the_background_and_keeps_the_ground_truth(seed):
    still = generate_video(seed, STILL)
    warped = generate_video(seed, dataclasses.replace(STILL, prob_background_warp=1.0))
    np.testing.assert_array_equal(still.masks, warped.masks)
    np.testing.assert_array_equal(still.boxes_xyxy, warped.boxes_xyxy)
    background = ~still.masks.any(axis=1)  # (T, H, W) pixels of no object
    step = np.abs(np.diff(warped.frames.astype(np.int16), axis=0)).max(-1)  # (T-1, H, W)
    still_step = np.abs(np.diff(still.frames.astype(np.int16), axis=0)).max(-1)
    both = background[1:] & background[:-1]
    assert still_step[both].max() == 0  # a static camera: nothing but objects changes
    assert (step[both] > 10).sum() > 20  # the warp leaves residual edges in the background
    for t in range(len(still.frames)):  # objects are pasted after the warp, pixel-exact
        visible = still.masks[t].any(axis=0)
        np.testing.assert_array_equal(still.frames[t][visible], warped.frames[t][visible])


def test_warped_video_is_reproducible():
    cfg = dataclasses.replace(STILL, prob_background_warp=1.0)
    np.testing.assert_array_equal(generate_video(9, cfg).frames, generate_video(9, cfg).frames)


@pytest.mark.parametrize("max_px", [0.5, 2.0, 4.0])
def test_displacement_between_frames_is_bounded_by_max_px(max_px):
    rng = np.random.default_rng(3)
    for _ in range(20):
        warp = BackgroundWarp.draw(rng, (64, 80), max_px)
        fields = np.stack([warp.displacement(t, (64, 80)) for t in range(6)])  # (T, H, W, 2)
        assert fields.shape == (6, 64, 80, 2) and fields.dtype == np.float32
        step = np.linalg.norm(np.diff(fields, axis=0), axis=-1)  # (T-1, H, W)
        # the field's two grids are each clipped to max_px; the zoom adds <= max_px at a corner
        assert step.max() <= 4.0 * max_px


def test_apply_keeps_shape_and_a_zero_warp_is_the_identity():
    frame = np.random.default_rng(0).uniform(0, 255, size=(20, 30, 3)).astype(np.float32)
    warp = BackgroundWarp(0.0, (10.0, 10.0), np.zeros((2, 3, 3, 2), np.float32), 1.0, 0.0)
    np.testing.assert_allclose(warp.apply(frame, 3), frame, atol=1e-4)


@pytest.mark.parametrize("max_px", [0.0, -1.0, float("nan")])
def test_bad_max_px_raises(max_px):
    with pytest.raises(ValueError, match="max_px"):
        BackgroundWarp.draw(np.random.default_rng(0), (32, 32), max_px)
