"""Configuration of the synthetic small-object video generator (:mod:`.synthetic`)."""

from __future__ import annotations

import numbers
from dataclasses import dataclass

from sam2_enhanced.data.synthetic_motion import MOTION_TYPES

_PROBABILITY_FIELDS = (
    "prob_scale_change",
    "prob_appearance_change",
    "prob_occlusion",
    "prob_exit",
    "prob_distractor",
    "prob_camera_motion",
    "prob_noise",
    "prob_blur",
    "prob_grey",
    "prob_thermal",
    "prob_background_warp",
)
_NON_NEGATIVE_FLOAT_FIELDS = (
    "camera_max_speed",
    "camera_jitter",
    "noise_max_std",
    "blur_max_sigma",
    "background_warp_px",
)


@dataclass
class SyntheticVideoConfig:
    """What a synthetic video contains; every effect can be switched off with its probability.

    Probabilities named ``prob_*`` are drawn per object (scale, appearance, occlusion, exit,
    distractor) or per video (camera, noise, blur, grey, thermal). A field with a bad value raises
    ``ValueError`` naming the field.
    """

    height: int = 128  # frame height in pixels (>= 16)
    width: int = 128  # frame width in pixels (>= 16)
    num_frames: int = 16  # frames per video (>= 1)
    min_objects: int = 1  # fewest target objects per video, before distractors (>= 1)
    max_objects: int = 3  # most target objects per video, before distractors
    min_object_size: int = 3  # smallest longer side of an object in pixels (>= 1)
    max_object_size: int = 40  # largest longer side in pixels, at most min(height, width) // 2
    motion_weights: tuple[float, ...] = (0.1, 0.35, 0.25, 0.15, 0.15)  # weights of MOTION_TYPES
    prob_scale_change: float = 0.5  # per object: size drifts and oscillates over time
    prob_appearance_change: float = 0.5  # per object: spins, flaps, brightness changes
    prob_occlusion: float = 0.3  # per object: an occluder is placed across its path
    long_occlusion_frames: int = 0  # > 0: each occluded object hides this many frames behind a
    # covering occluder, holding still, then goes on (0 = off: occluders on its path only)
    max_clutter_occluders: int = 2  # extra foreground occluders anywhere (0..this many, <= 64)
    prob_exit: float = 0.2  # per object: leaves the frame and comes back (overrides motion)
    prob_distractor: float = 0.3  # per object: a look-alike, annotated as its own track, nearby
    prob_camera_motion: float = 0.5  # per video: the camera pans and shakes
    camera_max_speed: float = 1.5  # largest camera pan in pixels per frame
    camera_jitter: float = 1.0  # std of the per-frame camera shake in pixels
    prob_background_warp: float = 0.0  # per video: the background (not the objects) deforms
    # between frames, as water, haze, parallax or a zoom do (synthetic_warp.py; 0 = off)
    background_warp_px: float = 2.0  # its scale in pixels: each displacement grid is clipped to
    # it, and its zoom moves a frame corner by at most about this much a frame
    prob_noise: float = 0.5  # per video: additive Gaussian sensor noise
    noise_max_std: float = 8.0  # largest noise std in grey levels (0..255)
    prob_blur: float = 0.3  # per video: Gaussian (defocus) or linear motion blur
    blur_max_sigma: float = 1.5  # largest blur sigma in pixels (motion blur: ~3x the length)
    prob_grey: float = 0.2  # per video: grey frames (three equal channels)
    prob_thermal: float = 0.0  # per video: thermal-infrared look (cold sky, warm blobs; grey)
    max_background_shapes: int = 12  # most blobs and lines drawn on the background

    def __post_init__(self) -> None:
        self.motion_weights = self._checked_motion_weights()
        self._check_ints()
        for name in _PROBABILITY_FIELDS:
            value = self._number(name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1], got {value}")
        for name in _NON_NEGATIVE_FLOAT_FIELDS:
            value = self._number(name)
            if value < 0.0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        if self.prob_background_warp > 0 and self.background_warp_px == 0:
            raise ValueError(
                "background_warp_px must be > 0 when prob_background_warp > 0, got 0; raise it or "
                "set prob_background_warp: 0"
            )

    def _number(self, name: str) -> float:
        value = getattr(self, name)
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ValueError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
        return float(value)

    def _check_ints(self) -> None:
        minimums = {
            "height": 16,
            "width": 16,
            "num_frames": 1,
            "min_objects": 1,
            "max_objects": self.min_objects,
            "min_object_size": 1,
            "max_object_size": self.min_object_size,
            "max_clutter_occluders": 0,
            "long_occlusion_frames": 0,
            "max_background_shapes": 0,
        }
        for name, minimum in minimums.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise ValueError(f"{name} must be an int, got {value!r} ({type(value).__name__})")
            if value < minimum:
                raise ValueError(f"{name} must be >= {minimum}, got {value}")
        largest = min(self.height, self.width) // 2
        if self.max_object_size > largest:
            raise ValueError(
                f"max_object_size must be at most min(height, width) // 2 = {largest}, got "
                f"{self.max_object_size}; lower it or use bigger frames"
            )
        if self.max_clutter_occluders > 64:
            raise ValueError(
                f"max_clutter_occluders must be <= 64, got {self.max_clutter_occluders}"
            )

    def _checked_motion_weights(self) -> tuple[float, ...]:
        weights = self.motion_weights
        if isinstance(weights, str) or not hasattr(weights, "__len__"):
            raise ValueError(f"motion_weights must be a sequence of numbers, got {weights!r}")
        if len(weights) != len(MOTION_TYPES):
            raise ValueError(
                f"motion_weights must have {len(MOTION_TYPES)} entries, one per motion "
                f"{MOTION_TYPES}, got {len(weights)}"
            )
        if any(isinstance(w, bool) or not isinstance(w, numbers.Real) or w < 0 for w in weights):
            raise ValueError(f"motion_weights must be numbers >= 0, got {tuple(weights)}")
        if sum(weights) <= 0:
            raise ValueError(f"motion_weights must not all be zero, got {tuple(weights)}")
        return tuple(float(w) for w in weights)

    @property
    def camera_margin(self) -> int:
        """Pixels the camera can move from its start on each side (pan plus 4 jitter stds)."""
        return int(round(self.camera_max_speed * (self.num_frames - 1) + 4.0 * self.camera_jitter))
