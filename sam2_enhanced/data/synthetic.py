"""Deterministic synthetic videos of small objects with exact per-frame ground truth.

``generate_video(seed, cfg)`` draws a textured, cluttered background, 1..N objects of four
classes (:data:`CLASS_NAMES`: drone, bird, vehicle, balloon; 3-40 px by default) moving linearly,
on curves, erratically or fast, changing scale and appearance, leaving and re-entering the
frame, passing behind foreground occluders and next to look-alike distractors, under a panning
and shaking camera, with optional blur, sensor noise, grey frames and a thermal-infrared look
(:mod:`.synthetic_thermal`, off by default), long occlusions behind a covering occluder
(:mod:`.synthetic_long_occlusion`, off by default) and a background that deforms between frames
(:mod:`.synthetic_warp`, off by default). The same seed gives
byte-identical output; different seeds give different videos.

Ground-truth conventions (all per frame ``t`` and object ``o``):

- ``masks[t, o]`` are exactly the *visible* pixels of the object: its drawn pixels inside the
  frame minus those covered by objects drawn later (on top) and by foreground occluders. Visible
  masks of different objects never overlap.
- ``boxes_xyxy[t, o]`` is the tight box of the visible mask in pixel-edge coordinates: the mask's
  pixels span columns ``x0 .. x1 - 1`` and rows ``y0 .. y1 - 1``, so ``x1 - x0`` is its width in
  pixels. All zeros when nothing is visible.
- ``visibility[t, o]`` is visible pixels / all pixels of the drawn object (in or out of frame):
  1 when fully in view and unoccluded, 0 when out of frame or fully hidden.
- Distractors (look-alikes of a target: same class and texture, near-identical colour, starting
  close to it) are annotated as their own tracks and flagged by ``is_distractor``.
- Objects never visible in any frame are dropped, so every annotated object is visible at least
  once (which can rarely leave fewer objects than ``cfg.min_objects``).
- Blur and noise change pixel values, not the ground truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

from sam2_enhanced import box_ops
from sam2_enhanced.data.synthetic_config import SyntheticVideoConfig
from sam2_enhanced.data.synthetic_long_occlusion import draw_covers, plan_long_occlusions
from sam2_enhanced.data.synthetic_motion import MOTION_TYPES, camera_path
from sam2_enhanced.data.synthetic_plan import EXIT_MOTION, ObjectPlan, plan_objects
from sam2_enhanced.data.synthetic_render import CLASS_NAMES, NUM_CLASSES, render_sprite
from sam2_enhanced.data.synthetic_scene import render_background, render_occluders
from sam2_enhanced.data.synthetic_thermal import thermal_frames
from sam2_enhanced.data.synthetic_warp import BackgroundWarp

__all__ = [
    "CLASS_NAMES",
    "EXIT_MOTION",
    "MOTION_TYPES",
    "NUM_CLASSES",
    "SyntheticVideo",
    "SyntheticVideoConfig",
    "generate_video",
    "masks_to_boxes_xyxy",
]

# new streams go at the end: SeedSequence.spawn keeps the earlier ones (and old videos) as they were
_STREAMS = (
    "objects",
    "background",
    "camera",
    "occluders",
    "decisions",
    "blur",
    "noise",
    "thermal",
    "long_occlusion",
    "background_warp",
)


@dataclass
class SyntheticVideo:
    """One generated video and its ground truth (conventions in the module docstring)."""

    frames: np.ndarray  # (T, H, W, 3) uint8 RGB
    boxes_xyxy: np.ndarray  # (T, O, 4) float32 tight box of the visible mask, pixels
    masks: np.ndarray  # (T, O, H, W) bool visible pixels of each object
    visibility: np.ndarray  # (T, O) float32 visible fraction of the object in [0, 1]
    class_ids: np.ndarray  # (O,) int64 in 0..NUM_CLASSES-1
    track_ids: np.ndarray  # (O,) int64 1..O
    is_distractor: np.ndarray  # (O,) bool look-alike of another object
    motion_types: tuple[str, ...]  # (O,) entries of MOTION_TYPES or EXIT_MOTION
    camera_xy: np.ndarray  # (T, 2) int64 camera offset from frame 0; the scene moves by -offset
    is_grey: bool  # frames have three equal channels
    seed: int  # the seed that generated this video

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def num_objects(self) -> int:
        return int(self.class_ids.shape[0])

    @property
    def height(self) -> int:
        return int(self.frames.shape[1])

    @property
    def width(self) -> int:
        return int(self.frames.shape[2])

    def _check_object(self, obj_index: int) -> None:
        if not 0 <= obj_index < self.num_objects:
            raise ValueError(
                f"obj_index must be in 0..{self.num_objects - 1} (the video has "
                f"{self.num_objects} objects), got {obj_index}"
            )

    def visible_frames(self, obj_index: int) -> np.ndarray:
        """(K,) int64 indices of the frames where object ``obj_index`` is at least partly seen."""
        self._check_object(obj_index)
        return np.flatnonzero(self.visibility[:, obj_index] > 0)

    def first_visible_frame(self, obj_index: int) -> int:
        """Index of the first frame where object ``obj_index`` is visible (always exists)."""
        return int(self.visible_frames(obj_index)[0])


def masks_to_boxes_xyxy(masks: np.ndarray) -> np.ndarray:
    """Tight pixel-edge boxes of boolean masks (zeros for empty masks).

    Args:
        masks: (..., H, W) bool.

    Returns:
        (..., 4) float32 ``[x0, y0, x1, y1]`` with ``x1 - x0`` the mask width in pixels.
    """
    boxes = box_ops.masks_to_boxes_xyxy(torch.from_numpy(masks)).numpy()  # (..., 4), NaN if empty
    return np.nan_to_num(boxes, nan=0.0).astype(np.float32)


def _paste(
    frame: np.ndarray, full_mask: np.ndarray, sprite: tuple[np.ndarray, np.ndarray], top_left
) -> None:
    """Draw a sprite into ``frame`` (H, W, 3) float32 and ``full_mask`` (H, W) bool, clipped."""
    mask, rgb = sprite
    height, width = full_mask.shape
    x0, y0 = top_left
    fx0, fy0 = max(x0, 0), max(y0, 0)
    fx1, fy1 = min(x0 + mask.shape[1], width), min(y0 + mask.shape[0], height)
    if fx0 >= fx1 or fy0 >= fy1:
        return
    inside = mask[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0]  # (h', w') clipped sprite mask
    colours = rgb[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0]  # (h', w', 3)
    np.copyto(frame[fy0:fy1, fx0:fx1], colours, where=inside[..., None])
    full_mask[fy0:fy1, fx0:fx1] = inside


def _render_frames(
    plans: list[ObjectPlan],
    canvas: np.ndarray,
    occluder_layer: tuple[np.ndarray, np.ndarray],
    camera_xy: np.ndarray,
    frame_hw: tuple[int, int],
    margin: int,
    warp: BackgroundWarp | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Composite background (deformed by ``warp`` if given), objects (in plan order) and
    occluders for every frame.

    Returns:
        frames: (T, H, W, 3) float32 RGB in [0, 255].
        full_masks: (T, O, H, W) bool drawn pixels of each object inside the frame.
        occluded: (T, H, W) bool pixels covered by a foreground occluder.
        object_areas: (T, O) float64 drawn pixels of each object, in or out of frame.
    """
    height, width = frame_hw
    num_frames, num_objects = len(camera_xy), len(plans)
    occluder_rgb, occluder_mask = occluder_layer
    frames = np.empty((num_frames, height, width, 3), dtype=np.float32)
    full_masks = np.zeros((num_frames, num_objects, height, width), dtype=bool)
    occluded = np.empty((num_frames, height, width), dtype=bool)
    object_areas = np.zeros((num_frames, num_objects))
    for t, (cam_x, cam_y) in enumerate(camera_xy):
        view = np.s_[
            margin + cam_y : margin + cam_y + height, margin + cam_x : margin + cam_x + width
        ]
        frame = canvas[view].astype(np.float32)  # (H, W, 3)
        if warp is not None:
            frame = warp.apply(frame, t)
        for o, plan in enumerate(plans):
            sprite = render_sprite(
                plan.style, int(plan.sizes[t]), plan.angles[t], plan.flaps[t], plan.brightness[t]
            )
            sprite_h, sprite_w = sprite[0].shape
            x0 = int(np.floor(plan.centers_xy[t, 0] - (sprite_w - 1) / 2.0 + 0.5)) - cam_x
            y0 = int(np.floor(plan.centers_xy[t, 1] - (sprite_h - 1) / 2.0 + 0.5)) - cam_y
            _paste(frame, full_masks[t, o], sprite, (x0, y0))
            object_areas[t, o] = sprite[0].sum()
        occluded[t] = occluder_mask[view]
        np.copyto(frame, occluder_rgb[view], where=occluded[t][..., None], casting="unsafe")
        frames[t] = frame
    return frames, full_masks, occluded, object_areas


