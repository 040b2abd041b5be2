"""Motion classes of tracked objects: static or dynamic relative to the scene, camera compensated.

An object is *static* when it stays put in the scene, even if the camera pans (its image
position then moves with the background), and *dynamic* when it moves through the scene. Camera
motion is the global shift of the frame content from one frame to the next: the median
Lucas-Kanade flow of background corners, the tracked objects' boxes left out so that they do
not vote (phase correlation of the whole frames where there are too few corners). Summing the
shifts gives the camera's offset; an object's *scene position* is its box centre minus that
offset. Over the last ``window`` frames, an object whose scene position moved more than
``max(min_speed_px, relative_speed * size)`` pixels per frame (net displacement / frames
elapsed) is dynamic.

Everything here is pure numpy / OpenCV: :func:`camera_shift` and :func:`classify_motion` are
functions, :class:`MotionClassifier` keeps the per-track history of one video.
"""

from __future__ import annotations

from collections import deque

import cv2
import numpy as np

MIN_CORNERS = 8  # tracked background corners needed for a flow estimate of the camera shift

MOTION_CLASSES = ("unknown", "static", "dynamic")
"""``unknown``: seen on fewer than ``min_frames`` frames so far."""


def _check_grey(name: str, frame: np.ndarray) -> np.ndarray:
    if not isinstance(frame, np.ndarray) or frame.ndim != 2 or min(frame.shape) < 2:
        raise ValueError(
            f"{name} must be a grey (H, W) numpy array with H, W >= 2, got "
            f"{getattr(frame, 'shape', type(frame).__name__)}; convert RGB with "
            "cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)"
        )
    return frame.astype(np.float32)


def _phase_shift(prev: np.ndarray, cur: np.ndarray) -> np.ndarray:
    """(2,) content shift of two float32 frames by phase correlation (Hann window)."""
    height, width = prev.shape
    window = cv2.createHanningWindow((width, height), cv2.CV_32F)  # (H, W)
    (dx, dy), _ = cv2.phaseCorrelate(prev, cur, window)
    return np.array([dx, dy], dtype=np.float64)


def camera_shift(
    prev_grey: np.ndarray, cur_grey: np.ndarray, exclude: np.ndarray | None = None
) -> np.ndarray:
    """Global shift of the frame content from ``prev_grey`` to ``cur_grey``.

    Corners of ``prev_grey`` outside ``exclude`` are tracked into ``cur_grey`` by pyramidal
    Lucas-Kanade flow and the median displacement is the shift; with fewer than
    :data:`MIN_CORNERS` tracked corners (a flat frame) it falls back to phase correlation of
    the whole frames.

    Args:
        prev_grey, cur_grey: (H, W) grey frames of equal shape (any real dtype, 0..255).
        exclude: optional (H, W) bool pixels left out (moving objects).

    Returns:
        (2,) float64 ``(dx, dy)`` pixels: a scene point at ``p`` in ``prev`` is at ``p + (dx,
        dy)`` in ``cur`` (a camera panning right gives a negative ``dx``).
    """
    prev, cur = _check_grey("prev_grey", prev_grey), _check_grey("cur_grey", cur_grey)
    if prev.shape != cur.shape:
        raise ValueError(f"frames must have one shape, got {prev.shape} and {cur.shape}")
    keep = np.ones(prev.shape, dtype=bool)
    if exclude is not None:
        if exclude.shape != prev.shape or exclude.dtype != np.bool_:
            raise ValueError(
                f"exclude must be a bool mask of the frames' shape {prev.shape}, got "
                f"{exclude.dtype} {exclude.shape}"
            )
        keep = ~exclude
    prev_u8 = np.clip(prev, 0, 255).astype(np.uint8)
    cur_u8 = np.clip(cur, 0, 255).astype(np.uint8)
    corners = cv2.goodFeaturesToTrack(
        prev_u8, maxCorners=200, qualityLevel=0.01, minDistance=4, mask=keep.astype(np.uint8)
    )  # (K, 1, 2) float32 xy, or None
    if corners is not None and len(corners) >= MIN_CORNERS:
        moved, status, _ = cv2.calcOpticalFlowPyrLK(
            prev_u8, cur_u8, corners, None, winSize=(15, 15), maxLevel=3
        )  # (K, 1, 2), (K, 1)
        ok = status[:, 0] == 1
        if ok.sum() >= MIN_CORNERS:
            flow = (moved - corners)[ok, 0]  # (K', 2)
            return np.median(flow, axis=0).astype(np.float64)
    return _phase_shift(prev, cur)


def boxes_mask(boxes_xyxy: np.ndarray, frame_hw: tuple[int, int], pad: float = 0.25) -> np.ndarray:
    """(H, W) bool union of boxes (N, 4) ``xyxy`` pixels, each grown by ``pad`` of its size."""
    height, width = frame_hw
    mask = np.zeros((height, width), dtype=bool)
    for x0, y0, x1, y1 in np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4):
        if not np.isfinite([x0, y0, x1, y1]).all():
            continue
        grow_x, grow_y = pad * (x1 - x0), pad * (y1 - y0)
        cols = slice(max(int(np.floor(x0 - grow_x)), 0), min(int(np.ceil(x1 + grow_x)), width))
        rows = slice(max(int(np.floor(y0 - grow_y)), 0), min(int(np.ceil(y1 + grow_y)), height))
        mask[rows, cols] = True
    return mask


