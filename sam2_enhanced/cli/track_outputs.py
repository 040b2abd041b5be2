"""The files ``sam2e track`` writes, frame by frame (see :mod:`sam2_enhanced.cli.track`).

- ``annotated.mp4`` (unless ``--no-video``);
- ``results.txt``: MOTChallenge result lines with the class name as an 11th column;
- ``masks/00000.png`` ... palette PNGs and ``masks.json`` (COCO RLE) of the prompted objects
  (unless ``--no-masks``, and only when objects are prompted);
- ``summary.json`` (written by the caller).

Every file of this list that a previous run left in the folder is removed first, so a folder
never mixes two runs' outputs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

import numpy as np
import supervision as sv
from PIL import Image

from sam2_enhanced.data.writers import davis_palette
from sam2_enhanced.predictor.annotate import FrameAnnotator, VideoWriter, label_map
from sam2_enhanced.predictor.class_names import UNKNOWN_CLASS

OUTPUT_FILES = ("annotated.mp4", "results.txt", "masks.json", "summary.json")  # + masks/*.png


def clear_previous_outputs(out_dir: Path) -> list[Path]:
    """Remove what an earlier ``track`` run wrote into ``out_dir`` (only those files); returns
    the removed paths."""
    removed = [out_dir / name for name in OUTPUT_FILES if (out_dir / name).is_file()]
    removed += sorted((out_dir / "masks").glob("*.png")) if (out_dir / "masks").is_dir() else []
    for path in removed:
        path.unlink()
    return removed


def mot_lines(
    frame_idx: int, detections: sv.Detections, names: Mapping[int, str] | None = None
) -> str:
    """MOTChallenge result lines of one frame (1-based frame number, x, y, w, h pixels), the
    class name (``names[class_id]``, "object" when unknown) as an 11th column."""
    names = names or {}
    class_ids = detections.class_id
    if class_ids is None:
        class_ids = np.full(len(detections), -1)
    lines = []
    for (x0, y0, x1, y1), conf, track_id, class_id in zip(
        detections.xyxy, detections.confidence, detections.tracker_id, class_ids, strict=True
    ):
        name = names.get(int(class_id), UNKNOWN_CLASS).replace(",", " ")
        lines.append(
            f"{frame_idx + 1},{int(track_id)},{x0:.2f},{y0:.2f},{x1 - x0:.2f},{y1 - y0:.2f},"
            f"{conf:.4f},-1,-1,-1,{name}\n"
        )
    return "".join(lines)


def write_label_png(labels: np.ndarray, path: Path) -> None:
    """(H, W) uint8 labels -> palette PNG (DAVIS colours)."""
    image = Image.fromarray(labels)  # mode "L"
    image.putpalette(davis_palette().reshape(-1).tolist())  # mode "P", values kept
    image.save(path)


def rle_records(frame_idx: int, labels: np.ndarray, obj_ids: list[int]) -> list[dict]:
    """COCO RLE of each object's mask (label ``k`` = ``obj_ids[k - 1]``) on one frame: the same
    pixels as the palette PNG; ``counts`` is COCO's compressed string (``pycocotools`` reads
    it). Objects with an empty mask are left out."""
    height, width = labels.shape
    records = []
    for k, obj_id in enumerate(obj_ids, start=1):
        mask = labels == k  # (H, W)
        if mask.any():
            records.append(
                {
                    "frame": frame_idx,
                    "obj_id": int(obj_id),
                    "area": int(mask.sum()),
                    "segmentation": {
                        "size": [height, width],
                        "counts": sv.mask_to_rle(mask, compressed=True),
                    },
                }
            )
    return records


class TrackOutputs:
    """The output files of one tracking run, written frame by frame (a context manager)."""

    def __init__(
        self,
        out_dir: Path,
        *,
        video_hw: tuple[int, int],
        fps: float,
        names: Mapping[int, str],
        masks: bool,
        video: bool = True,
    ) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        clear_previous_outputs(out_dir)
        height, width = video_hw
        self.names = dict(names)
        self.files = {
            "annotated_video": out_dir / "annotated.mp4" if video else None,
            "results": out_dir / "results.txt",
            "masks": out_dir / "masks" if masks else None,
            "masks_rle": out_dir / "masks.json" if masks else None,
            "summary": out_dir / "summary.json",
        }
        self.writer = None
        if video:
            class_list = [self.names[k] for k in sorted(self.names) if k >= 0]
            self.annotator = FrameAnnotator(class_list, (width, height))
            self.writer = VideoWriter(
                self.files["annotated_video"], fps=fps, width=width, height=height
            )
        self.rle: TextIO | None = None
        if masks:
            self.files["masks"].mkdir(exist_ok=True)
            self.rle = open(self.files["masks_rle"], "w")  # noqa: SIM115 closed in close()
            self.rle.write("[")
        self.results: TextIO = open(self.files["results"], "w")  # noqa: SIM115 closed in close()
        self.num_frames = 0
        self.num_detections = 0
        self.num_rle = 0

    def add(
        self, frame: np.ndarray | None, frame_idx: int, obj_ids, mask_logits, detections
    ) -> None:
        """One tracked frame: (H, W, 3) RGB (None with no video), the output's obj ids,
        (O, 1, H, W) logits, its detections."""
        if self.writer is not None:
            self.writer.write(self.annotator.annotate(frame, detections))
        self.results.write(mot_lines(frame_idx, detections, self.names))
        if self.files["masks"] is not None:
            labels = label_map(mask_logits.numpy())  # (H, W)
            write_label_png(labels, self.files["masks"] / f"{frame_idx:05d}.png")
            for record in rle_records(frame_idx, labels, list(obj_ids)):
                self.rle.write(("," if self.num_rle else "") + "\n" + json.dumps(record))
                self.num_rle += 1
        self.num_frames += 1
        self.num_detections += len(detections)

    def close(self) -> None:
        self.results.close()
        if self.rle is not None:
            self.rle.write("\n]\n")
            self.rle.close()
        if self.writer is not None:
            self.writer.close()

    def __enter__(self) -> TrackOutputs:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
