"""The frame-source base class and the helpers every source shares (see ``frames.py``)."""

from __future__ import annotations

import abc
import collections
import logging
import operator
import os
import re
from pathlib import Path
from typing import Any

import cv2
import numpy as np

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")  # frame files of a folder source, any letter case
DEFAULT_CACHE_SIZE = 16  # decoded frames kept by folder and file sources
DEFAULT_LIVE_WINDOW = 16  # most recent frames kept by a live source

ACCEPTED_KINDS = (
    "a folder of JPEG/PNG frames, a video file path, a numpy array (T, H, W, 3) uint8, "
    "a list/tuple of (H, W, 3) uint8 arrays, or an iterator/generator of such frames"
)


class EndOfStreamError(IndexError):
    """A live source's iterator ended before the requested frame."""


def natural_sort_key(name: str) -> tuple:
    """Sort key putting ``"2.jpg"`` before ``"10.jpg"``; letters compare case-insensitively."""
    parts = re.split(r"(\d+)", name.lower())
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts)), name


def list_image_files(folder: str | os.PathLike) -> list[Path]:
    """JPEG/PNG files of ``folder`` in natural order; hidden files (``.name``) are skipped."""
    files = [
        p
        for p in Path(folder).iterdir()
        if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".") and p.is_file()
    ]
    return sorted(files, key=lambda p: natural_sort_key(p.name))


def read_image_rgb(path: str | os.PathLike) -> np.ndarray:
    """Decode one image file to (H, W, 3) uint8 RGB; ``ValueError`` naming the file if corrupt."""
    data = np.fromfile(path, dtype=np.uint8)  # imdecode also handles non-ASCII paths
    flags = cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION
    bgr = cv2.imdecode(data, flags) if data.size else None
    if bgr is None:
        raise ValueError(f"cannot decode image {path}: the file is empty, corrupt or not an image")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def check_frame(frame: Any, where: str) -> np.ndarray:
    """Validate one frame's dtype and shape; returns it as (H, W, 3) or (H, W) without copying."""
    array = np.asarray(frame)
    if array.dtype != np.uint8:
        raise TypeError(
            f"{where}: expected dtype uint8 (values 0-255), got {array.dtype}; convert with "
            "(frame * 255).round().astype(np.uint8) if it is a float image in [0, 1]"
        )
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]  # (H, W)
    if array.ndim == 2 or (array.ndim == 3 and array.shape[2] == 3):
        return array
    raise ValueError(f"{where}: expected shape (H, W, 3) RGB or (H, W) grey, got {array.shape}")


def as_rgb_frame(frame: Any, where: str) -> np.ndarray:
    """Validate one frame and return it as (H, W, 3) uint8 (grey is repeated to 3 channels)."""
    array = check_frame(frame, where)
    return np.repeat(array[:, :, None], 3, axis=2) if array.ndim == 2 else array  # (H, W, 3)


class LruCache:
    """Decoded frames by index, evicting the least recently used beyond ``capacity``."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"cache_size must be at least 1, got {capacity}")
        self.capacity = capacity
        self._frames: collections.OrderedDict[int, np.ndarray] = collections.OrderedDict()

    def get(self, idx: int) -> np.ndarray | None:
        frame = self._frames.get(idx)
        if frame is not None:
            self._frames.move_to_end(idx)
        return frame

    def put(self, idx: int, frame: np.ndarray) -> None:
        self._frames[idx] = frame
        self._frames.move_to_end(idx)
        while len(self._frames) > self.capacity:
            self._frames.popitem(last=False)

    def clear(self) -> None:
        self._frames.clear()

    @property
    def num_bytes(self) -> int:
        """Bytes of the cached frames."""
        return sum(frame.nbytes for frame in self._frames.values())


class FrameSource(abc.ABC):
    """The frames of one video, read lazily by index.

    Attributes:
        name: what the frames come from (a path, "array", "live stream"), used in messages.
        fps: frames per second when the container says, else None.
        is_live: True for iterator sources: ``num_frames`` is None, frames are pulled in
            increasing order and only a window of recent frames can still be read.
    """

    is_live: bool = False

    def __init__(self, *, name: str, fps: float | None = None) -> None:
        self.name = name
        self.fps = fps
        self._size_hw: tuple[int, int] | None = None  # (H, W), set by the first frame read
        self._closed = False

    @property
    @abc.abstractmethod
    def num_frames(self) -> int | None:
        """Number of frames, or None while a live source's length is unknown."""

    @property
    def height(self) -> int:
        """Frame height in pixels (reads frame 0 if no frame was read yet)."""
        return self._frame_size()[0]

    @property
    def width(self) -> int:
        """Frame width in pixels (reads frame 0 if no frame was read yet)."""
        return self._frame_size()[1]

    def get(self, idx: int) -> np.ndarray:
        """Frame ``idx`` (0-based) as a new (H, W, 3) uint8 RGB array."""
        if self._closed:
            raise ValueError(f"{self.name}: the frame source is closed; open the video again")
        try:
            idx = operator.index(idx)
        except TypeError:
            raise TypeError(f"frame index must be an int, got {type(idx).__name__}") from None
        num_frames = self.num_frames
        if idx < 0 or (num_frames is not None and idx >= num_frames):
            valid = f"0..{num_frames - 1}" if num_frames is not None else "0 or more"
            raise IndexError(f"{self.name}: frame index {idx} is out of range; valid: {valid}")
        return self._read(idx).copy()

    def cached_bytes(self) -> int:
        """Bytes of decoded frames this source holds itself (the caller's own arrays excluded)."""
        return 0

    def close(self) -> None:
        """Release the file / decoder / iterator; further ``get`` calls raise ``ValueError``."""
        if not self._closed:
            self._closed = True
            self._release()

    def __enter__(self) -> FrameSource:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, num_frames={self.num_frames})"

    @abc.abstractmethod
    def _read(self, idx: int) -> np.ndarray:
        """Frame ``idx`` (in range) as (H, W, 3) uint8; may be a cached array, never modified."""

    @abc.abstractmethod
    def _release(self) -> None:
        """Free the decoder, file handles and cached frames."""

    def _frame_size(self) -> tuple[int, int]:
        if self._size_hw is None:
            self.get(0)
        assert self._size_hw is not None
        return self._size_hw

    def _check_size(self, frame: np.ndarray, idx: int, where: str = "") -> None:
        """Record the size of the first frame read; later frames must match it."""
        height, width = frame.shape[:2]
        if self._size_hw is None:
            self._size_hw = (height, width)
        elif (height, width) != self._size_hw:
            expected_h, expected_w = self._size_hw
            raise ValueError(
                f"{self.name}: frame {idx}{where} is {width}x{height} (WxH) but the video's other "
                f"frames are {expected_w}x{expected_h}; all frames of a video must have one size"
            )
