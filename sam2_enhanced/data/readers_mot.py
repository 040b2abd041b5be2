"""Multi-object box annotations: MOTChallenge and VisDrone-MOT text files, MOT17/20 sequences.

Both formats have one box per line, frame numbers starting at 1. The readers return per-frame
lists: entry ``t`` of every list holds the boxes of file frame ``t + 1`` (frames without boxes
get empty arrays), so ``ids`` / ``boxes_xyxy`` feed
:class:`sam2_enhanced.evaluation.mot.TrackSequence` directly. Within a frame, boxes keep their
file order. Boxes are ``xyxy`` float pixels, converted from the files' top-left ``x, y, w, h``.
"""

from __future__ import annotations

import configparser
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sam2_enhanced.box_ops import xywh_to_xyxy
from sam2_enhanced.data.frames import list_image_files, read_image_rgb
from sam2_enhanced.data.readers import (
    NumericTable,
    integer_column,
    read_numeric_table,
    split_rows_by_frame,
)

MOT_CLASS_NAMES = {
    1: "pedestrian",
    2: "person_on_vehicle",
    3: "car",
    4: "bicycle",
    5: "motorbike",
    6: "non_mot_vehicle",
    7: "static_person",
    8: "distractor",
    9: "occluder",
    10: "occluder_on_ground",
    11: "occluder_full",
    12: "reflection",
    13: "crowd",
}
"""MOT17/MOT20 ground-truth class ids (column 8), as TrackEval names them."""

VISDRONE_CATEGORY_NAMES = {
    0: "ignored_region",
    1: "pedestrian",
    2: "people",
    3: "bicycle",
    4: "car",
    5: "van",
    6: "truck",
    7: "tricycle",
    8: "awning-tricycle",
    9: "bus",
    10: "motor",
    11: "others",
}
"""VisDrone object categories (column 8); category 0 marks regions to ignore."""

_MOT_COLUMNS = "frame, id, x, y, w, h, conf[, class, visibility[, z]]"
_VISDRONE_COLUMNS = "frame, target_id, x, y, w, h, score, category[, truncation, occlusion]"


@dataclass
class MotAnnotations:
    """MOTChallenge boxes per frame; list entry ``t`` is file frame ``t + 1``."""

    ids: list[np.ndarray]  # T arrays, each (N_t,) int64 track ids
    boxes_xyxy: list[np.ndarray]  # T arrays, each (N_t, 4) float64 pixels
    confidences: list[np.ndarray]  # T arrays, each (N_t,) float64: score, or GT "consider" 0/1
    class_ids: list[np.ndarray]  # T arrays, each (N_t,) int64 (MOT_CLASS_NAMES), -1 if absent
    visibilities: list[np.ndarray]  # T arrays, each (N_t,) float64 in [0, 1], -1 if absent

    @property
    def num_frames(self) -> int:
        return len(self.ids)


@dataclass
class VisDroneAnnotations:
    """VisDrone-MOT boxes per frame (list entry ``t`` is file frame ``t + 1``).

    Category-0 rows ("ignored regions") are not objects: they are returned apart in
    ``ignored_boxes_xyxy`` so evaluation can drop detections that fall inside them.
    """

    ids: list[np.ndarray]  # T arrays, each (N_t,) int64 target ids
    boxes_xyxy: list[np.ndarray]  # T arrays, each (N_t, 4) float64 pixels
    scores: list[np.ndarray]  # T arrays, each (N_t,) float64: score, or GT "consider" 0/1
    class_ids: list[np.ndarray]  # T arrays, each (N_t,) int64 in 1..11 (VISDRONE_CATEGORY_NAMES)
    truncations: list[np.ndarray]  # T arrays, each (N_t,) int64: 0 none, 1 partial; -1 absent
    occlusions: list[np.ndarray]  # T arrays, each (N_t,) int64: 0 none, 1 partial, 2 heavy; -1
    ignored_boxes_xyxy: list[np.ndarray]  # T arrays, each (G_t, 4) float64 pixels

    @property
    def num_frames(self) -> int:
        return len(self.ids)


