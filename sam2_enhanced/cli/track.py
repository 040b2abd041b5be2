"""``sam2e track``: track prompted objects (or everything the detector finds) through a video.

Outputs in the output folder:

- ``annotated.mp4``: masks, boxes, labels (``#<tracker_id> <class name> <confidence>``) and
  traces drawn on every tracked frame (not with ``write_video=False``, ``--no-video``);
- ``results.txt``: MOTChallenge result lines ``frame,id,x,y,w,h,conf,-1,-1,-1,class`` (1-based
  frame, top-left ``x, y`` in pixels, the class name last), one per ``detections`` row;
- ``masks/00000.png`` ...: one palette PNG per tracked frame (0-based names as DAVIS), pixel
  value ``k`` = the ``k``-th prompted object (``summary.json`` maps values to obj ids), and the
  same masks as COCO RLE in ``masks.json``; written only when objects are prompted (and not
  with ``write_masks=False``, ``--no-masks``);
- ``summary.json``: frames, speed, objects, detection count, model, file paths.

Files of this list left by an earlier run in the folder are removed first
(:mod:`sam2_enhanced.cli.track_outputs`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import supervision as sv
from PIL import Image
from tqdm import tqdm

from sam2_enhanced.cli.track_outputs import TrackOutputs
from sam2_enhanced.evaluation.report import write_json

DEFAULT_FPS = 30.0  # frame rate of the annotated video when the input does not say


# -------------------------------------------------------------------------------------- prompts
def read_mask_png(path: str | Path) -> np.ndarray:
    """A mask image -> (H, W) bool: palette PNGs non-zero (not 255 void), others > 127."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--mask {path}: no such file")
    try:
        with Image.open(path) as image:
            image.load()
    except OSError as err:
        raise ValueError(f"--mask {path}: cannot read it as an image ({err})") from None
    if image.mode == "P":
        values = np.asarray(image)  # (H, W) palette indices
        return (values != 0) & (values != 255)
    return np.asarray(image.convert("L")) > 127  # (H, W)


@dataclass
class ObjectPrompt:
    """One object's prompt on one frame: a box and/or clicks, or a mask (video pixels)."""

    obj_id: int  # the predictor's object id
    frame_idx: int  # frame the prompt is given on
    box_xyxy: np.ndarray | None = None  # (4,) pixels
    points_xy: np.ndarray | None = None  # (P, 2)
    point_labels: np.ndarray | None = None  # (P,) 1 positive, 0 negative
    mask: np.ndarray | None = field(default=None, repr=False)  # (H, W) bool

    @property
    def kind(self) -> str:
        if self.mask is not None:
            return "mask"
        parts = ["box"] if self.box_xyxy is not None else []
        return "+".join(parts + (["points"] if self.points_xy is not None else []))

    def apply(self, predictor, state) -> None:
        """Add this prompt to ``state``."""
        if self.mask is not None:
            predictor.add_new_mask(state, self.frame_idx, self.obj_id, self.mask)
            return
        predictor.add_new_points_or_box(
            state,
            self.frame_idx,
            self.obj_id,
            points=self.points_xy,
            labels=self.point_labels,
            box=self.box_xyxy,
        )


def build_prompts(
    boxes: list[np.ndarray],
    point_groups: list[list[tuple[float, float, int]]],
    mask_paths: list[str],
    obj_ids: list[int] | None,
    frame_idx: int,
) -> list[ObjectPrompt]:
    """One :class:`ObjectPrompt` per object from the ``track`` arguments.

    Each ``--box``, ``--points`` group or ``--mask`` is one object; with both ``--box`` and
    ``--points`` the i-th group refines the i-th box (SAM 2's box + clicks), so their counts
    must match. A mask cannot be combined with boxes or points.
    """
    if mask_paths and (boxes or point_groups):
        raise ValueError(
            "--mask cannot be combined with --box/--points: it would be unclear which object "
            "each prompt belongs to; prompt with masks only, or with boxes/points only"
        )
    if boxes and point_groups and len(boxes) != len(point_groups):
        raise ValueError(
            f"got {len(boxes)} --box and {len(point_groups)} --points: with both, the i-th "
            "--points refines the i-th --box, so give them the same number of times (or use "
            "only one kind)"
        )
    num_objects = max(len(boxes), len(point_groups), len(mask_paths))
    if obj_ids is None:
        obj_ids = list(range(1, num_objects + 1))
    if len(obj_ids) != num_objects:
        raise ValueError(
            f"--obj-id gives {len(obj_ids)} ids for {num_objects} prompted objects; give one id "
            "per object, in the order of the prompts"
        )
    if len(set(obj_ids)) != len(obj_ids) or min(obj_ids, default=0) < 0:
        raise ValueError(f"--obj-id values must be distinct and >= 0, got {obj_ids}")
    if frame_idx < 0:
        raise ValueError(f"--frame must be >= 0, got {frame_idx}")
    prompts = []
    for i, obj_id in enumerate(obj_ids):
        prompt = ObjectPrompt(obj_id=obj_id, frame_idx=frame_idx)
        if mask_paths:
            prompt.mask = read_mask_png(mask_paths[i])
        if boxes:
            prompt.box_xyxy = boxes[i]
        if point_groups:
            clicks = np.array(point_groups[i], dtype=np.float64)  # (P, 3)
            prompt.points_xy, prompt.point_labels = clicks[:, :2], clicks[:, 2].astype(np.int32)
        prompts.append(prompt)
    return prompts


