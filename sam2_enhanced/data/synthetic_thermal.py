"""Thermal-infrared look for synthetic videos (:mod:`.synthetic`, ``prob_thermal``).

Anti-UAV and other thermal footage looks nothing like the colour scenes: a cold sky, smooth and
dark, a few warm blobs of clutter (trees, roofs), and targets that are small warm blobs with soft
edges and little texture, sometimes shown black-hot (inverted). :func:`thermal_frames` re-renders
a composited video that way from its own layout (background structure, occluders, every object's
visible mask), so the ground truth does not change.
"""

from __future__ import annotations

import cv2
import numpy as np

LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # RGB -> grey weights


def _smooth_field(rng: np.random.Generator, frame_hw: tuple[int, int]) -> np.ndarray:
    """(H, W) float32 in [0, 1]: a few cells of noise upsampled cubically (sky gradients)."""
    height, width = frame_hw
    cells = rng.random((int(rng.integers(2, 5)), int(rng.integers(2, 5)))).astype(np.float32)
    field = cv2.resize(cells, (width, height), interpolation=cv2.INTER_CUBIC)
    return np.clip(field, 0.0, 1.0)


def thermal_frames(
    frames: np.ndarray, visible: np.ndarray, occluded: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Re-render composited frames as thermal infrared.

    Args:
        frames: (T, H, W, 3) float32 RGB in [0, 255], as composited.
        visible: (T, O, H, W) bool visible pixels of each object.
        occluded: (T, H, W) bool foreground-occluder pixels.
        rng: the video's thermal stream.

    Returns:
        (T, H, W, 3) float32 grey frames (three equal channels) in [0, 255].
    """
    grey = frames @ LUMA  # (T, H, W) the scene's structure
    sky = rng.uniform(5.0, 70.0) + rng.uniform(5.0, 50.0) * _smooth_field(rng, grey.shape[1:])
    clutter = rng.uniform(0.0, 0.4) * (grey - grey.mean())  # faint background structure
    out = sky[None] + clutter  # (T, H, W)
    warm = rng.uniform(0.5, 1.0) * grey + rng.uniform(20.0, 90.0)  # occluders: warm clutter
    out = np.where(occluded, warm, out)
    level = float(np.median(sky))
    for o in range(visible.shape[1]):
        heat = level + rng.uniform(25.0, 180.0)  # the object's contrast against the sky
        texture = 0.85 + 0.3 * (grey / 255.0 - 0.5)  # a little of its drawn pattern
        out = np.where(visible[:, o], heat * texture, out)
    sigma = rng.uniform(0.4, 1.2)  # soft edges of thermal optics
    out = np.stack([cv2.GaussianBlur(f, (0, 0), sigma) for f in out.astype(np.float32)])
    if rng.random() < 0.3:  # black-hot display
        out = 255.0 - out
    return np.repeat(np.clip(out, 0.0, 255.0)[..., None], 3, axis=-1)  # (T, H, W, 3)
