"""Frame sources: lazy, random-access readers for every kind of video input.

:func:`open_frames` turns what a user passes to ``init_state`` into a :class:`FrameSource`:

- a folder of JPEG/PNG frames -> :class:`ImageFolderFrameSource`;
- a video file (mp4, avi, mov, mkv, webm...) -> :class:`VideoFileFrameSource` (PyAV), or
  :class:`OpenCVVideoFrameSource` when PyAV cannot open or index it;
- a uint8 array (T, H, W, 3) or a list/tuple of (H, W, 3) frames -> :class:`ArrayFrameSource`;
- an iterator / generator of frames (camera, live stream) -> :class:`LiveFrameSource`.

Folder and file sources decode on demand and keep an LRU cache of ``cache_size`` decoded frames;
a live source keeps only its ``live_window`` most recent frames, so memory does not grow with the
video's length (an array source holds the caller's frames, nothing more).

``get(idx)`` always returns a new (H, W, 3) uint8 RGB array that the caller owns. Images and videos
are returned in their stored orientation (EXIF / container rotation flags are not applied), as
SAM 2's own loader does. Grey (H, W) or (H, W, 1) frames are repeated to 3 channels.
"""

import collections
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from sam2_enhanced.data.frame_source import (
    ACCEPTED_KINDS,
    DEFAULT_CACHE_SIZE,
    DEFAULT_LIVE_WINDOW,
    IMAGE_SUFFIXES,
    EndOfStreamError,
    FrameSource,
    LruCache,
    as_rgb_frame,
    check_frame,
    list_image_files,
    natural_sort_key,
    read_image_rgb,
)
from sam2_enhanced.data.frames_video import (
    OpenCVVideoFrameSource,
    VideoFileFrameSource,
    open_video_file,
)

__all__ = [
    "DEFAULT_CACHE_SIZE",
    "DEFAULT_LIVE_WINDOW",
    "IMAGE_SUFFIXES",
    "ArrayFrameSource",
    "EndOfStreamError",
    "FrameSource",
    "ImageFolderFrameSource",
    "LiveFrameSource",
    "OpenCVVideoFrameSource",
    "VideoFileFrameSource",
    "iter_frames",
    "list_image_files",
    "natural_sort_key",
    "open_frames",
    "open_video_file",
    "read_image_rgb",
]


class ArrayFrameSource(FrameSource):
    """Frames already in memory: an array (T, H, W, 3) / (T, H, W) or a sequence of frames.

    Nothing is copied up front; ``bgr=True`` flips OpenCV-ordered frames to RGB on read.
    """

    def __init__(self, frames: Any, *, bgr: bool = False) -> None:
        super().__init__(name="array")
        self._bgr = bgr
        if isinstance(frames, list | tuple):
            self._frames = [check_frame(f, f"frame {i}") for i, f in enumerate(frames)]
            for idx, frame in enumerate(self._frames):
                self._check_size(frame, idx)
        else:
            self._frames = _validate_video_array(np.asarray(frames))
            self._size_hw = self._frames.shape[1:3]
        if len(self._frames) == 0:
            raise ValueError("the video has no frames: got an empty array/list; pass T >= 1 frames")

    @property
    def num_frames(self) -> int:
        return len(self._frames)

    def _read(self, idx: int) -> np.ndarray:
        frame = as_rgb_frame(self._frames[idx], f"frame {idx}")
        return frame[:, :, ::-1] if self._bgr else frame

    def _release(self) -> None:
        self._frames = []  # drop the references to the caller's frames


def _validate_video_array(video: np.ndarray) -> np.ndarray:
    """Check a (T, H, W, 3), (T, H, W, 1) or (T, H, W) uint8 array."""
    if video.dtype != np.uint8:
        raise TypeError(
            f"video array: expected dtype uint8 (values 0-255), got {video.dtype}; convert with "
            "(video * 255).round().astype(np.uint8) if it holds floats in [0, 1]"
        )
    if video.ndim == 3 and video.shape[2] in (3, 4):
        raise ValueError(
            f"video array has shape {video.shape}, which looks like one (H, W, C) image; pass "
            "image[None] for a one-frame video, or a (T, H, W, 3) array"
        )
    if (video.ndim == 4 and video.shape[3] in (1, 3)) or video.ndim == 3:
        return video
    raise ValueError(
        f"video array: expected shape (T, H, W, 3) RGB or (T, H, W) grey, got {video.shape}"
    )


class ImageFolderFrameSource(FrameSource):
    """A folder of JPEG/PNG frames in natural order (``2.jpg`` before ``10.jpg``)."""

    def __init__(self, folder: str | os.PathLike, *, cache_size: int = DEFAULT_CACHE_SIZE) -> None:
        super().__init__(name=str(folder))
        self.files = list_image_files(folder)  # frame idx -> file
        if not self.files:
            raise ValueError(
                f"no frames in folder {folder}: expected image files ending in "
                f"{', '.join(IMAGE_SUFFIXES)} (any case)"
            )
        self._cache = LruCache(cache_size)

    @property
    def num_frames(self) -> int:
        return len(self.files)

    def cached_bytes(self) -> int:
        return self._cache.num_bytes

    def _read(self, idx: int) -> np.ndarray:
        frame = self._cache.get(idx)
        if frame is None:
            path = self.files[idx]
            try:
                frame = read_image_rgb(path)
            except ValueError as err:
                raise ValueError(f"frame {idx}: {err}") from None
            self._check_size(frame, idx, f" ({path.name})")
            self._cache.put(idx, frame)
        return frame

    def _release(self) -> None:
        self._cache.clear()