# ------------------------------------------------------------------------------------ tracking
@dataclass
class TrackSummary:
    """What ``summary.json`` holds."""

    video: str  # the input
    model: str  # checkpoint folder / Hub id, or "default" (bundled)
    width: int  # video width in pixels
    height: int  # video height in pixels
    video_fps: float | None  # frame rate of the input when known
    first_frame: int  # first tracked frame (the earliest prompt, else 0)
    frames: int  # frames tracked
    seconds: float  # wall time of the tracking loop (model + writing outputs)
    fps: float  # frames / seconds
    detections: int  # detections rows over all frames (lines of results.txt)
    objects: list[dict[str, Any]]  # per prompted object: obj_id, mask_value, prompt, frame
    files: dict[str, str | None]  # annotated_video, results, masks, masks_rle, summary
    classes: list[int] | None = None  # class ids kept (--classes; None: all)


def keep_classes(
    detections: sv.Detections, classes: set[int] | None, obj_ids: list[int]
) -> sv.Detections:
    """The rows of ``classes`` (``--classes``) plus every prompted object's row; all with None."""
    if classes is None or len(detections) == 0:
        return detections
    keep = np.isin(detections.class_id, sorted(classes)) | np.isin(detections.tracker_id, obj_ids)
    return detections[keep]


def _summary(
    video: Any,
    model_name: str,
    state,
    first: int,
    seconds: float,
    outputs: TrackOutputs,
    prompts: list[ObjectPrompt],
    classes: set[int] | None,
) -> TrackSummary:
    return TrackSummary(
        video=str(video) if isinstance(video, str | Path) else getattr(video, "name", "frames"),
        model=model_name,
        width=state.video_width,
        height=state.video_height,
        video_fps=state.frames.fps,
        first_frame=first,
        frames=outputs.num_frames,
        seconds=seconds,
        fps=outputs.num_frames / seconds if seconds > 0 else float("nan"),
        detections=outputs.num_detections,
        objects=[
            {"obj_id": p.obj_id, "mask_value": k, "prompt": p.kind, "frame": p.frame_idx}
            for k, p in enumerate(prompts, start=1)
        ],
        files={k: None if v is None else str(v) for k, v in outputs.files.items()},
        classes=None if classes is None else sorted(classes),
    )


def track_video(
    predictor,
    video: Any,
    prompts: list[ObjectPrompt],
    out_dir: str | Path,
    *,
    max_frames: int | None = None,
    model_name: str = "default",
    progress: bool = True,
    classes: set[int] | None = None,
    write_video: bool = True,
    write_masks: bool = True,
) -> TrackSummary:
    """Prompt ``prompts`` (none: detection-driven tracking), propagate forward from the earliest
    prompted frame and write the outputs listed in the module docstring into ``out_dir``.

    ``progress``: a frame progress bar on stderr when stderr is a terminal (none in a log file or
    a pipe); False: never. ``classes``: report only detections of these class ids (prompted
    objects always). ``write_video`` / ``write_masks``: False skips ``annotated.mp4`` / the
    mask PNGs and ``masks.json``.
    """
    if max_frames is not None and max_frames < 1:
        raise ValueError(f"--max-frames must be >= 1, got {max_frames}")
    state = predictor.init_state(video)
    source = state.frames
    try:
        for prompt in prompts:
            prompt.apply(predictor, state)
        first = min((p.frame_idx for p in prompts), default=0)
        total = None if source.num_frames is None else source.num_frames - first
        if max_frames is not None:
            total = max_frames if total is None else min(total, max_frames)
        outputs = TrackOutputs(
            Path(out_dir),
            video_hw=(state.video_height, state.video_width),
            fps=source.fps or DEFAULT_FPS,
            names=predictor.names,
            masks=bool(prompts) and write_masks,
            video=write_video,
        )
        begin = time.perf_counter()
        frames = predictor.propagate_in_video(
            state, first, max_frame_num_to_track=None if max_frames is None else max_frames - 1
        )
        # disable=None: no bar when stderr is not a terminal (a log file gets no redraws)
        bar = tqdm(total=total, unit="frame", desc="tracking", disable=None if progress else True)
        with outputs, bar:
            for frame_idx, obj_ids, mask_logits, detections in frames:
                frame = source.get(frame_idx) if write_video else None
                detections = keep_classes(detections, classes, obj_ids)
                outputs.add(frame, frame_idx, obj_ids, mask_logits, detections)
                bar.update(1)
        seconds = time.perf_counter() - begin
    finally:
        source.close()
    summary = _summary(video, model_name, state, first, seconds, outputs, prompts, classes)
    write_json(summary, outputs.files["summary"])
    return summary
