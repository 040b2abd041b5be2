"""Evaluation cases: one sequence and its ground truth, read from disk or generated.

A case's ``frames`` is anything ``open_frames`` accepts (a folder of frames, a video file, or a
(T, H, W, 3) uint8 array). Cases are found without being read: :func:`find_cases` and
:func:`synthetic_cases` return :class:`CaseRef` s whose ``load()`` reads (or generates) the
sequence, so one unreadable sequence fails on its own when the harness loads it.

Layouts found on disk (a ``--data`` path is one sequence, or a folder of sequences):

- ``sot``: a folder with ``groundtruth_rect.txt`` / ``groundtruth.txt`` (OTB, UAV123, GOT-10k,
  Anti-UAV; see :mod:`sam2_enhanced.data.readers_sot`).
- ``mot``: a MOTChallenge sequence (``seqinfo.ini`` and/or ``img1/``, ``gt/gt.txt``), or a
  VisDrone-MOT root (``sequences/<name>/`` + ``annotations/<name>.txt``).
- ``vos``: a DAVIS-style root (``JPEGImages/`` + ``Annotations/``, flat or per-resolution).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from sam2_enhanced.data.frames import list_image_files, natural_sort_key
from sam2_enhanced.data.readers_davis import read_davis_sequence
from sam2_enhanced.data.readers_mot import read_mot_sequence, read_visdrone_mot_file
from sam2_enhanced.data.readers_sot import GROUNDTRUTH_NAMES, read_sot_sequence
from sam2_enhanced.data.splits import split_seeds
from sam2_enhanced.data.synthetic import SyntheticVideoConfig, generate_video
from sam2_enhanced.evaluation.mot import TrackSequence

TASKS = ("sot", "mot", "vos")


@dataclass
class SotCase:
    """One single-object sequence: the target's box per frame."""

    name: str
    frames: Any  # folder / video path or (T', H, W, 3) uint8 array with T' >= T
    boxes_xyxy: np.ndarray  # (T, 4) float64 GT pixels, NaN rows where the target is absent
    present: np.ndarray  # (T,) bool

    @property
    def num_frames(self) -> int:
        return int(self.boxes_xyxy.shape[0])

    @property
    def init_frame(self) -> int:
        """First frame where the target is present: trackers start there (OTB: frame 0)."""
        present = np.flatnonzero(self.present)
        if present.size == 0:
            raise ValueError(f"{self.name}: the target is absent in every frame; nothing to track")
        return int(present[0])

    def truncated(self, max_frames: int) -> SotCase:
        return replace(
            self, boxes_xyxy=self.boxes_xyxy[:max_frames], present=self.present[:max_frames]
        )


@dataclass
class MotCase:
    """One multi-object sequence: GT ids and boxes per frame."""

    name: str
    frames: Any  # folder / video path or (T', H, W, 3) uint8 array with T' >= T
    gt: TrackSequence  # T frames of GT ids and xyxy boxes
    fps: float | None  # frame rate when known

    @property
    def num_frames(self) -> int:
        return self.gt.num_frames

    def truncated(self, max_frames: int) -> MotCase:
        gt = TrackSequence(self.gt.ids[:max_frames], self.gt.boxes_xyxy[:max_frames])
        return replace(self, gt=gt)


@dataclass
class VosCase:
    """One video-object-segmentation sequence: per-object masks on its annotated frames."""

    name: str
    frames: Any  # folder / video path or (T', H, W, 3) uint8 array with T' >= num_frames
    num_frames: int  # T, frames to track
    masks: np.ndarray  # (A, O, H, W) bool GT on the annotated frames
    object_ids: np.ndarray  # (O,) int64 object id of each mask channel
    annotated_frames: np.ndarray  # (A,) int64 ascending frame index of each entry of masks

    def prompt_frames(self) -> np.ndarray:
        """(O,) int64 first annotated frame where each object's mask is non-empty (-1: never)."""
        seen = self.masks.any(axis=(2, 3))  # (A, O)
        first = seen.argmax(axis=0)  # (O,)
        return np.where(seen.any(axis=0), self.annotated_frames[first], -1)

    def truncated(self, max_frames: int) -> VosCase:
        keep = self.annotated_frames < max_frames  # (A,)
        return replace(
            self,
            num_frames=min(self.num_frames, max_frames),
            masks=self.masks[keep],
            annotated_frames=self.annotated_frames[keep],
        )


