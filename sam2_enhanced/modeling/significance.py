"""Significance signals and keyframe policies: which frames are worth remembering.

Every signal is a pure function ``fn(prev, cur) -> float`` with a score ``>= 0`` where higher
means a larger change between the previous and the current input. Three input kinds exist:

- ``"frame"``: RGB ``uint8`` frames, ``(H, W, 3)`` or grey ``(H, W)`` (numpy or torch, CPU);
- ``"mask"``: boolean masks of any equal shape, e.g. ``(H, W)``;
- ``"feature"``: floating feature tensors of equal shape, e.g. ``(C, h, w)``.

:data:`SIGNALS` maps each name to a :class:`Signal` so a caller knows what to pass.

A keyframe policy decides whether a candidate memory (one that leaves the recent-frame FIFO)
enters the keyframe buffer, given the scores of the keyframes already kept, and which keyframe
it pushes out. Policies are small dataclasses; stateful ones (``AdaptiveThresholdPolicy``) keep
their history in the instance, and :meth:`KeyframePolicy.fresh` gives an empty copy per object.
"""

from __future__ import annotations

import abc
import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import cv2
import numpy as np
import torch

InputKind = Literal["frame", "mask", "feature"]

# SSIM constants of Wang et al. (2004) for 8-bit images: C1 = (0.01 L)^2, C2 = (0.03 L)^2.
_SSIM_C1 = (0.01 * 255) ** 2
_SSIM_C2 = (0.03 * 255) ** 2


def _to_numpy(name: str, value: Any) -> np.ndarray:
    """Return ``value`` as a numpy array; accepts numpy arrays and torch tensors."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        return value
    raise TypeError(f"{name} must be a numpy array or torch tensor, got {type(value).__name__}")


def _check_frames(prev: Any, cur: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validate two frames: equal shape, ``uint8``, ``(H, W)`` or ``(H, W, 3)``."""
    prev_np, cur_np = _to_numpy("prev", prev), _to_numpy("cur", cur)
    for name, frame in (("prev", prev_np), ("cur", cur_np)):
        if frame.dtype != np.uint8:
            raise TypeError(
                f"{name} frame must be uint8 in [0, 255], got dtype {frame.dtype}; "
                "convert with (frame * 255).round().astype(np.uint8)"
            )
        if not (frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] == 3)):
            raise ValueError(f"{name} frame must be (H, W) or (H, W, 3), got shape {frame.shape}")
        if frame.shape[0] < 1 or frame.shape[1] < 1:
            raise ValueError(f"{name} frame must not be empty, got shape {frame.shape}")
    if prev_np.shape != cur_np.shape:
        raise ValueError(
            f"prev and cur frames must have the same shape, got {prev_np.shape} and {cur_np.shape}"
        )
    return np.ascontiguousarray(prev_np), np.ascontiguousarray(cur_np)


def _grey(frame: np.ndarray) -> np.ndarray:
    """RGB ``(H, W, 3)`` or grey ``(H, W)`` uint8 -> grey ``(H, W)`` uint8."""
    return frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)


def frame_difference(prev: Any, cur: Any) -> float:
    """Mean absolute pixel difference of two uint8 frames, scaled to ``[0, 1]``."""
    prev_np, cur_np = _check_frames(prev, cur)
    diff = cv2.absdiff(prev_np, cur_np)
    return float(diff.mean() / 255.0)


def histogram_distance(prev: Any, cur: Any, num_bins: int = 16) -> float:
    """Bhattacharyya distance in ``[0, 1]`` of colour histograms (``num_bins`` per channel)."""
    prev_np, cur_np = _check_frames(prev, cur)
    channels = [0] if prev_np.ndim == 2 else [0, 1, 2]
    hists = []
    for frame in (prev_np, cur_np):
        hist = cv2.calcHist(
            [frame], channels, None, [num_bins] * len(channels), [0, 256] * len(channels)
        )
        hists.append(hist)
    distance = cv2.compareHist(hists[0], hists[1], cv2.HISTCMP_BHATTACHARYYA)
    return float(min(max(distance, 0.0), 1.0))