def _frame_groups(
    table: NumericTable, num_frames: int | None
) -> tuple[np.ndarray, list[np.ndarray]]:
    """0-based frame of each row (R,) and the row indices of each of the T frames."""
    frame_indices = integer_column(table, 0, "frame number (1-based)", minimum=1) - 1  # (R,)
    if num_frames is None:
        num_frames = int(frame_indices.max()) + 1 if len(frame_indices) else 0
    elif len(frame_indices) and frame_indices.max() >= num_frames:
        row = int(np.argmax(frame_indices))
        raise ValueError(
            f"{table.where(row)}: frame {frame_indices[row] + 1} is past the sequence's "
            f"{num_frames} frames; check the file belongs to this sequence"
        )
    return frame_indices, split_rows_by_frame(frame_indices, num_frames)


def read_mot_file(path: str | os.PathLike, num_frames: int | None = None) -> MotAnnotations:
    """Read a MOTChallenge ``gt.txt`` or result file.

    Lines are ``frame, id, x, y, w, h, conf, class, visibility`` (MOT17/20 ground truth); result
    files may have 7 to 10 columns with ``-1`` fillers (columns 8 and 9 default to -1, column
    10, the world ``z`` of MOT15/16 results, is ignored).

    Args:
        path: the text file.
        num_frames: frames of the sequence (``seqLength``); without it the last frame number in
            the file is used, so trailing frames with no boxes are lost.
    """
    table = read_numeric_table(
        path, min_columns=7, max_columns=10, columns_doc=_MOT_COLUMNS, fill=-1.0
    )
    _, groups = _frame_groups(table, num_frames)
    ids = integer_column(table, 1, "id", minimum=-1)  # (R,)
    boxes_xyxy = xywh_to_xyxy(table.values[:, 2:6])  # (R, 4)
    class_ids = integer_column(table, 7, "class", minimum=-1)  # (R,)
    return MotAnnotations(
        ids=[ids[rows] for rows in groups],
        boxes_xyxy=[boxes_xyxy[rows] for rows in groups],
        confidences=[table.values[rows, 6] for rows in groups],
        class_ids=[class_ids[rows] for rows in groups],
        visibilities=[table.values[rows, 8] for rows in groups],
    )


def read_visdrone_mot_file(
    path: str | os.PathLike, num_frames: int | None = None
) -> VisDroneAnnotations:
    """Read a VisDrone-MOT annotation or result file.

    Lines are ``frame, target_id, x, y, w, h, score, category, truncation, occlusion``; result
    files may stop after ``category`` (truncation and occlusion then read as -1).

    Args:
        path: the text file.
        num_frames: frames of the sequence; without it the last frame number in the file.
    """
    table = read_numeric_table(
        path, min_columns=8, max_columns=10, columns_doc=_VISDRONE_COLUMNS, fill=-1.0
    )
    _, groups = _frame_groups(table, num_frames)
    class_ids = integer_column(table, 7, "category", minimum=0)  # (R,)
    if len(class_ids) and class_ids.max() > 11:
        row = int(np.argmax(class_ids))
        raise ValueError(
            f"{table.where(row)}: category must be 0..11 (VisDrone categories), got "
            f"{class_ids[row]}"
        )
    ids = integer_column(table, 1, "target_id", minimum=-1)  # (R,)
    boxes_xyxy = xywh_to_xyxy(table.values[:, 2:6])  # (R, 4)
    truncations = integer_column(table, 8, "truncation", minimum=-1)  # (R,)
    occlusions = integer_column(table, 9, "occlusion", minimum=-1)  # (R,)
    objects = [rows[class_ids[rows] != 0] for rows in groups]
    return VisDroneAnnotations(
        ids=[ids[rows] for rows in objects],
        boxes_xyxy=[boxes_xyxy[rows] for rows in objects],
        scores=[table.values[rows, 6] for rows in objects],
        class_ids=[class_ids[rows] for rows in objects],
        truncations=[truncations[rows] for rows in objects],
        occlusions=[occlusions[rows] for rows in objects],
        ignored_boxes_xyxy=[boxes_xyxy[rows[class_ids[rows] == 0]] for rows in groups],
    )


