"""Sprites of the synthetic object classes: shape polygons, textures and rasterisation.

A sprite is drawn straight at its pixel size with OpenCV polygons (integer vertices), so the
object's longer side is exactly the requested size: the outermost vertices land on pixel 0 and
pixel ``size - 1``. Shapes are built in a unit frame (about [-1, 1]^2), rotated, then fitted.

Classes (ids 0..3, names in :data:`CLASS_NAMES`):

- 0 ``drone``: an X of two arms with four rotor discs; the rotors take the secondary colour.
- 1 ``bird``: a chevron (V) whose wings open and close with the flap value; darker wing tips.
- 2 ``vehicle``: a 2:1 rectangle with stripes across its length.
- 3 ``balloon``: an upright ellipse with a specular highlight and a dotted pattern.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

CLASS_NAMES = ("drone", "bird", "vehicle", "balloon")
NUM_CLASSES = len(CLASS_NAMES)


@dataclass(frozen=True)
class SpriteStyle:
    """Fixed look of one object: class, colours and texture parameters."""

    class_id: int  # index into CLASS_NAMES
    primary_rgb: tuple[float, float, float]  # main colour, 0..255
    secondary_rgb: tuple[float, float, float]  # texture colour (rotors, stripes, wing tips, dots)
    texture_frequency: float  # stripes / dots per unit length of the shape frame
    texture_phase: float  # radians, shifts the stripes / dots


def _regular_polygon(center: tuple[float, float], radius_xy: tuple[float, float], sides: int):
    """(sides, 2) vertices of an axis-aligned ellipse approximated by a polygon."""
    angles = np.linspace(0.0, 2.0 * np.pi, sides, endpoint=False)
    return np.stack(
        [center[0] + radius_xy[0] * np.cos(angles), center[1] + radius_xy[1] * np.sin(angles)],
        axis=1,
    )


def _bar(start: tuple[float, float], end: tuple[float, float], half_width: float) -> np.ndarray:
    """(4, 2) vertices of a thick segment from ``start`` to ``end``."""
    start_xy, end_xy = np.asarray(start, float), np.asarray(end, float)
    along = end_xy - start_xy
    normal = np.array([-along[1], along[0]]) / np.linalg.norm(along) * half_width
    return np.stack([start_xy + normal, end_xy + normal, end_xy - normal, start_xy - normal])


def shape_polygons(class_id: int, flap: float) -> list[np.ndarray]:
    """Polygons of one class in its unrotated unit frame.

    Args:
        class_id: 0..3, see :data:`CLASS_NAMES`.
        flap: wing opening in [0, 1] (birds only).

    Returns:
        list of (P, 2) float64 xy vertex arrays; their union is the object.
    """
    if class_id == 0:
        arm = 0.62
        polygons = [_bar((-arm, -arm), (arm, arm), 0.1), _bar((-arm, arm), (arm, -arm), 0.1)]
        for sign_x, sign_y in ((-1, -1), (-1, 1), (1, -1), (1, 1)):  # rotor discs
            polygons.append(_regular_polygon((sign_x * arm, sign_y * arm), (0.3, 0.3), 12))
        polygons.append(_regular_polygon((0.0, 0.0), (0.22, 0.22), 8))
        return polygons
    if class_id == 1:
        wing = 0.2 + 0.6 * flap  # radians above the horizontal
        tip_x, tip_y, thickness = np.cos(wing), -np.sin(wing), 0.35
        chevron = np.array(
            [
                [-tip_x, tip_y],
                [0.0, 0.0],
                [tip_x, tip_y],
                [tip_x, tip_y + thickness],
                [0.0, thickness],
                [-tip_x, tip_y + thickness],
            ]
        )
        return [chevron]
    if class_id == 2:
        return [np.array([[-1.0, -0.5], [1.0, -0.5], [1.0, 0.5], [-1.0, 0.5]])]
    if class_id == 3:
        return [_regular_polygon((0.0, 0.0), (0.75, 1.0), 24)]
    raise ValueError(f"class_id must be in 0..{NUM_CLASSES - 1}, got {class_id}")


def _texture_weight(class_id: int, local_xy: np.ndarray, style: SpriteStyle) -> np.ndarray:
    """Blend weight of the secondary colour for pixels given in the unit shape frame.

    Args:
        local_xy: (h, w, 2) unit-frame xy of every sprite pixel.

    Returns:
        (h, w) float32 weights in [0, 1].
    """
    u, v = local_xy[..., 0], local_xy[..., 1]
    if class_id == 0:  # rotors
        weight = (np.hypot(np.abs(u) - 0.62, np.abs(v) - 0.62) < 0.3).astype(np.float64)
    elif class_id == 1:  # darker wing tips
        weight = np.clip(np.abs(u), 0.0, 1.0) ** 2
    elif class_id == 2:  # stripes across the body
        weight = (np.sin(style.texture_frequency * np.pi * u + style.texture_phase) > 0.0) * 1.0
    else:  # highlight plus dots
        highlight = np.exp(-((u + 0.3) ** 2 + (v + 0.35) ** 2) / 0.08)
        dots = np.sin(style.texture_frequency * np.pi * u + style.texture_phase) * np.sin(
            style.texture_frequency * np.pi * v
        )
        weight = np.clip(highlight + 0.6 * (dots > 0.6), 0.0, 1.0)
    return weight.astype(np.float32)


def render_sprite(
    style: SpriteStyle, size: int, angle: float, flap: float, brightness: float
) -> tuple[np.ndarray, np.ndarray]:
    """Rasterise one object at a given pixel size.

    Args:
        style: class and colours.
        size: longer side of the object in pixels (>= 1); the sprite spans exactly this many
            pixels along its longer axis.
        angle: rotation in radians.
        flap: wing opening in [0, 1] (birds only).
        brightness: multiplicative colour factor.

    Returns:
        mask: (h, w) bool object pixels, ``max(h, w) == size``, touching all four borders.
        rgb: (h, w, 3) float32 colours in [0, 255] (meaningful where ``mask``).
    """
    cos_a, sin_a = np.cos(angle), np.sin(angle)
    rotation = np.array([[cos_a, -sin_a], [sin_a, cos_a]])
    polygons = [poly @ rotation.T for poly in shape_polygons(style.class_id, flap)]
    vertices = np.concatenate(polygons)  # (P_total, 2)
    low = vertices.min(axis=0)
    extent = vertices.max(axis=0) - low  # (2,) xy
    scale = (size - 1) / max(extent.max(), 1e-9)  # pixels per unit
    width, height = (np.round(extent * scale).astype(np.int64) + 1).tolist()
    mask_u8 = np.zeros((height, width), dtype=np.uint8)
    pixel_polygons = [np.round((poly - low) * scale).astype(np.int32) for poly in polygons]
    cv2.fillPoly(mask_u8, pixel_polygons, 1, lineType=cv2.LINE_8)
    ys, xs = np.mgrid[0:height, 0:width]  # (h, w) each
    pixel_xy = np.stack([xs, ys], axis=-1) / max(scale, 1e-9) + low  # (h, w, 2) rotated unit
    local_xy = pixel_xy @ rotation  # (h, w, 2) undo the rotation
    weight = _texture_weight(style.class_id, local_xy, style)[..., None]  # (h, w, 1)
    primary = np.asarray(style.primary_rgb, dtype=np.float32)
    secondary = np.asarray(style.secondary_rgb, dtype=np.float32)
    rgb = ((1.0 - weight) * primary + weight * secondary) * np.float32(brightness)
    return mask_u8.astype(bool), np.clip(rgb, 0.0, 255.0)


def random_style(
    rng: np.random.Generator, class_id: int, background_rgb: np.ndarray
) -> SpriteStyle:
    """A random look for ``class_id`` that contrasts with ``background_rgb`` ((3,) 0..255).

    The primary colour is inverted when it lies within 60 grey levels (mean absolute
    difference) of the background around the object, so targets stay detectable.
    """
    primary = rng.uniform(0.0, 255.0, size=3)
    if np.abs(primary - background_rgb).mean() < 60.0:
        primary = 255.0 - primary
    darker = rng.random() < 0.5
    secondary = primary * rng.uniform(0.3, 0.6) if darker else primary + (255.0 - primary) * 0.6
    return SpriteStyle(
        class_id=class_id,
        primary_rgb=tuple(float(c) for c in primary),
        secondary_rgb=tuple(float(c) for c in secondary),
        texture_frequency=float(rng.uniform(2.0, 5.0)),
        texture_phase=float(rng.uniform(0.0, 2.0 * np.pi)),
    )


def similar_style(rng: np.random.Generator, style: SpriteStyle) -> SpriteStyle:
    """A look-alike of ``style``: same class and texture, colours jittered by up to 20 levels."""
    jitter = rng.uniform(-20.0, 20.0, size=3)
    return SpriteStyle(
        class_id=style.class_id,
        primary_rgb=tuple(float(c) for c in np.clip(np.add(style.primary_rgb, jitter), 0, 255)),
        secondary_rgb=tuple(float(c) for c in np.clip(np.add(style.secondary_rgb, jitter), 0, 255)),
        texture_frequency=style.texture_frequency,
        texture_phase=style.texture_phase,
    )
