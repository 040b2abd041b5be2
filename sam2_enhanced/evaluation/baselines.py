"""Baseline trackers run under the same protocol as ours.

- :class:`OpenCVTracker`: OpenCV's CSRT / KCF single-object trackers (opencv-contrib).
- :class:`ByteTrackBaseline`: ByteTrack over given per-frame detections, from Roboflow's
  maintained ``trackers`` package (``supervision`` 0.31 no longer ships ``sv.ByteTrack``).
- :class:`SingleObjectTracker` and :func:`run_sot`: the protocol and harness for SOT evaluation.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple, Protocol, runtime_checkable

import cv2
import numpy as np
import supervision as sv

_OPENCV_FACTORIES = {"csrt": "TrackerCSRT_create", "kcf": "TrackerKCF_create"}


@runtime_checkable
class SingleObjectTracker(Protocol):
    """A tracker given one box on the first frame that returns a box (or None) per later frame."""

    def init(self, frame: np.ndarray, box_xyxy: np.ndarray) -> None:
        """Start tracking the object in ``box_xyxy`` (4,) pixels on ``frame`` (H, W, 3) RGB."""

    def update(self, frame: np.ndarray) -> np.ndarray | None:
        """Return the (4,) ``xyxy`` box on the next ``frame``, or None when the target is lost."""


MIN_INIT_SIDE = 4.0  # pixels: smaller initial boxes are grown to this side for OpenCV


def _check_box_xyxy(box_xyxy: np.ndarray) -> np.ndarray:
    box = np.asarray(box_xyxy, dtype=np.float64).reshape(-1)
    if box.shape != (4,) or not np.isfinite(box).all():
        raise ValueError(f"box must have 4 finite values [x0, y0, x1, y1], got {box_xyxy!r}")
    if box[2] <= box[0] or box[3] <= box[1]:
        raise ValueError(f"box must have x1 > x0 and y1 > y0 (pixels, xyxy), got {box.tolist()}")
    return box


def _to_bgr(frame_rgb: np.ndarray) -> np.ndarray:
    frame = np.asarray(frame_rgb)
    if frame.dtype != np.uint8:
        raise TypeError(f"frame must be uint8 (H, W, 3) RGB, got dtype {frame.dtype}")
    if frame.ndim == 2:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"frame must have shape (H, W, 3) RGB or (H, W) gray, got {frame.shape}")
    return np.ascontiguousarray(frame[:, :, ::-1])  # RGB -> BGR


def _opencv_factory(kind: str):
    """The ``Tracker*_create`` function for ``kind``, from ``cv2`` or ``cv2.legacy``."""
    if kind not in _OPENCV_FACTORIES:
        raise ValueError(f"kind must be one of {sorted(_OPENCV_FACTORIES)}, got {kind!r}")
    name = _OPENCV_FACTORIES[kind]
    for module in (cv2, getattr(cv2, "legacy", None)):
        if module is not None and hasattr(module, name):
            return getattr(module, name)
    raise ImportError(
        f"this OpenCV build ({cv2.__version__}) has no {name}; the CSRT and KCF trackers live in "
        "the contrib modules: pip install opencv-contrib-python-headless (and uninstall other "
        "opencv-python* packages that shadow it)"
    )


class OpenCVTracker:
    """OpenCV CSRT or KCF tracker behind the :class:`SingleObjectTracker` protocol.

    Boxes go in and out as ``xyxy`` float pixels; OpenCV itself works on integer ``xywh``
    rectangles, so boxes are rounded to whole pixels.
    """

    def __init__(self, kind: str = "csrt") -> None:
        self.kind = kind
        self._create = _opencv_factory(kind)
        self._tracker = None

    def init(self, frame: np.ndarray, box_xyxy: np.ndarray) -> None:
        box = _check_box_xyxy(box_xyxy)
        # OpenCV's trackers fail on boxes of a pixel or two: grow them around their centre
        centre = (box[:2] + box[2:]) / 2
        side = np.maximum(box[2:] - box[:2], MIN_INIT_SIDE)
        x0, y0 = (int(v) for v in np.clip(np.round(centre - side / 2), 0, None))
        width = min(round(side[0]), frame.shape[1] - x0)
        height = min(round(side[1]), frame.shape[0] - y0)
        self._tracker = self._create()
        self._tracker.init(_to_bgr(frame), (x0, y0, width, height))

    def update(self, frame: np.ndarray) -> np.ndarray | None:
        if self._tracker is None:
            raise RuntimeError("call init(frame, box_xyxy) before update(frame)")
        ok, rect = self._tracker.update(_to_bgr(frame))
        if not ok:
            return None
        x, y, width, height = (float(v) for v in rect)
        return np.array([x, y, x + width, y + height])


def run_sot(
    tracker: SingleObjectTracker, frames: Iterable[np.ndarray], init_box_xyxy: np.ndarray
) -> np.ndarray:
    """Run a single-object tracker over a clip, OTB style.

    Args:
        tracker: any :class:`SingleObjectTracker`.
        frames: the clip's (H, W, 3) uint8 RGB frames in order; the first is the init frame.
        init_box_xyxy: (4,) target box on the first frame.

    Returns:
        (T, 4) float64 predicted ``xyxy`` boxes; row 0 is the init box (as OTB / pytracking
        record it) and rows where the tracker returned None are NaN.
    """
    init_box = _check_box_xyxy(init_box_xyxy)
    boxes = []
    for t, frame in enumerate(frames):
        if t == 0:
            tracker.init(frame, init_box)
            boxes.append(init_box)
            continue
        box = tracker.update(frame)
        boxes.append(np.full(4, np.nan) if box is None else np.asarray(box, np.float64))
    if not boxes:
        raise ValueError("frames is empty; run_sot needs at least the init frame")
    return np.stack(boxes)  # (T, 4)


class TrackedBoxes(NamedTuple):
    """ByteTrack output for one frame: confirmed tracks only."""

    track_ids: np.ndarray  # (K,) int track ids
    boxes_xyxy: np.ndarray  # (K, 4) the detections assigned to those tracks, pixels


class ByteTrackBaseline:
    """ByteTrack (Zhang et al., ECCV 2022) over our detections, via ``trackers.ByteTrackTracker``.

    Association is class-agnostic, as in the original ByteTrack: ``class_ids`` are handed to the
    tracker with the detections but do not affect matching. A track gets an id once it was
    matched in ``minimum_consecutive_frames`` frames in a row; detections without a confirmed
    track are not returned.
    """

    def __init__(
        self,
        track_activation_threshold: float = 0.7,
        high_conf_det_threshold: float = 0.6,
        minimum_iou_threshold: float = 0.1,
        lost_track_buffer: int = 30,
        minimum_consecutive_frames: int = 2,
        frame_rate: float = 30.0,
    ) -> None:
        """Defaults are those of ``trackers`` 2.6; see ``trackers.ByteTrackTracker`` for each.

        Args:
            track_activation_threshold: min confidence for a detection to start a track.
            high_conf_det_threshold: split between first- and second-stage detections.
            minimum_iou_threshold: min IoU to associate a detection with a track.
            lost_track_buffer: frames (at 30 FPS) a lost track is kept for re-association.
            minimum_consecutive_frames: matches in a row before a track gets an id.
            frame_rate: video frame rate, scales ``lost_track_buffer``.
        """
        try:
            from trackers import ByteTrackTracker
        except ImportError as error:
            raise ImportError(
                "ByteTrackBaseline needs Roboflow's trackers package: pip install 'trackers>=2.6'"
            ) from error
        self._tracker = ByteTrackTracker(
            lost_track_buffer=lost_track_buffer,
            frame_rate=frame_rate,
            track_activation_threshold=track_activation_threshold,
            minimum_consecutive_frames=minimum_consecutive_frames,
            minimum_iou_threshold=minimum_iou_threshold,
            high_conf_det_threshold=high_conf_det_threshold,
        )

    def update(
        self, boxes_xyxy: np.ndarray, scores: np.ndarray, class_ids: np.ndarray | None = None
    ) -> TrackedBoxes:
        """Feed one frame's detections: (N, 4) boxes, (N,) scores, optional (N,) int classes."""
        boxes = np.asarray(boxes_xyxy, dtype=np.float64)
        if boxes.size == 0:
            boxes = boxes.reshape(0, 4)  # (0, 4)
        scores = np.asarray(scores, dtype=np.float64).reshape(-1)  # (N,)
        if boxes.ndim != 2 or boxes.shape[1] != 4 or scores.shape[0] != boxes.shape[0]:
            raise ValueError(
                f"need boxes_xyxy (N, 4) and scores (N,), got {boxes.shape} and {scores.shape}"
            )
        if class_ids is None:
            class_ids = np.zeros(boxes.shape[0], dtype=int)
        class_ids = np.asarray(class_ids, dtype=int).reshape(-1)  # (N,)
        if class_ids.shape[0] != boxes.shape[0]:
            raise ValueError(
                f"need class_ids (N,) with N = {boxes.shape[0]}, got {class_ids.shape}"
            )
        detections = sv.Detections(xyxy=boxes, confidence=scores, class_id=class_ids)
        tracked = self._tracker.update(detections)
        confirmed = tracked.tracker_id >= 0
        return TrackedBoxes(
            track_ids=np.asarray(tracked.tracker_id[confirmed], dtype=np.int64),
            boxes_xyxy=np.asarray(tracked.xyxy[confirmed], dtype=np.float64),
        )
