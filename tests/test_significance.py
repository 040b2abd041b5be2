"""Significance signals (hand-computed values, invariants, bad input) and keyframe policies."""

import math

import cv2
import numpy as np
import pytest
import torch

from sam2_enhanced.modeling.significance import (
    SIGNALS,
    AdaptiveThresholdPolicy,
    FixedThresholdPolicy,
    KeyframeDecision,
    TopKPolicy,
    build_keyframe_policy,
    edge_change_ratio,
    feature_change,
    frame_difference,
    get_signal,
    histogram_distance,
    mask_iou_change,
    optical_flow_magnitude,
    ssim_distance,
)

FRAME_SIGNALS = [name for name, signal in SIGNALS.items() if signal.input_kind == "frame"]


def textured_frame(seed: int = 0, size: int = 64, rgb: bool = True) -> np.ndarray:
    """Smooth random texture, uint8 (size, size, 3) or (size, size)."""
    rng = np.random.default_rng(seed)
    noise = rng.uniform(0, 255, (size, size, 3 if rgb else 1)).astype(np.float32)
    smooth = cv2.GaussianBlur(noise, (0, 0), 2.0)
    smooth = (smooth - smooth.min()) / (smooth.max() - smooth.min()) * 255
    return smooth.round().astype(np.uint8).reshape((size, size, 3) if rgb else (size, size))


def square_frame(x0: int, y0: int, side: int = 10, size: int = 64) -> np.ndarray:
    """Black grey frame (size, size) with one white square at (x0, y0)."""
    frame = np.zeros((size, size), np.uint8)
    frame[y0 : y0 + side, x0 : x0 + side] = 255
    return frame


def test_frame_difference_hand_values():
    black, white = np.zeros((4, 4, 3), np.uint8), np.full((4, 4, 3), 255, np.uint8)
    half = black.copy()
    half[:2] = 102  # half of the pixels differ by 102
    assert frame_difference(black, black) == 0.0
    assert frame_difference(black, white) == pytest.approx(1.0)
    assert frame_difference(black, half) == pytest.approx(51 / 255)
    assert frame_difference(torch.from_numpy(black), torch.from_numpy(half)) == pytest.approx(
        51 / 255
    )


def test_histogram_distance_hand_values():
    black, white = np.zeros((8, 8), np.uint8), np.full((8, 8), 255, np.uint8)
    half = black.copy()
    half[:4] = 255
    assert histogram_distance(black, black) == pytest.approx(0.0, abs=1e-6)
    assert histogram_distance(black, white) == pytest.approx(1.0)
    # p = [1, 0, ...], q = [0.5, ..., 0.5]: sqrt(1 - sum sqrt(p q)) = sqrt(1 - sqrt(0.5))
    assert histogram_distance(black, half) == pytest.approx(math.sqrt(1 - math.sqrt(0.5)), 1e-5)
    rgb = textured_frame(1)
    assert histogram_distance(rgb, rgb[:, :, ::-1].copy()) > 0.0


def test_ssim_distance_constant_frames_match_formula():
    a, b = 100.0, 150.0
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    expected = 1 - (2 * a * b + c1) / (a**2 + b**2 + c1)  # variances and covariance are 0
    prev, cur = np.full((16, 16), 100, np.uint8), np.full((16, 16), 150, np.uint8)
    assert ssim_distance(prev, cur) == pytest.approx(expected, abs=1e-6)
    assert c2 > 0  # the contrast term is (0 + C2) / (0 + C2) = 1


def test_ssim_distance_grows_with_noise():
    frame = textured_frame(2)
    rng = np.random.default_rng(0)
    scores = []
    for sigma in (0, 10, 40):
        noisy = np.clip(frame + rng.normal(0, sigma, frame.shape), 0, 255).astype(np.uint8)
        scores.append(ssim_distance(frame, noisy))
    assert scores[0] == pytest.approx(0.0, abs=1e-9)
    assert scores[0] < scores[1] < scores[2] <= 2.0


@pytest.mark.parametrize(
    ("prev", "cur", "expected"),
    [
        (square_frame(10, 10), square_frame(10, 10), 0.0),  # no change
        (square_frame(10, 10), square_frame(11, 11), 0.0),  # within the 2-px dilation
        (square_frame(5, 5), square_frame(40, 40), 1.0),  # every edge entered and exited
        (square_frame(10, 10), np.zeros((64, 64), np.uint8), 1.0),  # all edges exit
        (np.zeros((64, 64), np.uint8), np.zeros((64, 64), np.uint8), 0.0),  # no edges at all
    ],
)
def test_edge_change_ratio_hand_values(prev, cur, expected):
    assert edge_change_ratio(prev, cur) == pytest.approx(expected)


