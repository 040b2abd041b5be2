"""Backgrounds and foreground occluders of synthetic videos, drawn once per video on a world canvas.

The canvas is larger than a frame by the camera's largest offset on every side; each frame is a
crop of it, so camera motion shifts background and occluders together.
"""

from __future__ import annotations

import cv2
import numpy as np


def value_noise(
    rng: np.random.Generator, height: int, width: int, channels: int, num_octaves: int
) -> np.ndarray:
    """Multi-octave value noise: random grids upsampled bicubically, halving amplitude per octave.

    Returns:
        (height, width, channels) float32, roughly zero-mean with values in about [-1, 1].
    """
    noise = np.zeros((height, width, channels), dtype=np.float32)
    total = 0.0
    for octave in range(num_octaves):
        cells = 2 ** (octave + 2)  # grid cells across the longer side
        grid_h = max(2, round(cells * height / max(height, width)) + 1)
        grid_w = max(2, round(cells * width / max(height, width)) + 1)
        grid = rng.uniform(-1.0, 1.0, size=(grid_h, grid_w, channels)).astype(np.float32)
        layer = cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)
        amplitude = 0.5**octave
        noise += amplitude * layer.reshape(height, width, channels)  # (H, W, C)
        total += amplitude
    return noise / total


def render_background(
    rng: np.random.Generator, height: int, width: int, max_shapes: int
) -> np.ndarray:
    """A textured, cluttered background: gradient + coloured value noise + blobs and lines.

    Args:
        rng: random generator (consumed).
        height, width: canvas size in pixels.
        max_shapes: upper bound of blobs and lines drawn (0 disables them).

    Returns:
        (height, width, 3) uint8 RGB canvas.
    """
    top, bottom = rng.uniform(30.0, 225.0, size=(2, 3))
    ramp = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]  # (H, 1, 1)
    canvas = (1.0 - ramp) * top + ramp * bottom  # (H, 1, 3) vertical gradient
    canvas = np.broadcast_to(canvas, (height, width, 3)).astype(np.float32)
    contrast = rng.uniform(20.0, 60.0)
    canvas = canvas + contrast * value_noise(rng, height, width, 3, num_octaves=4)
    grain = rng.uniform(3.0, 12.0)
    canvas = canvas + grain * value_noise(rng, height, width, 1, num_octaves=2)
    shapes = np.zeros((height, width, 3), dtype=np.float32)
    coverage = np.zeros((height, width), dtype=np.float32)
    side = min(height, width)
    for _ in range(int(rng.integers(0, max_shapes + 1))):
        colour = tuple(float(c) for c in rng.uniform(0.0, 255.0, size=3))
        centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        if rng.random() < 0.6:
            axes = tuple(int(a) for a in rng.integers(max(2, side // 30), max(3, side // 5), 2))
            angle = float(rng.uniform(0.0, 180.0))
            cv2.ellipse(shapes, centre, axes, angle, 0.0, 360.0, colour, -1, cv2.LINE_AA)
            cv2.ellipse(coverage, centre, axes, angle, 0.0, 360.0, 1.0, -1, cv2.LINE_AA)
        else:
            end = (int(rng.integers(0, width)), int(rng.integers(0, height)))
            thickness = int(rng.integers(1, 3))
            cv2.line(shapes, centre, end, colour, thickness, cv2.LINE_AA)
            cv2.line(coverage, centre, end, 1.0, thickness, cv2.LINE_AA)
    opacity = rng.uniform(0.3, 0.8) * coverage[..., None]  # (H, W, 1)
    canvas = (1.0 - opacity) * canvas + opacity * shapes
    return np.clip(canvas, 0.0, 255.0).astype(np.uint8)


def _occluder_polygon(
    rng: np.random.Generator, centre_xy: np.ndarray, size: float, canvas_hw: tuple[int, int]
) -> np.ndarray:
    """(P, 2) int32 vertices of one occluder: a long bar (pole, branch) or an irregular blob."""
    if rng.random() < 0.5:
        angle = rng.uniform(0.0, np.pi)
        along = np.array([np.cos(angle), np.sin(angle)]) * max(canvas_hw)
        across = np.array([-along[1], along[0]]) / max(canvas_hw)
        half_width = size * rng.uniform(0.15, 0.4)
        corners = np.stack(
            [-along + half_width * across, along + half_width * across, along - half_width * across]
            + [-along - half_width * across]
        )  # (4, 2)
        return np.round(centre_xy + corners).astype(np.int32)
    num_vertices = int(rng.integers(6, 11))
    angles = np.sort(rng.uniform(0.0, 2.0 * np.pi, num_vertices))
    radii = size * rng.uniform(0.3, 0.8, num_vertices)
    offsets = np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)  # (P, 2)
    return np.round(centre_xy + offsets).astype(np.int32)


def render_occluders(
    rng: np.random.Generator,
    canvas_hw: tuple[int, int],
    anchors_xy: np.ndarray,
    anchor_sizes: np.ndarray,
    num_clutter: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Foreground clutter drawn over everything: textured bars and blobs.

    One occluder is centred near each anchor (offset by up to half its size, so objects passing
    by are partly or fully hidden), plus ``num_clutter`` occluders placed anywhere.

    Args:
        rng: random generator (consumed).
        canvas_hw: canvas (height, width).
        anchors_xy: (A, 2) canvas xy positions that must be occluded.
        anchor_sizes: (A,) object sizes in pixels at those positions.
        num_clutter: extra occluders at random positions.

    Returns:
        rgb: (H, W, 3) uint8 occluder colours (meaningful where ``mask``).
        mask: (H, W) bool pixels covered by an occluder.
    """
    height, width = canvas_hw
    clutter_xy = rng.uniform(0.0, 1.0, size=(num_clutter, 2)) * np.array([width, height])
    clutter_sizes = rng.uniform(0.05, 0.2, size=num_clutter) * min(height, width)
    jitter = rng.uniform(-0.6, 0.6, size=(len(anchors_xy), 2)) * np.asarray(anchor_sizes)[:, None]
    centres = np.concatenate([np.asarray(anchors_xy, float).reshape(-1, 2) + jitter, clutter_xy])
    anchor_scales = rng.uniform(0.6, 1.5, size=len(anchors_xy))
    sizes = np.concatenate([np.asarray(anchor_sizes, float) * anchor_scales, clutter_sizes])
    label = np.zeros((height, width), dtype=np.uint16)  # 0: free, k: occluder k
    colours = np.zeros((len(centres) + 1, 3), dtype=np.float32)  # row 0: no occluder
    for index, (centre, size) in enumerate(zip(centres, sizes, strict=True), start=1):
        polygon = _occluder_polygon(rng, centre, max(size, 2.0), canvas_hw)
        cv2.fillPoly(label, [polygon], index, lineType=cv2.LINE_8)
        colours[index] = rng.uniform(10.0, 140.0, size=3) * np.array([0.8, 1.0, 0.7])
    shade = 0.75 + 0.25 * value_noise(rng, height, width, 1, num_octaves=3)  # (H, W, 1)
    rgb = np.clip(colours[label] * shade, 0.0, 255.0).astype(np.uint8)  # (H, W, 3)
    return rgb, label > 0