def _visible_masks(full_masks: np.ndarray, occluded: np.ndarray) -> np.ndarray:
    """Drawn pixels not covered by later objects or by occluders, computed in place.

    Args:
        full_masks: (T, O, H, W) bool drawn pixels per object, in drawing order (overwritten).
        occluded: (T, H, W) bool occluder pixels.

    Returns:
        (T, O, H, W) bool visible masks (the same array as ``full_masks``).
    """
    covered = occluded.copy()  # (T, H, W) pixels covered by what is drawn above object o
    for o in reversed(range(full_masks.shape[1])):
        drawn = full_masks[:, o].copy()  # (T, H, W)
        full_masks[:, o] &= ~covered
        covered |= drawn
    return full_masks


def _blur_kernel(rng: np.random.Generator, max_sigma: float) -> np.ndarray:
    """(k, k) float kernel summing to 1: Gaussian defocus or linear motion blur, 50/50."""
    sigma = rng.uniform(0.3, 1.0) * max_sigma
    if rng.random() < 0.5:  # defocus
        kernel_1d = cv2.getGaussianKernel(2 * int(np.ceil(3 * sigma)) + 1, sigma)  # (k, 1)
        return kernel_1d @ kernel_1d.T
    length = max(2, int(round(3 * sigma)))  # motion blur: a segment through the kernel centre
    kernel = np.zeros((2 * length + 1, 2 * length + 1), dtype=np.float32)
    angle = np.radians(rng.uniform(0.0, 180.0))
    end = (int(round(length * (1 + np.cos(angle)))), int(round(length * (1 + np.sin(angle)))))
    start = (2 * length - end[0], 2 * length - end[1])
    cv2.line(kernel, start, end, 1.0, 1)
    return kernel / kernel.sum()