def test_edge_change_ratio_partial_change_between_0_and_1():
    prev = square_frame(5, 5)
    cur = prev | square_frame(40, 40)  # one square stays, one enters: half the edges are new
    assert edge_change_ratio(prev, cur) == pytest.approx(0.5, abs=0.05)


def test_optical_flow_magnitude_measures_a_shift():
    frame = textured_frame(3, size=64, rgb=False)
    shift = 2
    shifted = np.roll(frame, shift, axis=1)
    diagonal = math.hypot(64, 64)
    assert optical_flow_magnitude(frame, frame) == pytest.approx(0.0, abs=1e-4)
    score = optical_flow_magnitude(frame, shifted)
    assert score * diagonal == pytest.approx(shift, rel=0.1)
    assert optical_flow_magnitude(frame, np.roll(frame, 4, axis=1)) > score


@pytest.mark.parametrize("name", FRAME_SIGNALS)
@pytest.mark.parametrize("rgb", [True, False])
def test_frame_signals_zero_for_identical_and_bounded(name, rgb):
    fn = get_signal(name).fn
    prev, cur = textured_frame(4, rgb=rgb), textured_frame(5, rgb=rgb)
    assert fn(prev, prev) == pytest.approx(0.0, abs=1e-4)
    score = fn(prev, cur)
    upper = 2.0 if name == "ssim_distance" else 1.0
    assert isinstance(score, float)
    assert 0.0 < score <= upper


def test_mask_iou_change_hand_values():
    prev = np.zeros((4, 4), bool)
    cur = np.zeros((4, 4), bool)
    assert mask_iou_change(prev, cur) == 0.0  # two empty masks: no change
    prev[0, :4] = True
    cur[0, 2:] = True
    cur[1, 2:] = True  # intersection 2, union 6
    assert mask_iou_change(prev, cur) == pytest.approx(1 - 2 / 6)
    assert mask_iou_change(torch.from_numpy(prev), torch.from_numpy(prev)) == 0.0
    assert mask_iou_change(prev, np.zeros((4, 4), bool)) == 1.0


@pytest.mark.parametrize(
    ("prev", "cur", "expected"),
    [
        (torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.0]), 0.0),
        (torch.tensor([1.0, 2.0]), torch.tensor([3.0, 6.0]), 0.0),  # scale invariant
        (torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0]), 1.0),  # orthogonal
        (torch.tensor([1.0, 2.0]), torch.tensor([-1.0, -2.0]), 2.0),  # opposite
        (torch.zeros(3), torch.zeros(3), 0.0),
        (torch.zeros(3), torch.ones(3), 1.0),
        (torch.ones(2, 2, 2), torch.ones(2, 2, 2), 0.0),  # (C, h, w) flattened
    ],
)
def test_feature_change_hand_values(prev, cur, expected):
    assert feature_change(prev, cur) == pytest.approx(expected, abs=1e-9)


frame = np.zeros((8, 8, 3), np.uint8)


@pytest.mark.parametrize(
    ("fn", "prev", "cur", "error"),
    [
        (frame_difference, frame.astype(np.float32), frame, TypeError),  # not uint8
        (frame_difference, frame, frame[:4], ValueError),  # shape mismatch
        (histogram_distance, np.zeros((8, 8, 4), np.uint8), frame, ValueError),  # 4 channels
        (ssim_distance, np.zeros(8, np.uint8), np.zeros(8, np.uint8), ValueError),  # 1-D
        (edge_change_ratio, frame.tolist(), frame, TypeError),  # not an array
        (
            optical_flow_magnitude,
            np.zeros((0, 8), np.uint8),
            np.zeros((0, 8), np.uint8),
            ValueError,
        ),
        (mask_iou_change, np.zeros((4, 4), np.uint8), np.zeros((4, 4), bool), TypeError),
        (mask_iou_change, np.zeros((4, 4), bool), np.zeros((4, 5), bool), ValueError),
        (feature_change, torch.zeros(4, dtype=torch.long), torch.zeros(4), TypeError),
        (feature_change, torch.zeros(4), torch.zeros(5), ValueError),
        (feature_change, [0.0, 1.0], torch.zeros(2), TypeError),
    ],
)
def test_signals_reject_bad_input(fn, prev, cur, error):
    with pytest.raises(error):
        fn(prev, cur)