@dataclass
class MotSequence:
    """One MOTChallenge sequence folder (``SEQ/seqinfo.ini``, ``SEQ/img1/``, ``SEQ/gt/gt.txt``)."""

    name: str  # sequence name, e.g. "MOT17-02-FRCNN"
    frames_dir: Path | None  # folder of frames; None when only annotations are present
    num_frames: int  # seqLength
    width: int  # frame width in pixels
    height: int  # frame height in pixels
    fps: float | None  # frameRate, None when there is no seqinfo.ini
    gt: MotAnnotations | None  # SEQ/gt/gt.txt, None when absent (test sequences)


def _read_seqinfo(path: Path) -> dict[str, str]:
    """The ``[Sequence]`` section of a ``seqinfo.ini`` (keys lower-cased)."""
    parser = configparser.ConfigParser()
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error as err:
        raise ValueError(f"{path} is not a valid seqinfo.ini: {err}") from None
    if not parser.has_section("Sequence"):
        raise ValueError(f"{path} has no [Sequence] section; expected MOTChallenge seqinfo.ini")
    return dict(parser["Sequence"])


def _seqinfo_number(info: dict[str, str], key: str, path: Path, cast: type) -> int | float:
    try:
        return cast(info[key.lower()])
    except KeyError:
        raise ValueError(f"{path}: [Sequence] lacks {key}") from None
    except ValueError:
        raise ValueError(f"{path}: {key} must be a number, got {info[key.lower()]!r}") from None


def read_mot_sequence(seq_dir: str | os.PathLike) -> MotSequence:
    """Read a MOT17/MOT20 sequence folder.

    ``seqinfo.ini`` gives name, ``imDir``, ``frameRate``, ``seqLength``, ``imWidth`` and
    ``imHeight``; without it the frames of ``img1/`` are counted and the first is decoded for the
    size. The frames folder may be missing (TrackEval's ground-truth layout has none) when
    ``seqinfo.ini`` is present; ``gt/gt.txt`` may be missing (test sequences).
    """
    seq_dir = Path(seq_dir)
    if not seq_dir.is_dir():
        raise FileNotFoundError(f"MOT sequence folder not found: {seq_dir}")
    info_path = seq_dir / "seqinfo.ini"
    info = _read_seqinfo(info_path) if info_path.is_file() else None
    frames_dir = seq_dir / (info.get("imdir", "img1") if info else "img1")
    files = list_image_files(frames_dir) if frames_dir.is_dir() else None
    if info is None:
        if files is None:
            raise FileNotFoundError(
                f"{seq_dir} has neither seqinfo.ini nor img1/; expected a MOTChallenge sequence"
            )
        if not files:
            raise ValueError(f"no JPEG/PNG frames in {frames_dir} and no seqinfo.ini beside it")
        name, num_frames, fps = seq_dir.name, len(files), None
        height, width = read_image_rgb(files[0]).shape[:2]
    else:
        name = info.get("name", seq_dir.name)
        num_frames = _seqinfo_number(info, "seqLength", info_path, int)
        width = _seqinfo_number(info, "imWidth", info_path, int)
        height = _seqinfo_number(info, "imHeight", info_path, int)
        fps = _seqinfo_number(info, "frameRate", info_path, float) if "framerate" in info else None
        if files is not None and len(files) != num_frames:
            raise ValueError(
                f"{info_path} says seqLength={num_frames} but {frames_dir} holds {len(files)} "
                "frames"
            )
    gt_path = seq_dir / "gt" / "gt.txt"
    return MotSequence(
        name=name,
        frames_dir=frames_dir if files is not None else None,
        num_frames=num_frames,
        width=width,
        height=height,
        fps=fps,
        gt=read_mot_file(gt_path, num_frames) if gt_path.is_file() else None,
    )