Case = SotCase | MotCase | VosCase


@dataclass
class CaseRef:
    """A sequence to evaluate, read only when ``load()`` is called."""

    name: str
    load: Callable[[], Case]


def case_loader(read: Callable[[], Case], max_frames: int | None) -> Callable[[], Case]:
    def load() -> Case:
        case = read()
        return case if max_frames is None else case.truncated(max_frames)

    return load


# ------------------------------------------------------------------------------------ from disk
def _sot_case(seq_dir: Path) -> SotCase:
    seq = read_sot_sequence(seq_dir)
    return SotCase(seq.name, seq.frames, seq.boxes_xyxy, seq.present)


def _mot_case(seq_dir: Path) -> MotCase:
    seq = read_mot_sequence(seq_dir)
    if seq.gt is None:
        raise FileNotFoundError(f"{seq_dir} has no gt/gt.txt; evaluation needs ground truth")
    if seq.frames_dir is None:
        raise FileNotFoundError(f"{seq_dir} has no frames folder (img1/); cannot run trackers")
    considered = [conf != 0 for conf in seq.gt.confidences]  # MOT17 GT: conf 0 = ignore
    gt = TrackSequence(
        [ids[keep] for ids, keep in zip(seq.gt.ids, considered, strict=True)],
        [boxes[keep] for boxes, keep in zip(seq.gt.boxes_xyxy, considered, strict=True)],
    )
    return MotCase(seq.name, seq.frames_dir, gt, seq.fps)


def _visdrone_case(root: Path, name: str) -> MotCase:
    frames_dir = root / "sequences" / name
    if not frames_dir.is_dir():
        raise FileNotFoundError(f"no frames folder {frames_dir} for {root / 'annotations'}")
    num_frames = len(list_image_files(frames_dir))
    ann = read_visdrone_mot_file(root / "annotations" / f"{name}.txt", num_frames)
    considered = [score != 0 for score in ann.scores]  # VisDrone GT: score 0 = ignore
    gt = TrackSequence(
        [ids[keep] for ids, keep in zip(ann.ids, considered, strict=True)],
        [boxes[keep] for boxes, keep in zip(ann.boxes_xyxy, considered, strict=True)],
    )
    return MotCase(name, frames_dir, gt, None)


def _vos_case(root: Path, name: str | None) -> VosCase:
    seq = read_davis_sequence(root, name)
    return VosCase(
        seq.name,
        seq.frames,
        seq.num_frames,
        seq.masks,
        seq.object_ids,
        seq.annotated_frames,
    )


