"""Background deformation of synthetic videos: what a global camera shift does not explain.

A real camera over water, through heat haze or past near and far layers (parallax) shows a
background that changes between frames even after the best global shift has been removed, and
a zoom moves every pixel by a different amount. The generator's integer camera pan alone is
removed exactly by the motion branch's neighbour alignment, so a model trained on it learns that
any residual is an object. :class:`BackgroundWarp` deforms the background of each frame, and only
the background: objects are pasted afterwards at their exact positions, so labels stay exact.

A warp is a slow zoom about a random centre plus a smooth displacement field on a coarse grid
that oscillates over time (``cos(w t + p) A + sin(w t + p) B`` for two random grids A, B, each
clipped to ``max_px``); the zoom moves a frame corner by at most ``max_px`` a frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class BackgroundWarp:
    """One video's background deformation; :meth:`apply` warps frame ``t``."""

    zoom_per_frame: float  # relative scale change per frame (0.01: 1% bigger each frame)
    centre_xy: tuple[float, float]  # zoom centre in frame pixels
    grids: np.ndarray  # (2, g_h, g_w, 2) float32 displacement grids A and B, xy pixels
    angular_speed: float  # radians per frame of the oscillation between A and B
    phase: float  # radians at frame 0

    @classmethod
    def draw(
        cls, rng: np.random.Generator, frame_hw: tuple[int, int], max_px: float
    ) -> BackgroundWarp:
        """A random warp for frames of ``frame_hw``, scaled by ``max_px``.

        Args:
            rng: the generator's warp stream.
            frame_hw: (height, width) of the frames.
            max_px: pixels (> 0): each displacement grid is clipped to it, and the zoom moves a
                frame corner by at most about this much a frame (so the zoom's displacement
                from frame 0 grows with ``t``).
        """
        if not max_px > 0:
            raise ValueError(f"max_px must be > 0, got {max_px}")
        height, width = frame_hw
        half_diagonal = 0.5 * float(np.hypot(height, width))
        cells = int(rng.integers(2, max(3, min(height, width) // 12) + 1))  # grid resolution
        amplitude = rng.uniform(0.3, 1.0) * max_px
        grids = rng.normal(0.0, amplitude / 2.0, size=(2, cells, cells, 2))  # (2, g, g, 2)
        return cls(
            zoom_per_frame=float(rng.uniform(-0.5, 0.5) * max_px / half_diagonal),
            centre_xy=(float(rng.uniform(0, width - 1)), float(rng.uniform(0, height - 1))),
            grids=np.clip(grids, -max_px, max_px).astype(np.float32),
            angular_speed=float(rng.uniform(0.3, 1.5)),
            phase=float(rng.uniform(0.0, 2.0 * np.pi)),
        )

    def displacement(self, t: int, frame_hw: tuple[int, int]) -> np.ndarray:
        """(H, W, 2) float32 xy displacement of frame ``t``: zoom plus the oscillating field."""
        height, width = frame_hw
        angle = self.angular_speed * t + self.phase
        weights = np.array([np.cos(angle), np.sin(angle)], dtype=np.float32)  # (2,)
        grid = np.tensordot(weights, self.grids, axes=1)  # (g, g, 2) float32
        field = cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)  # (H, W, 2)
        scale = np.float32((1.0 + self.zoom_per_frame) ** t - 1.0)
        xs = np.arange(width, dtype=np.float32) - self.centre_xy[0]  # (W,)
        ys = np.arange(height, dtype=np.float32) - self.centre_xy[1]  # (H,)
        field[..., 0] += scale * xs[None, :]
        field[..., 1] += scale * ys[:, None]
        return field

    def apply(self, frame: np.ndarray, t: int) -> np.ndarray:
        """Warp one (H, W, 3) float32 frame; returns a new (H, W, 3) float32 frame."""
        height, width = frame.shape[:2]
        field = self.displacement(t, (height, width))  # (H, W, 2)
        map_x = np.arange(width, dtype=np.float32)[None, :] + field[..., 0]  # (H, W)
        map_y = np.arange(height, dtype=np.float32)[:, None] + field[..., 1]  # (H, W)
        return cv2.remap(frame, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
