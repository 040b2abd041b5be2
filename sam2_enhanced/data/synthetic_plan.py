"""Per-object plans of a synthetic video: class, look, path, size and appearance per frame.

Each target slot gets its own child seed (split again for its distractor), and each aspect of an
object (layout, motion, scale, appearance, occlusion, distractor) its own generator, so switching
one effect off in the config leaves everything else about the video unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sam2_enhanced.data.synthetic_config import SyntheticVideoConfig
from sam2_enhanced.data.synthetic_motion import (
    MOTION_TYPES,
    appearance_schedule,
    exit_reenter_trajectory,
    fold_into_range,
    object_trajectory,
    scale_schedule,
)
from sam2_enhanced.data.synthetic_render import (
    NUM_CLASSES,
    SpriteStyle,
    random_style,
    similar_style,
)

EXIT_MOTION = "exit_reenter"
"""Motion label of objects that leave the frame and come back."""

_ASPECTS = ("layout", "motion", "scale", "appearance", "occlusion", "distractor")


@dataclass
class ObjectPlan:
    """Everything needed to draw one object in every frame."""

    style: SpriteStyle  # class and colours
    motion: str  # an entry of MOTION_TYPES, or EXIT_MOTION
    centers_xy: np.ndarray  # (T, 2) float64 world xy of the sprite centre
    sizes: np.ndarray  # (T,) int64 longer side in pixels, within the configured range
    angles: np.ndarray  # (T,) float64 rotation in radians
    flaps: np.ndarray  # (T,) float64 wing opening in [0, 1]
    brightness: np.ndarray  # (T,) float64 colour factor
    is_distractor: bool  # a look-alike of another object, annotated as its own track
    occluded_frame: int | None  # frame at whose position an occluder is placed, or None


def _aspect_generators(seed_sequence: np.random.SeedSequence) -> dict[str, np.random.Generator]:
    children = seed_sequence.spawn(len(_ASPECTS))
    return {
        name: np.random.default_rng(child) for name, child in zip(_ASPECTS, children, strict=True)
    }


def _local_background(background: np.ndarray, canvas_xy: np.ndarray, radius: int) -> np.ndarray:
    """(3,) mean background colour in a square of ``radius`` around a canvas position."""
    x, y = np.round(canvas_xy).astype(np.int64)
    height, width = background.shape[:2]
    rows = slice(max(0, y - radius), min(height, y + radius + 1))
    cols = slice(max(0, x - radius), min(width, x + radius + 1))
    patch = background[rows, cols]  # (h, w, 3)
    return patch.reshape(-1, 3).mean(axis=0)  # (3,)


def _start_position(
    rng: np.random.Generator, cfg: SyntheticVideoConfig, half: float, taken: list[tuple]
) -> np.ndarray:
    """(2,) xy start inside the first frame, avoiding objects already placed (10 tries)."""
    low = np.array([half, half])
    high = np.array([cfg.width - half, cfg.height - half])
    candidate = rng.uniform(low, high)
    for _ in range(10):
        if all(np.linalg.norm(candidate - xy) > half + other for xy, other in taken):
            break
        candidate = rng.uniform(low, high)
    return candidate


def _plan_one(
    rngs: dict[str, np.random.Generator],
    cfg: SyntheticVideoConfig,
    style: SpriteStyle,
    base_size: float,
    start_xy: np.ndarray,
    is_distractor: bool,
) -> ObjectPlan:
    """Motion, size and appearance schedules of one object starting at ``start_xy``."""
    num_frames = cfg.num_frames
    factors = scale_schedule(
        rngs["scale"], num_frames, rngs["scale"].random() < cfg.prob_scale_change
    )
    sizes = np.clip(np.round(base_size * factors), cfg.min_object_size, cfg.max_object_size)
    half = sizes.max() / 2.0
    motion_rng = rngs["motion"]
    leaves = motion_rng.random() < cfg.prob_exit
    weights = np.asarray(cfg.motion_weights) / sum(cfg.motion_weights)
    motion = MOTION_TYPES[motion_rng.choice(len(MOTION_TYPES), p=weights)]
    if leaves:
        frame_hw = (cfg.height, cfg.width)
        centers = exit_reenter_trajectory(motion_rng, start_xy, num_frames, frame_hw, sizes.max())
        motion = EXIT_MOTION
    else:
        path = object_trajectory(
            motion_rng, motion, start_xy, num_frames, min(cfg.height, cfg.width)
        )
        low = np.array([half, half])
        centers = fold_into_range(path, low, np.array([cfg.width - half, cfg.height - half]))
    appearance_on = rngs["appearance"].random() < cfg.prob_appearance_change
    angles, flaps, brightness = appearance_schedule(rngs["appearance"], num_frames, appearance_on)
    occluded = rngs["occlusion"].random() < cfg.prob_occlusion
    occluded_frame = int(rngs["occlusion"].integers(1, num_frames)) if num_frames > 1 else 0
    return ObjectPlan(
        style=style,
        motion=motion,
        centers_xy=centers,
        sizes=sizes.astype(np.int64),
        angles=angles,
        flaps=flaps,
        brightness=brightness,
        is_distractor=is_distractor,
        occluded_frame=occluded_frame if occluded else None,
    )


def _plan_distractor(
    rngs: dict[str, np.random.Generator],
    cfg: SyntheticVideoConfig,
    target: ObjectPlan,
    base_size: float,
) -> ObjectPlan:
    """A look-alike of ``target`` starting 1.5-3 sizes away from it, with its own motion.

    ``rngs`` are the distractor's own aspect generators (its slot's second child seed).
    """
    rng = rngs["layout"]
    size = float(
        np.clip(base_size * rng.uniform(0.8, 1.2), cfg.min_object_size, cfg.max_object_size)
    )
    heading = rng.uniform(0.0, 2.0 * np.pi)
    offset = rng.uniform(1.5, 3.0) * size * np.array([np.cos(heading), np.sin(heading)])
    half = size / 2.0
    start = np.clip(target.centers_xy[0] + offset, half, [cfg.width - half, cfg.height - half])
    return _plan_one(rngs, cfg, similar_style(rng, target.style), size, start, True)


def plan_objects(
    seed_sequence: np.random.SeedSequence,
    cfg: SyntheticVideoConfig,
    background: np.ndarray,
    margin: int,
) -> list[ObjectPlan]:
    """Plans of all objects of a video, targets and their distractors, in drawing order.

    Args:
        seed_sequence: the video's object seed; child ``i`` belongs to target slot ``i``.
        cfg: generator configuration.
        background: (H + 2 margin, W + 2 margin, 3) uint8 world canvas (for colour contrast).
        margin: canvas pixels on each side of the first frame's view.

    Returns:
        Plans in drawing order (later ones are drawn on top); distractors follow their target.
    """
    count_seed, *slot_seeds = seed_sequence.spawn(cfg.max_objects + 1)
    num_targets = int(
        np.random.default_rng(count_seed).integers(cfg.min_objects, cfg.max_objects + 1)
    )
    plans: list[ObjectPlan] = []
    taken: list[tuple] = []
    log_low, log_high = np.log(cfg.min_object_size), np.log(cfg.max_object_size)
    for slot_seed in slot_seeds[:num_targets]:
        target_seed, distractor_seed = slot_seed.spawn(2)
        rngs = _aspect_generators(target_seed)
        layout = rngs["layout"]
        class_id = int(layout.integers(NUM_CLASSES))
        base_size = float(np.exp(layout.uniform(log_low, log_high)))
        start = _start_position(layout, cfg, base_size / 2.0, taken)
        taken.append((start, base_size / 2.0))
        local = _local_background(background, start + margin, radius=max(2, int(base_size)))
        target = _plan_one(
            rngs, cfg, random_style(layout, class_id, local), base_size, start, False
        )
        plans.append(target)
        if rngs["distractor"].random() < cfg.prob_distractor:
            distractor_rngs = _aspect_generators(distractor_seed)
            plans.append(_plan_distractor(distractor_rngs, cfg, target, base_size))
    return plans
