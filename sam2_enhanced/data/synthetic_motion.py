"""Trajectories, camera paths and per-frame scale / appearance schedules for synthetic videos.

Everything here is a pure function of a ``numpy.random.Generator`` and plain numbers, vectorised
over frames. Positions are in *world* pixels: the frame shown at time ``t`` is the world window
whose top-left corner is the camera offset ``camera_xy[t]`` (``camera_xy[0] == (0, 0)``), so an
object at world position ``p`` appears at screen position ``p - camera_xy[t]``.
"""

from __future__ import annotations

import numpy as np

MOTION_TYPES = ("static", "linear", "curved", "erratic", "fast")
"""Motion kinds, in the order of ``SyntheticVideoConfig.motion_weights``."""

_AXIS_DIRECTIONS = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0], [0.0, -1.0]])  # (4, 2) xy


def fold_into_range(values: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Reflect ``values`` at ``low`` / ``high`` like a ball bouncing between two walls.

    Args:
        values: (..., D) coordinates.
        low, high: (D,) bounds with ``low <= high``; a zero-width range pins the value to ``low``.

    Returns:
        (..., D) coordinates inside ``[low, high]``; a straight path stays piecewise straight.
    """
    span = np.maximum(high - low, 1e-9)
    period = 2.0 * span
    phase = np.mod(values - low, period)
    return low + np.where(phase > span, period - phase, phase)


def object_trajectory(
    rng: np.random.Generator,
    motion: str,
    start_xy: np.ndarray,
    num_frames: int,
    frame_size: int,
) -> np.ndarray:
    """Unbounded centre path of one object for a motion kind of :data:`MOTION_TYPES`.

    Speeds scale with ``frame_size`` (the shorter frame side) so a 224 px video looks like a
    128 px one. ``linear``: constant velocity; ``curved``: constant speed with a constant turn
    rate; ``erratic``: damped random-walk velocity; ``fast``: constant velocity of 6-15 % of the
    frame per frame; ``static``: no motion.

    Returns:
        (T, 2) float64 world xy centres with ``path[0] == start_xy``.
    """
    if motion not in MOTION_TYPES:
        raise ValueError(f"motion must be one of {MOTION_TYPES}, got {motion!r}")
    heading = rng.uniform(0.0, 2.0 * np.pi)
    steps = np.arange(num_frames - 1, dtype=np.float64)  # (T-1,)
    if motion == "static":
        velocities = np.zeros((num_frames - 1, 2))
    elif motion in ("linear", "fast"):
        low, high = (0.005, 0.025) if motion == "linear" else (0.06, 0.15)
        speed = frame_size * rng.uniform(low, high)
        velocities = np.tile(speed * np.array([np.cos(heading), np.sin(heading)]), (len(steps), 1))
    elif motion == "curved":
        speed = frame_size * rng.uniform(0.01, 0.03)
        turn_rate = rng.choice([-1.0, 1.0]) * rng.uniform(0.1, 0.35)  # radians per frame
        angles = heading + turn_rate * steps  # (T-1,)
        velocities = speed * np.stack([np.cos(angles), np.sin(angles)], axis=1)  # (T-1, 2)
    else:  # erratic
        kicks = rng.normal(0.0, 0.02 * frame_size, size=(num_frames - 1, 2))
        velocities = np.empty_like(kicks)
        current = np.zeros(2)
        for step, kick in enumerate(kicks):  # T steps, not pixels: a tiny recurrence
            current = 0.6 * current + kick
            velocities[step] = current
    offsets = np.concatenate([np.zeros((1, 2)), np.cumsum(velocities, axis=0)])  # (T, 2)
    return start_xy[None, :] + offsets


def exit_reenter_trajectory(
    rng: np.random.Generator,
    start_xy: np.ndarray,
    num_frames: int,
    frame_hw: tuple[int, int],
    object_size: float,
) -> np.ndarray:
    """Centre path that leaves the frame through one side and comes back.

    The path swings along one axis, ``start + d * A * sin(2 pi t / P)`` with ``P`` between half
    and 0.9 of the video, far enough past the border (``object_size`` plus 10-25 % of the frame)
    that the whole object is out of view around ``t = P / 4`` and back in view around
    ``t = P / 2``. Needs about 8 frames or more for the exit to fall on a frame.

    Returns:
        (T, 2) float64 world xy centres with ``path[0] == start_xy``.
    """
    height, width = frame_hw
    direction = _AXIS_DIRECTIONS[rng.integers(len(_AXIS_DIRECTIONS))]  # (2,)
    limits = np.array([width, height], dtype=np.float64)
    axis = int(np.argmax(np.abs(direction)))
    to_border = limits[axis] - start_xy[axis] if direction[axis] > 0 else start_xy[axis]
    amplitude = to_border + object_size + min(height, width) * rng.uniform(0.1, 0.25)
    period = num_frames * rng.uniform(0.5, 0.9)
    times = np.arange(num_frames, dtype=np.float64)  # (T,)
    swing = amplitude * np.sin(2.0 * np.pi * times / period)  # (T,)
    return start_xy[None, :] + swing[:, None] * direction[None, :]


def camera_path(
    rng: np.random.Generator, num_frames: int, max_speed: float, jitter: float
) -> np.ndarray:
    """Camera offsets: a constant pan of at most ``max_speed`` px/frame plus Gaussian shake.

    Returns:
        (T, 2) int64 xy offsets of the view in world pixels, ``path[0] == (0, 0)``. Integer
        offsets keep background, occluders and objects shifting by exactly the same amount.
    """
    heading = rng.uniform(0.0, 2.0 * np.pi)
    speed = rng.uniform(0.3, 1.0) * max_speed
    times = np.arange(num_frames, dtype=np.float64)[:, None]  # (T, 1)
    pan = speed * times * np.array([[np.cos(heading), np.sin(heading)]])  # (T, 2)
    shake = rng.normal(0.0, jitter, size=(num_frames, 2))  # (T, 2)
    offsets = np.round(pan + shake - shake[:1]).astype(np.int64)
    offsets[0] = 0
    return offsets


def scale_schedule(rng: np.random.Generator, num_frames: int, enabled: bool) -> np.ndarray:
    """Multiplicative size factor per frame: a slow drift plus an oscillation (ones if off).

    Returns:
        (T,) float64 factors, ``factors[0]`` need not be 1.
    """
    if not enabled:
        return np.ones(num_frames)
    times = np.arange(num_frames, dtype=np.float64) / max(num_frames - 1, 1)  # (T,) in [0, 1]
    amplitude = rng.uniform(0.15, 0.4)
    drift = rng.uniform(-0.5, 0.5)
    cycles = rng.uniform(0.5, 2.0)
    phase = rng.uniform(0.0, 2.0 * np.pi)
    return np.exp(amplitude * np.sin(2.0 * np.pi * cycles * times + phase) + drift * times)


def appearance_schedule(
    rng: np.random.Generator, num_frames: int, enabled: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-frame rotation, wing flap and brightness of one object.

    When ``enabled`` is false the object keeps a random fixed orientation, a mid flap and unit
    brightness.

    Returns:
        angles: (T,) float64 radians.
        flaps: (T,) float64 in [0, 1] (bird wing opening; ignored by other classes).
        brightness: (T,) float64 multiplicative factor around 1.
    """
    times = np.arange(num_frames, dtype=np.float64)  # (T,)
    start_angle = rng.uniform(0.0, 2.0 * np.pi)
    spin = rng.uniform(-0.15, 0.15) if enabled else 0.0
    angles = start_angle + spin * times
    if not enabled:
        return angles, np.full(num_frames, 0.5), np.ones(num_frames)
    flap_period = rng.uniform(3.0, 8.0)
    flaps = 0.5 + 0.5 * np.sin(2.0 * np.pi * times / flap_period + rng.uniform(0.0, 2.0 * np.pi))
    brightness_period = rng.uniform(6.0, 20.0)
    brightness = 1.0 + rng.uniform(0.1, 0.3) * np.sin(2.0 * np.pi * times / brightness_period)
    return angles, flaps, brightness