def classify_motion(
    frames: np.ndarray,
    scene_xy: np.ndarray,
    size_px: float,
    *,
    min_speed_px: float = 0.5,
    relative_speed: float = 0.02,
) -> str:
    """``"static"`` or ``"dynamic"`` from scene positions of one object.

    Args:
        frames: (N,) frame indices of the observations, increasing, N >= 2.
        scene_xy: (N, 2) box centres minus the camera offset, pixels.
        size_px: the object's size ``sqrt(w * h)`` in pixels.
        min_speed_px, relative_speed: dynamic above ``max(min_speed_px, relative_speed *
            size_px)`` pixels per frame of net scene displacement.
    """
    frames = np.asarray(frames)
    scene_xy = np.asarray(scene_xy, dtype=np.float64)
    if frames.ndim != 1 or len(frames) < 2 or scene_xy.shape != (len(frames), 2):
        raise ValueError(
            f"need N >= 2 frames (N,) and positions (N, 2), got {frames.shape} and {scene_xy.shape}"
        )
    elapsed = float(frames[-1] - frames[0])
    if elapsed <= 0:
        raise ValueError(f"frames must increase, got {frames.tolist()}")
    speed = float(np.linalg.norm(scene_xy[-1] - scene_xy[0])) / elapsed
    return "dynamic" if speed > max(min_speed_px, relative_speed * size_px) else "static"


class MotionClassifier:
    """Per-track motion classes over one video, frame by frame.

    Args:
        window: observations per track used for the decision (>= 2).
        min_frames: observations before a track gets a class (2 .. window).
        min_speed_px, relative_speed: see :func:`classify_motion`.
    """

    def __init__(
        self,
        window: int = 10,
        min_frames: int = 3,
        min_speed_px: float = 0.5,
        relative_speed: float = 0.02,
    ) -> None:
        if window < 2 or not 2 <= min_frames <= window:
            raise ValueError(
                f"need window >= 2 and 2 <= min_frames <= window, got window={window}, "
                f"min_frames={min_frames}"
            )
        self.window = window
        self.min_frames = min_frames
        self.min_speed_px = min_speed_px
        self.relative_speed = relative_speed
        self.reset()

    def reset(self) -> None:
        """Forget the video (tracks, camera offset, previous frame)."""
        self.camera_xy = np.zeros(2)  # summed content shift since the first frame
        self.frame_idx = -1  # observations counted in update calls
        self._prev: tuple[np.ndarray, np.ndarray] | None = None  # frame, boxes mask
        self._history: dict[int, deque] = {}  # track -> (frame, scene xy (2,), size)

    def update(
        self, grey: np.ndarray, tracker_ids: np.ndarray, boxes_xyxy: np.ndarray
    ) -> np.ndarray:
        """Add one frame; returns (N,) the motion class of each of its N tracked boxes.

        Args:
            grey: (H, W) grey frame, in the boxes' pixel coordinates.
            tracker_ids: (N,) int track ids.
            boxes_xyxy: (N, 4) boxes in pixels.

        Returns:
            (N,) ``str`` array of :data:`MOTION_CLASSES` entries.
        """
        boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)  # (N, 4)
        ids = np.asarray(tracker_ids).reshape(-1)  # (N,)
        if len(ids) != len(boxes):
            raise ValueError(f"got {len(ids)} tracker ids for {len(boxes)} boxes; give one each")
        mask = boxes_mask(boxes, grey.shape)
        if self._prev is not None and self._prev[0].shape == grey.shape:
            self.camera_xy = self.camera_xy + camera_shift(
                self._prev[0], grey, self._prev[1] | mask
            )
        self._prev = (grey, mask)
        self.frame_idx += 1
        classes = np.full(len(ids), MOTION_CLASSES[0], dtype=object)
        for i, (track, box) in enumerate(zip(ids.tolist(), boxes, strict=True)):
            if not np.isfinite(box).all():
                continue
            centre = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])
            size = float(np.sqrt(max(box[2] - box[0], 0) * max(box[3] - box[1], 0)))
            history = self._history.setdefault(track, deque(maxlen=self.window))
            history.append((self.frame_idx, centre - self.camera_xy, size))
            if len(history) >= self.min_frames:
                frames = np.array([h[0] for h in history])
                scene = np.stack([h[1] for h in history])  # (n, 2)
                classes[i] = classify_motion(
                    frames, scene, float(np.median([h[2] for h in history])),
                    min_speed_px=self.min_speed_px, relative_speed=self.relative_speed,
                )  # fmt: skip
        return classes.astype(str)