def ssim_distance(prev: Any, cur: Any) -> float:
    """``1 - SSIM`` of the grey frames (Gaussian window 11 px, sigma 1.5), in ``[0, 2]``.

    SSIM follows Wang et al. (2004) with the standard constants ``K1 = 0.01``, ``K2 = 0.03``;
    local statistics use a Gaussian window with reflected borders and the map is averaged.
    """
    prev_np, cur_np = _check_frames(prev, cur)
    x = _grey(prev_np).astype(np.float64)
    y = _grey(cur_np).astype(np.float64)

    def blur(img: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(img, (11, 11), 1.5)

    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x * mu_x
    var_y = blur(y * y) - mu_y * mu_y
    cov_xy = blur(x * y) - mu_x * mu_y
    numerator = (2 * mu_x * mu_y + _SSIM_C1) * (2 * cov_xy + _SSIM_C2)
    denominator = (mu_x**2 + mu_y**2 + _SSIM_C1) * (var_x + var_y + _SSIM_C2)
    ssim = float((numerator / denominator).mean())
    return min(max(1.0 - ssim, 0.0), 2.0)


def edge_change_ratio(
    prev: Any, cur: Any, canny_low: int = 100, canny_high: int = 200, dilate_px: int = 2
) -> float:
    """Edge change ratio of Zabih et al. (1995), in ``[0, 1]``.

    Canny edges of both grey frames; an edge pixel of ``cur`` farther than ``dilate_px`` from
    every edge of ``prev`` is *entering*, and an edge pixel of ``prev`` far from every edge of
    ``cur`` is *exiting*. The ratio is ``max(entering / edges_cur, exiting / edges_prev)`` with
    ``0 / 0 = 0`` (a frame without edges contributes no change of its own).
    """
    prev_np, cur_np = _check_frames(prev, cur)
    edges_prev = cv2.Canny(_grey(prev_np), canny_low, canny_high) > 0
    edges_cur = cv2.Canny(_grey(cur_np), canny_low, canny_high) > 0
    kernel = np.ones((2 * dilate_px + 1, 2 * dilate_px + 1), np.uint8)
    near_prev = cv2.dilate(edges_prev.astype(np.uint8), kernel) > 0
    near_cur = cv2.dilate(edges_cur.astype(np.uint8), kernel) > 0
    num_prev, num_cur = int(edges_prev.sum()), int(edges_cur.sum())
    entering = int((edges_cur & ~near_prev).sum()) / num_cur if num_cur else 0.0
    exiting = int((edges_prev & ~near_cur).sum()) / num_prev if num_prev else 0.0
    return float(max(entering, exiting))


def optical_flow_magnitude(prev: Any, cur: Any) -> float:
    """Mean Farneback optical-flow magnitude (pixels) divided by the frame diagonal."""
    prev_np, cur_np = _check_frames(prev, cur)
    flow = cv2.calcOpticalFlowFarneback(
        _grey(prev_np), _grey(cur_np), None, 0.5, 3, 15, 3, 5, 1.2, 0
    )  # (H, W, 2) displacement in pixels
    magnitude = np.linalg.norm(flow, axis=2)  # (H, W)
    height, width = prev_np.shape[:2]
    return float(magnitude.mean() / math.hypot(height, width))


def mask_iou_change(prev_mask: Any, cur_mask: Any) -> float:
    """``1 - IoU`` of two boolean masks of equal shape, in ``[0, 1]``; two empty masks give 0."""
    prev_np, cur_np = _to_numpy("prev_mask", prev_mask), _to_numpy("cur_mask", cur_mask)
    for name, mask in (("prev_mask", prev_np), ("cur_mask", cur_np)):
        if mask.dtype != np.bool_:
            raise TypeError(
                f"{name} must be a boolean mask, got dtype {mask.dtype}; threshold logits first "
                "(mask_logits > 0)"
            )
    if prev_np.shape != cur_np.shape:
        raise ValueError(
            f"prev_mask and cur_mask must have the same shape, got {prev_np.shape} and "
            f"{cur_np.shape}"
        )
    union = int(np.logical_or(prev_np, cur_np).sum())
    if union == 0:
        return 0.0
    intersection = int(np.logical_and(prev_np, cur_np).sum())
    return 1.0 - intersection / union


def feature_change(prev_feat: Any, cur_feat: Any) -> float:
    """``1 - cosine similarity`` of two flattened feature tensors, in ``[0, 2]``.

    Two all-zero tensors are identical (0); one all-zero tensor against a non-zero one gives 1.
    """
    tensors = []
    for name, feat in (("prev_feat", prev_feat), ("cur_feat", cur_feat)):
        if isinstance(feat, np.ndarray):
            feat = torch.from_numpy(feat)
        if not isinstance(feat, torch.Tensor):
            raise TypeError(f"{name} must be a torch tensor, got {type(feat).__name__}")
        if not feat.is_floating_point():
            raise TypeError(f"{name} must be a floating tensor, got dtype {feat.dtype}")
        tensors.append(feat.detach().flatten().double())  # (N,)
    prev_vec, cur_vec = tensors
    if prev_feat.shape != cur_feat.shape:
        raise ValueError(
            f"prev_feat and cur_feat must have the same shape, got {tuple(prev_feat.shape)} and "
            f"{tuple(cur_feat.shape)}"
        )
    prev_norm, cur_norm = prev_vec.norm(), cur_vec.norm()
    if prev_norm == 0 and cur_norm == 0:
        return 0.0
    if prev_norm == 0 or cur_norm == 0:
        return 1.0
    cosine = float(prev_vec.to(cur_vec.device).dot(cur_vec) / (prev_norm * cur_norm))
    return min(max(1.0 - cosine, 0.0), 2.0)


@dataclass(frozen=True)
class Signal:
    """A significance signal and the kind of input it scores."""

    fn: Callable[[Any, Any], float]  # fn(prev, cur) -> score >= 0
    input_kind: InputKind  # what to pass: "frame", "mask" or "feature"


SIGNALS: dict[str, Signal] = {
    "frame_difference": Signal(frame_difference, "frame"),
    "histogram_distance": Signal(histogram_distance, "frame"),
    "ssim_distance": Signal(ssim_distance, "frame"),
    "edge_change_ratio": Signal(edge_change_ratio, "frame"),
    "optical_flow_magnitude": Signal(optical_flow_magnitude, "frame"),
    "mask_iou_change": Signal(mask_iou_change, "mask"),
    "feature_change": Signal(feature_change, "feature"),
}


def get_signal(name: str) -> Signal:
    """Look up a signal of :data:`SIGNALS` by name."""
    if name not in SIGNALS:
        raise ValueError(f"unknown significance signal {name!r}; valid names: {sorted(SIGNALS)}")
    return SIGNALS[name]


@dataclass(frozen=True)
class KeyframeDecision:
    """What a policy decided for one keyframe candidate."""

    admit: bool  # the candidate enters the keyframe buffer
    evict_index: int | None = None  # position in kept_scores of the keyframe it replaces


def _check_decide_args(score: float, kept_scores: Sequence[float], capacity: int) -> None:
    if not math.isfinite(score) or score < 0:
        raise ValueError(f"keyframe score must be a finite float >= 0, got {score}")
    if capacity < 1:
        raise ValueError(f"keyframe capacity must be >= 1, got {capacity}")
    if len(kept_scores) > capacity:
        raise ValueError(
            f"{len(kept_scores)} kept keyframes exceed the capacity {capacity}; evict first"
        )


class KeyframePolicy(abc.ABC):
    """Decides whether a candidate enters a keyframe buffer of bounded ``capacity``."""

    def decide(self, score: float, kept_scores: Sequence[float], capacity: int) -> KeyframeDecision:
        """Judge a candidate of significance ``score``.

        Args:
            score: significance of the candidate (>= 0).
            kept_scores: significance of the kept keyframes, oldest first.
            capacity: the most keyframes the buffer may hold (>= 1).

        Returns:
            ``admit`` and, when the buffer is full and the candidate is admitted, the position in
            ``kept_scores`` of the keyframe to evict.
        """
        _check_decide_args(score, kept_scores, capacity)
        return self._decide(float(score), list(kept_scores), capacity)

    @abc.abstractmethod
    def _decide(self, score: float, kept_scores: list[float], capacity: int) -> KeyframeDecision:
        """:meth:`decide` after validation."""

    def fresh(self) -> KeyframePolicy:
        """A copy with the same parameters and no history (one per tracked object).

        History fields are dataclass fields with ``init=False``; a policy that is not a
        dataclass overrides this method.
        """
        if not dataclasses.is_dataclass(self):
            raise NotImplementedError(f"{type(self).__name__} is not a dataclass; override fresh()")
        return dataclasses.replace(self)


def _admit_evicting_oldest(kept_scores: list[float], capacity: int) -> KeyframeDecision:
    return KeyframeDecision(True, 0 if len(kept_scores) >= capacity else None)


@dataclass
class FixedThresholdPolicy(KeyframePolicy):
    """Keyframe when ``score > threshold``; a full buffer drops its oldest keyframe."""

    threshold: float  # minimum significance (exclusive)

    def __post_init__(self) -> None:
        if not math.isfinite(self.threshold) or self.threshold < 0:
            raise ValueError(f"threshold must be a finite float >= 0, got {self.threshold}")

    def _decide(self, score: float, kept_scores: list[float], capacity: int) -> KeyframeDecision:
        if score <= self.threshold:
            return KeyframeDecision(False)
        return _admit_evicting_oldest(kept_scores, capacity)


@dataclass
class AdaptiveThresholdPolicy(KeyframePolicy):
    """Keyframe when ``score > mean + num_std * std`` of the scores seen before it.

    Every judged score updates a running mean and (population) standard deviation (Welford).
    The first ``warmup`` candidates only feed the statistics and are never admitted. A full
    buffer drops its oldest keyframe.
    """

    num_std: float  # standard deviations above the running mean
    warmup: int = 5  # candidates seen before any is admitted
    num_seen: int = field(default=0, init=False)  # scores seen so far
    mean: float = field(default=0.0, init=False)  # running mean of the scores seen
    sum_sq_dev: float = field(default=0.0, init=False)  # running sum of squared deviations

    def __post_init__(self) -> None:
        if not math.isfinite(self.num_std):
            raise ValueError(f"num_std must be finite, got {self.num_std}")
        if self.warmup < 1:
            raise ValueError(f"warmup must be >= 1 (the mean needs a score), got {self.warmup}")

    @property
    def std(self) -> float:
        """Population standard deviation of the scores seen (0 before any)."""
        return math.sqrt(self.sum_sq_dev / self.num_seen) if self.num_seen else 0.0

    def _decide(self, score: float, kept_scores: list[float], capacity: int) -> KeyframeDecision:
        admit = self.num_seen >= self.warmup and score > self.mean + self.num_std * self.std
        self.num_seen += 1
        delta = score - self.mean
        self.mean += delta / self.num_seen
        self.sum_sq_dev += delta * (score - self.mean)
        if not admit:
            return KeyframeDecision(False)
        return _admit_evicting_oldest(kept_scores, capacity)


@dataclass
class TopKPolicy(KeyframePolicy):
    """Rolling buffer of the most significant candidates.

    A candidate is admitted while the buffer has room, or when its score beats the weakest kept
    keyframe (strictly), which it then evicts; the buffer size is the bank's ``capacity``.
    """

    def _decide(self, score: float, kept_scores: list[float], capacity: int) -> KeyframeDecision:
        if len(kept_scores) < capacity:
            return KeyframeDecision(True)
        weakest = int(np.argmin(kept_scores))
        if score > kept_scores[weakest]:
            return KeyframeDecision(True, weakest)
        return KeyframeDecision(False)


KEYFRAME_POLICIES = ("fixed", "adaptive", "topk")


def build_keyframe_policy(name: str, threshold: float) -> KeyframePolicy:
    """Build a policy by config name.

    Args:
        name: ``"fixed"``, ``"adaptive"`` or ``"topk"``.
        threshold: the fixed policy's threshold, the adaptive policy's ``num_std``; unused by
            ``"topk"``.
    """
    if name == "fixed":
        return FixedThresholdPolicy(threshold=threshold)
    if name == "adaptive":
        return AdaptiveThresholdPolicy(num_std=threshold)
    if name == "topk":
        return TopKPolicy()
    raise ValueError(f"unknown keyframe policy {name!r}; valid names: {list(KEYFRAME_POLICIES)}")
