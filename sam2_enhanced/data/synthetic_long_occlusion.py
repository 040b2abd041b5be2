"""Long occlusions for synthetic videos: an object hovers behind a covering occluder for a while.

With ``SyntheticVideoConfig.long_occlusion_frames = L > 0`` every object planned to be occluded
(``prob_occlusion``) stops at a random frame ``s`` for ``L`` frames (its position, size and look
held, as a drone hovering behind a cloud) and then goes on along its planned path, ``L``
frames late. A round occluder over the held position covers the whole object for exactly those
frames (it is there only then, so a static object comes back into view), and its
``visibility`` is 0 there; camera motion moves the occluder and the object together. The start
frames and colours come from the generator's own ``long_occlusion`` random stream, so videos
with the option off are unchanged.
"""

from __future__ import annotations

import math
from dataclasses import replace

import cv2
import numpy as np

from sam2_enhanced.data.synthetic_plan import ObjectPlan


def held_frame_index(num_frames: int, start: int, length: int) -> np.ndarray:
    """(T,) int64 frame of the original plan shown at each frame: ``t`` before ``start``,
    ``start`` on the ``length`` frames from ``start``, then ``t - length + 1`` (the plan
    resumes where it stopped, ``length - 1`` frames late)."""
    times = np.arange(num_frames, dtype=np.int64)
    held = np.where(times < start + length, np.minimum(times, start), times - length + 1)
    return np.clip(held, 0, num_frames - 1)


def hold_plan(plan: ObjectPlan, start: int, length: int) -> ObjectPlan:
    """``plan`` holding still from frame ``start`` for ``length`` frames (see the module doc)."""
    index = held_frame_index(len(plan.sizes), start, length)
    return replace(
        plan,
        centers_xy=plan.centers_xy[index],
        sizes=plan.sizes[index],
        angles=plan.angles[index],
        flaps=plan.flaps[index],
        brightness=plan.brightness[index],
        occluded_frame=start,
    )


def plan_long_occlusions(
    rng: np.random.Generator, plans: list[ObjectPlan], length: int
) -> list[ObjectPlan]:
    """Hold every occluded plan (``occluded_frame`` set) for ``length`` frames from a random start
    in ``T // 5 .. T - length - 1`` (seen before and after the occlusion when the video allows;
    not at once, where the object has not moved away from its hiding place yet)."""
    held = []
    for plan in plans:
        num_frames = len(plan.sizes)
        if plan.occluded_frame is None or num_frames < 2:
            held.append(plan)
            continue
        first = max(1, num_frames // 5)
        start = int(rng.integers(first, max(first + 1, num_frames - length)))
        held.append(hold_plan(plan, start, length))
    return held


def draw_covers(
    rng: np.random.Generator,
    plans: list[ObjectPlan],
    length: int,
    camera_xy: np.ndarray,
    frames: np.ndarray,
    occluded: np.ndarray,
) -> None:
    """Draw a round occluder over each held plan's hiding place while it hides, in place.

    Args:
        rng: the ``long_occlusion`` stream (consumed: one colour per cover).
        plans: plans after :func:`plan_long_occlusions` (``occluded_frame`` is the hold start).
        length: frames each hold lasts.
        camera_xy: (T, 2) int64 camera offsets; the scene moves by -offset.
        frames: (T, H, W, 3) float32 rendered frames, painted over.
        occluded: (T, H, W) bool occluder pixels, extended.
    """
    num_frames, height, width = occluded.shape
    for plan in plans:
        if plan.occluded_frame is None:
            continue
        start = plan.occluded_frame
        radius = int(math.ceil(0.75 * plan.sizes[start])) + 2  # > half the sprite's diagonal
        colour = rng.uniform(10.0, 140.0, size=3).astype(np.float32)
        for t in range(start, min(start + length, num_frames)):
            x, y = np.round(plan.centers_xy[start] - camera_xy[t]).astype(np.int64)
            cover = np.zeros((height, width), dtype=np.uint8)
            cv2.circle(cover, (int(x), int(y)), radius, 1, thickness=-1)
            inside = cover > 0  # (H, W)
            frames[t][inside] = colour
            occluded[t] |= inside