_END = object()  # sentinel: the live iterator is exhausted


class LiveFrameSource(FrameSource):
    """Frames pulled from an iterator on demand (a camera or live stream); length unknown.

    ``get(idx)`` pulls frames up to ``idx`` and keeps only the ``window`` most recent ones: a
    frame older than that raises ``ValueError``; a frame past the end of the stream raises
    :class:`EndOfStreamError`. ``bgr=True`` flips OpenCV-ordered frames to RGB.
    """

    is_live = True

    def __init__(
        self, frames: Iterable[Any], *, window: int = DEFAULT_LIVE_WINDOW, bgr: bool = False
    ) -> None:
        super().__init__(name="live stream")
        if window < 1:
            raise ValueError(f"live_window must be at least 1, got {window}")
        self._iterator = iter(frames)
        self._window: collections.deque[np.ndarray] = collections.deque(maxlen=window)
        self._bgr = bgr
        self._ended = False
        self.num_frames_read = 0  # frames pulled from the iterator so far

    @property
    def num_frames(self) -> None:
        return None

    def cached_bytes(self) -> int:
        return sum(frame.nbytes for frame in self._window)

    def _read(self, idx: int) -> np.ndarray:
        oldest = self.num_frames_read - len(self._window)
        if idx < oldest:
            raise ValueError(
                f"frame {idx} of the live stream is no longer kept: only the last "
                f"{self._window.maxlen} frames ({oldest}..{self.num_frames_read - 1}) are; "
                "read frames in increasing order or raise live_window"
            )
        while self.num_frames_read <= idx:
            self._pull(idx)
        return self._window[idx - (self.num_frames_read - len(self._window))]

    def _pull(self, wanted_idx: int) -> None:
        idx = self.num_frames_read
        item = next(self._iterator, _END) if not self._ended else _END
        if item is _END:
            self._ended = True
            raise EndOfStreamError(
                f"the live stream ended after {idx} frames; frame {wanted_idx} does not exist"
            )
        frame = np.array(as_rgb_frame(item, f"frame {idx} of the live stream"))  # own copy
        self._check_size(frame, idx)
        self._window.append(frame[:, :, ::-1] if self._bgr else frame)
        self.num_frames_read += 1

    def _release(self) -> None:
        close = getattr(self._iterator, "close", None)
        if close is not None:
            close()


def open_frames(
    video: Any,
    *,
    cache_size: int = DEFAULT_CACHE_SIZE,
    live_window: int = DEFAULT_LIVE_WINDOW,
    bgr: bool = False,
) -> FrameSource:
    """Open any supported video input as a :class:`FrameSource` (see the module docstring).

    Args:
        video: a folder of JPEG/PNG frames, a video file path, a uint8 array (T, H, W, 3) or
            (T, H, W), a list/tuple of (H, W, 3) / (H, W) uint8 frames, an iterator of such
            frames (live), or an open ``FrameSource`` (returned as is).
        cache_size: decoded frames kept by folder and file sources.
        live_window: most recent frames kept by a live source; older ones cannot be read.
        bgr: arrays / iterators hold BGR frames (OpenCV, supervision); they are flipped to RGB.
    """
    if isinstance(video, FrameSource):
        return video
    if isinstance(video, str | os.PathLike):
        if bgr:
            raise ValueError("bgr=True applies to arrays and iterators; files are decoded to RGB")
        path = Path(video).expanduser()
        if not path.exists():
            raise FileNotFoundError(f"video path does not exist: {path}")
        if path.is_dir():
            return ImageFolderFrameSource(path, cache_size=cache_size)
        return open_video_file(path, cache_size=cache_size)
    if isinstance(video, np.ndarray | list | tuple) or hasattr(video, "__array__"):
        return ArrayFrameSource(video, bgr=bgr)
    if isinstance(video, Iterable) and not isinstance(video, bytes | Mapping):
        return LiveFrameSource(video, window=live_window, bgr=bgr)
    raise TypeError(f"cannot read frames from a {type(video).__name__}; expected {ACCEPTED_KINDS}")


def iter_frames(
    source: FrameSource, start: int | None = None, stop: int | None = None, step: int = 1
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(idx, frame)`` for ``range(start, stop, step)``, with frames (H, W, 3) uint8 RGB.

    ``start`` defaults to the first frame (the last one when ``step < 0``); ``stop`` defaults to
    the end and is clipped to the video like a slice. A live source goes forward only and stops
    when its stream ends.
    """
    if step == 0:
        raise ValueError("step must not be 0")
    num_frames = source.num_frames
    if num_frames is None:
        if step < 0:
            raise ValueError(f"a live source can only be read forward, got step={step}")
        idx = 0 if start is None else start
        while stop is None or idx < stop:
            try:
                frame = source.get(idx)
            except EndOfStreamError:
                return
            yield idx, frame
            idx += step
        return
    if step > 0:
        indices = range(
            0 if start is None else start,
            min(num_frames if stop is None else stop, num_frames),
            step,
        )
    else:
        indices = range(
            num_frames - 1 if start is None else start, max(-1 if stop is None else stop, -1), step
        )
    for idx in indices:
        yield idx, source.get(idx)
