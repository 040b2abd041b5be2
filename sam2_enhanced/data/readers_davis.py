"""DAVIS-style video object segmentation: per-frame PNG masks and sequence folders.

A mask PNG is either

- a palette image (mode ``P``, DAVIS 2017 / YouTube-VOS): pixel value ``k`` is object ``k``,
  0 is background and 255 is "void" (ignored, not an object); or
- a grey / binary image (DAVIS 2016, 0 and 255): pixels above 127 are the single object, id 1.
  Save multi-object masks as palette PNGs.

Object ids of a sequence are the union over its frames; an object missing from a frame has an
all-False mask there. Masks of all frames are decoded into one boolean array (T, O, H, W).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from sam2_enhanced.data.frames import list_image_files, read_image_rgb

_VOID_INDEX = 255  # palette index of "void" pixels (object borders), not an object


@dataclass
class DavisMasks:
    """Per-frame object masks read from a folder of PNGs."""

    masks: np.ndarray  # (T, O, H, W) bool
    object_ids: np.ndarray  # (O,) int64 palette index of each object, ascending (1 if binary)
    frame_names: list[str]  # T file names without extension, natural order, e.g. "00000"


def read_label_map(path: Path) -> np.ndarray:
    """One mask PNG -> (H, W) uint8 object index per pixel (0 background, 255 void)."""
    try:
        with Image.open(path) as image:
            image.load()
    except OSError as err:
        raise ValueError(f"cannot read mask {path}: {err}") from None
    if image.mode == "P":
        return np.asarray(image, dtype=np.uint8)  # (H, W) palette indices
    if image.mode in ("1", "L", "LA"):
        grey = np.asarray(image.convert("L"))  # (H, W)
    elif image.mode in ("RGB", "RGBA"):
        rgb = np.asarray(image.convert("RGB"))  # (H, W, 3)
        if not ((rgb[..., 0] == rgb[..., 1]) & (rgb[..., 1] == rgb[..., 2])).all():
            raise ValueError(
                f"mask {path} is a colour image; expected a palette PNG (object k = index k) "
                "or a grey/binary PNG (0 background, 255 object)"
            )
        grey = rgb[..., 0]  # (H, W)
    else:
        raise ValueError(
            f"mask {path} has image mode {image.mode!r}; expected a palette (P) or a grey/binary "
            "(L, 1) PNG"
        )
    return (grey > 127).astype(np.uint8)  # (H, W) 0 background, 1 the object


def read_davis_masks(mask_dir: str | os.PathLike) -> DavisMasks:
    """Read every PNG of ``mask_dir`` (natural order) into boolean masks (T, O, H, W)."""
    mask_dir = Path(mask_dir)
    if not mask_dir.is_dir():
        raise FileNotFoundError(f"mask folder not found: {mask_dir}")
    files = [p for p in list_image_files(mask_dir) if p.suffix.lower() == ".png"]
    if not files:
        raise ValueError(f"no PNG masks in {mask_dir}; expected one PNG per annotated frame")
    label_maps = []
    for path in files:
        labels = read_label_map(path)
        if label_maps and labels.shape != label_maps[0].shape:
            height, width = label_maps[0].shape
            raise ValueError(
                f"mask {path} is {labels.shape[1]}x{labels.shape[0]} (WxH) but {files[0].name} "
                f"is {width}x{height}; all masks of a sequence must have one size"
            )
        label_maps.append(labels)
    labels = np.stack(label_maps)  # (T, H, W)
    object_ids = np.setdiff1d(np.unique(labels), [0, _VOID_INDEX]).astype(np.int64)  # (O,)
    masks = labels[:, None] == object_ids[None, :, None, None].astype(np.uint8)  # (T, O, H, W)
    return DavisMasks(masks, object_ids, [p.stem for p in files])


@dataclass
class DavisSequence:
    """A DAVIS-style sequence: JPEG frames and the masks of its annotated frames."""

    name: str  # sequence name, e.g. "car-shadow"
    frames: Path  # folder of JPEG frames; open with open_frames(sequence.frames)
    num_frames: int  # T
    masks: np.ndarray  # (A, O, H, W) bool, one entry per annotated frame
    object_ids: np.ndarray  # (O,) int64
    annotated_frames: np.ndarray  # (A,) int64 ascending frame index of each entry of masks


def _find_davis_dirs(root: Path, name: str | None, resolution: str) -> tuple[Path, Path]:
    """(frames folder, masks folder) of the first layout that exists under ``root``."""
    if name is None:
        candidates = [(root / "JPEGImages", root / "Annotations")]
    else:
        candidates = [
            (root / "JPEGImages" / resolution / name, root / "Annotations" / resolution / name),
            (root / "JPEGImages" / name, root / "Annotations" / name),
        ]
    for frames_dir, masks_dir in candidates:
        if frames_dir.is_dir() and masks_dir.is_dir():
            return frames_dir, masks_dir
    tried = "; ".join(f"{f} + {m}" for f, m in candidates)
    raise FileNotFoundError(f"no DAVIS-style sequence under {root}: tried {tried}")


def read_davis_sequence(
    root: str | os.PathLike, name: str | None = None, *, resolution: str = "480p"
) -> DavisSequence:
    """Read a sequence in the DAVIS layout.

    Layouts, tried in order:

    - ``root/JPEGImages/<resolution>/<name>/`` + ``root/Annotations/<resolution>/<name>/`` (DAVIS)
    - ``root/JPEGImages/<name>/`` + ``root/Annotations/<name>/`` (flat, YouTube-VOS)
    - with ``name=None``: frames directly in ``root/JPEGImages/`` and masks in
      ``root/Annotations/`` (one sequence per root; its name is the root folder's name)

    Masks are matched to frames by file name; frames without a mask (sparse annotations) are
    left out of ``masks`` and ``annotated_frames`` says which frames have one.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"DAVIS root folder not found: {root}")
    frames_dir, masks_dir = _find_davis_dirs(root, name, resolution)
    frame_files = list_image_files(frames_dir)
    if not frame_files:
        raise ValueError(f"no JPEG/PNG frames in {frames_dir}")
    annotations = read_davis_masks(masks_dir)
    frame_index = {p.stem: i for i, p in enumerate(frame_files)}
    unknown = [stem for stem in annotations.frame_names if stem not in frame_index]
    if unknown:
        raise ValueError(
            f"mask {masks_dir / unknown[0]}.png has no frame of that name in {frames_dir}; "
            "masks and frames must share file names"
        )
    annotated = np.array([frame_index[s] for s in annotations.frame_names], dtype=np.int64)
    order = np.argsort(annotated)  # (A,)
    frame_hw = read_image_rgb(frame_files[int(annotated[order[0]])]).shape[:2]
    if annotations.masks.shape[2:] != frame_hw:
        mask_h, mask_w = annotations.masks.shape[2:]
        raise ValueError(
            f"masks in {masks_dir} are {mask_w}x{mask_h} (WxH) but frames in {frames_dir} are "
            f"{frame_hw[1]}x{frame_hw[0]}; use masks of the frames' resolution"
        )
    return DavisSequence(
        name=name if name is not None else root.name,
        frames=frames_dir,
        num_frames=len(frame_files),
        masks=annotations.masks[order],
        object_ids=annotations.object_ids,
        annotated_frames=annotated[order],
    )