def _apply_image_effects(
    frames: np.ndarray, rngs: dict[str, np.random.Generator], cfg: SyntheticVideoConfig
) -> tuple[np.ndarray, bool]:
    """Blur, then sensor noise, then optional grey conversion, on (T, H, W, 3) float32 frames.

    Returns:
        (T, H, W, 3) uint8 RGB frames and whether they are grey.
    """
    probs = np.array([cfg.prob_blur, cfg.prob_noise, cfg.prob_grey])
    use_blur, use_noise, use_grey = rngs["decisions"].random(3) < probs
    if use_blur and cfg.blur_max_sigma > 0:
        kernel = _blur_kernel(rngs["blur"], cfg.blur_max_sigma)
        for t in range(len(frames)):
            frames[t] = cv2.filter2D(frames[t], -1, kernel, borderType=cv2.BORDER_REFLECT)
    if use_noise and cfg.noise_max_std > 0:
        std = rngs["noise"].uniform(0.2, 1.0) * cfg.noise_max_std
        frames += std * rngs["noise"].standard_normal(frames.shape, dtype=np.float32)
    if use_grey:
        grey = frames @ np.array([0.299, 0.587, 0.114], dtype=np.float32)  # (T, H, W)
        frames = np.repeat(grey[..., None], 3, axis=-1)  # (T, H, W, 3)
    return np.clip(np.round(frames), 0, 255).astype(np.uint8), bool(use_grey)


