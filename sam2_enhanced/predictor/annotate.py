"""Draw tracking results on frames with ``supervision`` and stream them into a video with PyAV.

:class:`FrameAnnotator` layers a mask, a box, a label (``#<tracker_id> <class name>``) and a
trace of each track's recent centres; colours follow ``tracker_id`` so an object keeps its
colour for the whole video. :class:`VideoWriter` encodes RGB frames one at a time (H.264 when
PyAV has ``libx264``, else MPEG-4 Part 2), so writing an annotated video never holds more than
one frame.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import supervision as sv

from sam2_enhanced.predictor.class_names import UNKNOWN_CLASS_ID, class_name

logger = logging.getLogger(__name__)

MIN_TEXT_SCALE = 0.35  # smallest OpenCV font scale that stays readable on small videos


def detection_labels(detections: sv.Detections, class_names: Sequence[str]) -> list[str]:
    """One label per row: ``"#<tracker_id> <class name> <confidence>"`` (parts that exist)."""
    labels = []
    for i in range(len(detections)):
        parts = []
        if detections.tracker_id is not None:
            parts.append(f"#{int(detections.tracker_id[i])}")
        class_id = UNKNOWN_CLASS_ID if detections.class_id is None else int(detections.class_id[i])
        parts.append(class_name(class_id, class_names))
        if detections.confidence is not None:
            parts.append(f"{float(detections.confidence[i]):.2f}")
        labels.append(" ".join(parts))
    return labels


class FrameAnnotator:
    """Masks, boxes, labels and traces of one video's detections, frame after frame.

    Keep one instance per video: the trace annotator remembers each track's past centres.
    """

    def __init__(
        self, class_names: Sequence[str], resolution_wh: tuple[int, int], trace_length: int = 30
    ) -> None:
        """Line widths and text size follow ``resolution_wh`` (width, height) of the video."""
        by_track = sv.ColorLookup.TRACK
        thickness = max(1, sv.calculate_optimal_line_thickness(resolution_wh) // 2)
        text_scale = max(MIN_TEXT_SCALE, sv.calculate_optimal_text_scale(resolution_wh))
        self.class_names = tuple(class_names)
        self.mask = sv.MaskAnnotator(opacity=0.45, color_lookup=by_track)
        self.box = sv.BoxAnnotator(thickness=thickness, color_lookup=by_track)
        self.label = sv.LabelAnnotator(
            color_lookup=by_track, text_scale=text_scale, text_padding=2, smart_position=True
        )
        self.trace = sv.TraceAnnotator(
            color_lookup=by_track, trace_length=trace_length, thickness=thickness
        )

    def annotate(self, frame_rgb: np.ndarray, detections: sv.Detections) -> np.ndarray:
        """Return a new (H, W, 3) uint8 RGB frame with ``detections`` drawn on ``frame_rgb``.

        Non-empty ``detections`` must carry ``tracker_id`` (colours and traces follow it);
        ``mask`` is drawn when present.
        """
        if len(detections) == 0:
            return frame_rgb.copy()
        if detections.tracker_id is None:
            raise ValueError(
                "detections need tracker_id to be annotated (colours and traces follow it); "
                "set detections.tracker_id to an (N,) int array"
            )
        scene = np.ascontiguousarray(frame_rgb[:, :, ::-1])  # RGB -> BGR, supervision's order
        if detections.mask is not None:
            scene = self.mask.annotate(scene, detections)
        scene = self.box.annotate(scene, detections)
        scene = self.trace.annotate(scene, detections)
        labels = detection_labels(detections, self.class_names)
        scene = self.label.annotate(scene, detections, labels=labels)
        return np.ascontiguousarray(scene[:, :, ::-1])  # BGR -> RGB


class VideoWriter:
    """Encode (H, W, 3) uint8 RGB frames into a video file, one frame at a time.

    Odd frame sides are padded by one replicated row / column (yuv420p needs even sides).
    Use as a context manager, or call :meth:`close`.
    """

    def __init__(
        self, path: str | Path, *, fps: float, width: int, height: int, codec: str = "libx264"
    ) -> None:
        if fps <= 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        if width < 1 or height < 1:
            raise ValueError(f"width and height must be >= 1, got {width}x{height}")
        if codec not in av.codecs_available:
            fallback = "mpeg4"
            logger.info("PyAV has no %s encoder; writing %s", codec, fallback)
            codec = fallback
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.width, self.height = width, height
        self.num_frames = 0
        self._container = av.open(str(self.path), mode="w")
        self._stream = self._container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
        self._stream.width, self._stream.height = width + width % 2, height + height % 2
        self._stream.pix_fmt = "yuv420p"
        if codec == "libx264":
            self._stream.options = {"crf": "20"}

    def write(self, frame_rgb: np.ndarray) -> None:
        """Append one (H, W, 3) uint8 RGB frame of the size given at construction."""
        frame = np.asarray(frame_rgb)
        if frame.dtype != np.uint8 or frame.shape != (self.height, self.width, 3):
            raise ValueError(
                f"frame must be uint8 of shape ({self.height}, {self.width}, 3), got "
                f"{frame.dtype} {frame.shape}"
            )
        pad = ((0, self.height % 2), (0, self.width % 2), (0, 0))
        frame = np.ascontiguousarray(np.pad(frame, pad, mode="edge"))  # (H', W', 3) even sides
        video_frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
        self._container.mux(self._stream.encode(video_frame))
        self.num_frames += 1

    def close(self) -> None:
        """Flush the encoder and close the file (idempotent)."""
        if self._container is None:
            return
        try:
            self._container.mux(self._stream.encode())  # flush delayed frames
        finally:
            self._container.close()
            self._container = None

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def label_map(mask_logits: np.ndarray) -> np.ndarray:
    """Per-object mask logits -> one label per pixel, as DAVIS palette PNGs store them.

    Args:
        mask_logits: (O, 1, H, W) or (O, H, W) float logits, O <= 255.

    Returns:
        (H, W) uint8: 0 background, ``k`` where object ``k - 1`` (0-based) has a positive logit,
        the largest one where several overlap.
    """
    logits = np.asarray(mask_logits, dtype=np.float32)
    if logits.ndim == 4:
        logits = logits[:, 0]  # (O, H, W)
    if logits.ndim != 3 or logits.shape[0] > 255:
        raise ValueError(
            f"mask_logits must be (O, 1, H, W) or (O, H, W) with O <= 255, got {logits.shape}"
        )
    if logits.shape[0] == 0:
        return np.zeros(logits.shape[1:], dtype=np.uint8)
    best = logits.argmax(axis=0)  # (H, W) index of the largest logit
    return np.where(logits.max(axis=0) > 0, best + 1, 0).astype(np.uint8)
