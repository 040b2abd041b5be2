"""Single-object tracking sequences: OTB / UAV123 / GOT-10k / Anti-UAV style folders.

A sequence folder holds its frames as ``img/*.jpg`` (OTB, UAV123), as images directly in the
folder (GOT-10k), or as one video file (Anti-UAV ``video.avi`` / ``IR.mp4``), and a ground-truth
file ``groundtruth_rect.txt`` or ``groundtruth.txt``: line ``k`` is the ``x, y, w, h`` box
(top-left corner, pixels) of frame ``k`` in natural order, separated by commas, tabs or spaces.

A target is **absent** in a frame when its line has a ``NaN`` (UAV123) or a zero or negative
width or height (the ``0,0,0,0`` rows of GOT-10k / Anti-UAV exports); its ``boxes_xyxy`` row is
then all NaN, the convention of :mod:`sam2_enhanced.evaluation.sot`. GOT-10k's
``absence.label`` (one 0/1 per frame, 1 = absent) is applied too when present.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sam2_enhanced.box_ops import xywh_to_xyxy
from sam2_enhanced.data.frames import list_image_files, open_video_file
from sam2_enhanced.data.readers import read_numeric_table

GROUNDTRUTH_NAMES = ("groundtruth_rect.txt", "groundtruth.txt")  # looked for in this order
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")


@dataclass
class SotSequence:
    """One single-object sequence; open its frames with ``open_frames(sequence.frames)``."""

    name: str  # the folder name
    frames: Path  # folder of frames or video file
    num_frames: int  # T
    boxes_xyxy: np.ndarray  # (T, 4) float64 pixels [x0, y0, x1, y1]; NaN rows where absent
    present: np.ndarray  # (T,) bool, False where the target is absent


def read_sot_boxes(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read an ``x, y, w, h`` ground-truth file.

    Returns:
        boxes_xyxy: (T, 4) float64 pixels, NaN rows where the target is absent.
        present: (T,) bool.
    """
    table = read_numeric_table(path, min_columns=4, max_columns=4, columns_doc="x, y, w, h")
    boxes_xywh = table.values  # (T, 4)
    present = ~np.isnan(boxes_xywh).any(axis=1) & (boxes_xywh[:, 2] > 0) & (boxes_xywh[:, 3] > 0)
    boxes_xyxy = xywh_to_xyxy(boxes_xywh)  # (T, 4)
    boxes_xyxy[~present] = np.nan
    return boxes_xyxy, present


def _find_frames(seq_dir: Path) -> tuple[Path, int]:
    """The frames of a sequence folder (``img/``, images in the folder, or one video) and T."""
    for folder in (seq_dir / "img", seq_dir):
        files = list_image_files(folder) if folder.is_dir() else []
        if files:
            return folder, len(files)
    videos = sorted(
        p for p in seq_dir.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES
    )
    if len(videos) > 1:
        raise ValueError(
            f"{seq_dir} holds several videos ({', '.join(p.name for p in videos)}) and no frame "
            "folder; keep one video per sequence folder"
        )
    if not videos:
        raise FileNotFoundError(
            f"no frames in {seq_dir}: expected img/*.jpg|png, JPEG/PNG frames in the folder, or "
            f"one video file ({', '.join(VIDEO_SUFFIXES)})"
        )
    with open_video_file(videos[0]) as source:
        return videos[0], source.num_frames


def _read_absence_label(path: Path, num_frames: int) -> np.ndarray:
    """GOT-10k ``absence.label``: (T,) bool, True where the target is absent."""
    table = read_numeric_table(path, min_columns=1, max_columns=1, columns_doc="absent 0/1")
    absent = table.values[:, 0]  # (T,)
    if len(absent) != num_frames:
        raise ValueError(f"{path} has {len(absent)} lines but the sequence has {num_frames} frames")
    bad = ~np.isin(absent, (0.0, 1.0))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{table.where(row)}: expected 0 or 1, got {absent[row]}")
    return absent == 1.0


def read_sot_sequence(seq_dir: str | os.PathLike) -> SotSequence:
    """Read a single-object sequence folder (see the module docstring for the layout).

    Raises ``ValueError`` when the ground truth does not have exactly one line per frame.
    """
    seq_dir = Path(seq_dir)
    if not seq_dir.is_dir():
        raise FileNotFoundError(f"sequence folder not found: {seq_dir}")
    gt_paths = [seq_dir / name for name in GROUNDTRUTH_NAMES if (seq_dir / name).is_file()]
    if not gt_paths:
        raise FileNotFoundError(
            f"no ground truth in {seq_dir}: expected one of {', '.join(GROUNDTRUTH_NAMES)}"
        )
    boxes_xyxy, present = read_sot_boxes(gt_paths[0])
    frames, num_frames = _find_frames(seq_dir)
    if len(boxes_xyxy) != num_frames:
        raise ValueError(
            f"{gt_paths[0]} has {len(boxes_xyxy)} boxes but {frames} has {num_frames} frames; "
            "the ground truth needs one line per frame"
        )
    absence_path = seq_dir / "absence.label"
    if absence_path.is_file():
        absent = _read_absence_label(absence_path, num_frames)
        present &= ~absent
        boxes_xyxy[absent] = np.nan
    return SotSequence(
        name=seq_dir.name,
        frames=frames,
        num_frames=num_frames,
        boxes_xyxy=boxes_xyxy,
        present=present,
    )