def test_registry_kinds_and_unknown_name():
    assert set(SIGNALS) == {
        "frame_difference",
        "histogram_distance",
        "ssim_distance",
        "edge_change_ratio",
        "optical_flow_magnitude",
        "mask_iou_change",
        "feature_change",
    }
    assert get_signal("mask_iou_change").input_kind == "mask"
    assert get_signal("feature_change").input_kind == "feature"
    with pytest.raises(ValueError, match="feature_change"):
        get_signal("nope")


@pytest.mark.parametrize(
    ("policy", "score", "kept", "expected"),
    [
        (FixedThresholdPolicy(0.5), 0.4, [], KeyframeDecision(False)),
        (FixedThresholdPolicy(0.5), 0.5, [], KeyframeDecision(False)),  # strictly above
        (FixedThresholdPolicy(0.5), 0.6, [0.9], KeyframeDecision(True, None)),
        (FixedThresholdPolicy(0.5), 0.6, [0.9, 0.7], KeyframeDecision(True, 0)),  # oldest out
        (TopKPolicy(), 0.1, [0.9], KeyframeDecision(True, None)),  # room left
        (TopKPolicy(), 0.1, [0.5, 0.3], KeyframeDecision(False)),
        (TopKPolicy(), 0.3, [0.5, 0.3], KeyframeDecision(False)),  # a tie does not beat
        (TopKPolicy(), 0.4, [0.5, 0.3], KeyframeDecision(True, 1)),  # weakest out
    ],
)
def test_stateless_policy_decisions(policy, score, kept, expected):
    assert policy.decide(score, kept, capacity=2) == expected


def test_adaptive_policy_warmup_and_running_statistics():
    policy = AdaptiveThresholdPolicy(num_std=1.0, warmup=3)
    for score in (0.2, 0.4, 0.6):  # warmup: statistics only
        assert policy.decide(score, [], capacity=2) == KeyframeDecision(False)
    assert policy.mean == pytest.approx(0.4)
    assert policy.std == pytest.approx(np.std([0.2, 0.4, 0.6]))
    threshold = 0.4 + np.std([0.2, 0.4, 0.6])
    assert policy.decide(threshold - 0.01, [], capacity=2) == KeyframeDecision(False)
    assert policy.decide(0.9, [0.1, 0.2], capacity=2) == KeyframeDecision(True, 0)
    seen = [0.2, 0.4, 0.6, threshold - 0.01, 0.9]
    assert policy.num_seen == 5
    assert policy.mean == pytest.approx(np.mean(seen))
    assert policy.std == pytest.approx(np.std(seen))


def test_fresh_copies_parameters_without_history():
    policy = AdaptiveThresholdPolicy(num_std=2.0, warmup=1)
    policy.decide(0.5, [], capacity=1)
    copy = policy.fresh()
    assert isinstance(copy, AdaptiveThresholdPolicy)
    assert (copy.num_std, copy.warmup, copy.num_seen, copy.mean) == (2.0, 1, 0, 0.0)
    assert policy.num_seen == 1


@pytest.mark.parametrize(
    ("name", "cls"),
    [("fixed", FixedThresholdPolicy), ("adaptive", AdaptiveThresholdPolicy), ("topk", TopKPolicy)],
)
def test_build_keyframe_policy(name, cls):
    assert type(build_keyframe_policy(name, 0.3)) is cls


@pytest.mark.parametrize(
    ("build", "error"),
    [
        (lambda: build_keyframe_policy("best", 0.1), ValueError),
        (lambda: FixedThresholdPolicy(-0.1), ValueError),
        (lambda: AdaptiveThresholdPolicy(1.0, warmup=0), ValueError),
        (lambda: TopKPolicy().decide(-1.0, [], 2), ValueError),
        (lambda: TopKPolicy().decide(float("nan"), [], 2), ValueError),
        (lambda: TopKPolicy().decide(0.5, [], 0), ValueError),
        (lambda: TopKPolicy().decide(0.5, [0.1, 0.2, 0.3], 2), ValueError),
    ],
)
def test_policies_reject_bad_input(build, error):
    with pytest.raises(error):
        build()