def _occluder_layer(
    rng: np.random.Generator,
    plans: list[ObjectPlan],
    cfg: SyntheticVideoConfig,
    canvas_hw: tuple[int, int],
    margin: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Occluders across the paths of objects planned to be occluded, plus random clutter.

    Returns:
        (H', W', 3) uint8 colours and (H', W') bool mask on the world canvas.
    """
    occluded_plans = [p for p in plans if p.occluded_frame is not None]
    anchors_xy = [p.centers_xy[p.occluded_frame] + margin for p in occluded_plans]
    sizes = [p.sizes[p.occluded_frame] for p in occluded_plans]
    num_clutter = int(rng.integers(0, cfg.max_clutter_occluders + 1))
    return render_occluders(
        rng,
        canvas_hw,
        np.reshape(anchors_xy, (-1, 2)),  # (A, 2)
        np.asarray(sizes, dtype=np.float64),
        num_clutter,
    )


def generate_video(seed: int, cfg: SyntheticVideoConfig | None = None) -> SyntheticVideo:
    """Generate one synthetic video; the same ``(seed, cfg)`` always gives the same bytes.

    Args:
        seed: non-negative int. Training, validation and test use disjoint seed ranges, see
            ``sam2_enhanced.data.splits.SPLIT_SEEDS``.
        cfg: generator configuration (defaults: 16 frames of 128x128).

    Returns:
        The frames and their ground truth.
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    cfg = SyntheticVideoConfig() if cfg is None else cfg
    if not isinstance(cfg, SyntheticVideoConfig):
        raise TypeError(f"cfg must be a SyntheticVideoConfig, got {type(cfg).__name__}")
    seeds = np.random.SeedSequence(int(seed)).spawn(len(_STREAMS))
    rngs = {name: np.random.default_rng(s) for name, s in zip(_STREAMS, seeds, strict=True)}
    margin = cfg.camera_margin
    canvas_hw = (cfg.height + 2 * margin, cfg.width + 2 * margin)
    canvas = render_background(rngs["background"], *canvas_hw, cfg.max_background_shapes)
    plans = plan_objects(seeds[_STREAMS.index("objects")], cfg, canvas, margin)
    camera_xy = np.zeros((cfg.num_frames, 2), dtype=np.int64)
    if rngs["decisions"].random() < cfg.prob_camera_motion:
        path = camera_path(rngs["camera"], cfg.num_frames, cfg.camera_max_speed, cfg.camera_jitter)
        camera_xy = np.clip(path, -margin, margin)
    if cfg.long_occlusion_frames > 0:
        plans = plan_long_occlusions(rngs["long_occlusion"], plans, cfg.long_occlusion_frames)
    occluder_layer = _occluder_layer(rngs["occluders"], plans, cfg, canvas_hw, margin)
    warp = None
    warp_rng = rngs["background_warp"]
    if cfg.prob_background_warp > 0 and warp_rng.random() < cfg.prob_background_warp:
        warp = BackgroundWarp.draw(warp_rng, (cfg.height, cfg.width), cfg.background_warp_px)
    frames, full_masks, occluded, areas = _render_frames(
        plans, canvas, occluder_layer, camera_xy, (cfg.height, cfg.width), margin, warp
    )
    if cfg.long_occlusion_frames > 0:
        length = cfg.long_occlusion_frames
        draw_covers(rngs["long_occlusion"], plans, length, camera_xy, frames, occluded)
    masks = _visible_masks(full_masks, occluded)  # (T, O, H, W)
    visibility = (masks.sum(axis=(2, 3)) / areas).astype(np.float32)  # (T, O)
    keep = np.flatnonzero(visibility.max(axis=0, initial=0.0) > 0)  # objects ever visible
    masks = masks[:, keep]  # (T, O', H, W)
    is_thermal = cfg.prob_thermal > 0 and rngs["thermal"].random() < cfg.prob_thermal
    if is_thermal:
        frames = thermal_frames(frames, masks, occluded, rngs["thermal"])
    frames_u8, is_grey = _apply_image_effects(frames, rngs, cfg)
    return SyntheticVideo(
        frames=frames_u8,
        boxes_xyxy=masks_to_boxes_xyxy(masks),
        masks=masks,
        visibility=visibility[:, keep],
        class_ids=np.array([plans[o].style.class_id for o in keep], dtype=np.int64),
        track_ids=np.arange(1, len(keep) + 1, dtype=np.int64),
        is_distractor=np.array([plans[o].is_distractor for o in keep], dtype=bool),
        motion_types=tuple(plans[o].motion for o in keep),
        camera_xy=camera_xy,
        is_grey=is_grey or is_thermal,
        seed=int(seed),
    )