def _subfolders(path: Path) -> list[Path]:
    children = [p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return sorted(children, key=lambda p: natural_sort_key(p.name))


def _davis_names(root: Path) -> list[str | None]:
    """Sequences of a DAVIS-style root: [None] when its JPEGImages/ holds the frames directly."""
    if list_image_files(root / "JPEGImages"):
        return [None]
    annotations = root / "Annotations"
    by_resolution = annotations / "480p"
    folder = by_resolution if by_resolution.is_dir() else annotations
    return [p.name for p in _subfolders(folder)]


def _refs_in(task: str, path: Path, max_frames: int | None) -> list[CaseRef] | None:
    """The cases when ``path`` is a sequence (or a dataset root) of ``task``, else None."""
    if task == "sot" and any((path / name).is_file() for name in GROUNDTRUTH_NAMES):
        return [CaseRef(path.name, case_loader(partial(_sot_case, path), max_frames))]
    if task == "mot" and ((path / "seqinfo.ini").is_file() or (path / "img1").is_dir()):
        return [CaseRef(path.name, case_loader(partial(_mot_case, path), max_frames))]
    if task == "mot" and (path / "sequences").is_dir() and (path / "annotations").is_dir():
        names = sorted((p.stem for p in (path / "annotations").glob("*.txt")), key=natural_sort_key)
        return [
            CaseRef(name, case_loader(partial(_visdrone_case, path, name), max_frames))
            for name in names
        ]
    if task == "vos" and (path / "JPEGImages").is_dir() and (path / "Annotations").is_dir():
        return [
            CaseRef(name or path.name, case_loader(partial(_vos_case, path, name), max_frames))
            for name in _davis_names(path)
        ]
    return None


def _child_refs(task: str, child: Path, max_frames: int | None) -> list[CaseRef]:
    """A sub-folder's cases; one that does not look like a sequence is still tried (and fails
    with the reader's message when loaded)."""
    found = _refs_in(task, child, max_frames)
    if found is not None:
        return found
    read = {"sot": _sot_case, "mot": _mot_case, "vos": partial(_vos_case, name=None)}[task]
    return [CaseRef(child.name, case_loader(partial(read, child), max_frames))]


def find_cases(
    task: str, paths: list[str | os.PathLike], max_frames: int | None = None
) -> list[CaseRef]:
    """Cases of ``task`` under each path: the path itself if it is a sequence (or a dataset
    root), else every sub-folder, each read lazily.

    Raises ``FileNotFoundError`` for a missing path and ``ValueError`` for a path that is not a
    sequence and has no sub-folder.
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    refs: list[CaseRef] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.is_dir():
            raise FileNotFoundError(
                f"--data {path}: no such folder; give a sequence folder or a folder of sequences"
            )
        found = _refs_in(task, path, max_frames)
        if found is None:
            children = _subfolders(path)
            if not children:
                raise ValueError(
                    f"--data {path}: not a {task} sequence and no sub-folders to search; see "
                    f"`sam2e eval --help` for the {task} layouts"
                )
            found = [ref for child in children for ref in _child_refs(task, child, max_frames)]
        refs += found
    return refs


# ------------------------------------------------------------------------------------ synthetic
def synthetic_case(task: str, seed: int, cfg: SyntheticVideoConfig) -> Case:
    video = generate_video(seed, cfg)
    name = f"synthetic-{seed}"
    visible = video.visibility > 0  # (T, O)
    if task == "sot":  # the first object, from the first frame where it is visible
        boxes = video.boxes_xyxy[:, 0].astype(np.float64)  # (T, 4)
        boxes[~visible[:, 0]] = np.nan
        return SotCase(name, video.frames, boxes, visible[:, 0].copy())
    if task == "mot":
        gt = TrackSequence(
            [video.track_ids[v] for v in visible],
            [video.boxes_xyxy[t, v].astype(np.float64) for t, v in enumerate(visible)],
        )
        return MotCase(name, video.frames, gt, None)
    return VosCase(
        name,
        video.frames,
        video.num_frames,
        video.masks,
        video.track_ids.copy(),
        np.arange(video.num_frames, dtype=np.int64),
    )


def synthetic_cases(
    task: str,
    num_videos: int,
    cfg: SyntheticVideoConfig | None = None,
    split: str = "test",
    max_frames: int | None = None,
) -> list[CaseRef]:
    """The first ``num_videos`` generated videos of ``split`` as cases.

    ``split`` is a seed range of :mod:`sam2_enhanced.data.splits`: "test" (default, never used
    to choose anything), "val" (what training validates on) or "train". SOT follows the
    video's first object; MOT and VOS use every object.
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    if num_videos < 1:
        raise ValueError(f"--synthetic needs at least 1 video, got {num_videos}")
    seeds = split_seeds(split, num_videos)
    cfg = SyntheticVideoConfig() if cfg is None else cfg
    return [
        CaseRef(
            f"synthetic-{seed}",
            case_loader(partial(synthetic_case, task, seed, cfg), max_frames),
        )
        for seed in seeds
    ]
