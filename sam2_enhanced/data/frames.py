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

from __future__ import annotations

import abc
import collections
import logging
import operator
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")  # frame files of a folder source, any letter case
DEFAULT_CACHE_SIZE = 16  # decoded frames kept by folder and file sources
DEFAULT_LIVE_WINDOW = 16  # most recent frames kept by a live source

_ACCEPTED_KINDS = (
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


def _check_frame(frame: Any, where: str) -> np.ndarray:
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


def _as_rgb_frame(frame: Any, where: str) -> np.ndarray:
    """Validate one frame and return it as (H, W, 3) uint8 (grey is repeated to 3 channels)."""
    array = _check_frame(frame, where)
    return np.repeat(array[:, :, None], 3, axis=2) if array.ndim == 2 else array  # (H, W, 3)


class _LruCache:
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


class ArrayFrameSource(FrameSource):
    """Frames already in memory: an array (T, H, W, 3) / (T, H, W) or a sequence of frames.

    Nothing is copied up front; ``bgr=True`` flips OpenCV-ordered frames to RGB on read.
    """

    def __init__(self, frames: Any, *, bgr: bool = False) -> None:
        super().__init__(name="array")
        self._bgr = bgr
        if isinstance(frames, list | tuple):
            self._frames = [_check_frame(f, f"frame {i}") for i, f in enumerate(frames)]
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
        frame = _as_rgb_frame(self._frames[idx], f"frame {idx}")
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
        self._cache = _LruCache(cache_size)

    @property
    def num_frames(self) -> int:
        return len(self.files)

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


class _UnindexableVideoError(Exception):
    """PyAV opened the file but cannot map its packets to frame indices."""


class _SeekOvershootError(Exception):
    """After a seek, the decoder's first keyframe lies after the wanted frame."""


class VideoFileFrameSource(FrameSource):
    """A video file decoded lazily with PyAV, with exact frame count and random access.

    Opening demuxes the whole file once without decoding (fast; it reads the bytes) to list every
    frame's presentation timestamp (pts) and the keyframes. ``get(idx)`` continues the running
    decoder when ``idx`` is ahead and no keyframe closer to ``idx`` exists; otherwise it seeks to
    the last keyframe at or before ``idx``, drops decoded frames until a keyframe comes out, and
    decodes forward. Demuxers differ in what a seek timestamp means (AVI seeks by decode time),
    so a seek that lands after ``idx`` is retried at the keyframe's decode time, then at earlier
    keyframes. The last ``cache_size`` decoded frames are kept.
    """

    def __init__(self, path: str | os.PathLike, *, cache_size: int = DEFAULT_CACHE_SIZE) -> None:
        self._cache = _LruCache(cache_size)
        self._container = av.open(str(path))
        try:
            if not self._container.streams.video:
                raise _UnindexableVideoError("the file has no video stream")
            self._stream = self._container.streams.video[0]
            rate = self._stream.average_rate
            super().__init__(name=str(path), fps=float(rate) if rate else None)
            self._frame_pts, self._keyframes = _index_packets(self._container, self._stream)
        except BaseException:
            self._container.close()
            raise
        self._keyframe_indices = np.searchsorted(self._frame_pts, [k[0] for k in self._keyframes])
        self._pts_to_idx = {int(p): i for i, p in enumerate(self._frame_pts)}
        self._stream.thread_type = "AUTO"
        self._decoder: Iterator[av.VideoFrame] | None = None
        self._synced = False  # has the decoder output a keyframe since the last seek?
        self._last_idx = -1  # index of the last frame the running decoder produced

    @property
    def num_frames(self) -> int:
        return len(self._frame_pts)

    def _read(self, idx: int) -> np.ndarray:
        frame = self._cache.get(idx)
        if frame is not None:
            return frame
        pos = int(np.searchsorted(self._keyframe_indices, idx, side="right")) - 1
        next_key_idx = int(self._keyframe_indices[pos]) if pos >= 0 else 0
        try:
            running = self._decoder is not None and self._synced and self._last_idx < idx
            if running and next_key_idx <= self._last_idx + 1:  # no closer keyframe to seek to
                return self._decode_until(idx)
            for timestamp in self._seek_timestamps(pos):
                self._container.seek(timestamp, stream=self._stream)
                self._decoder = self._container.decode(self._stream)
                self._synced, self._last_idx = False, -1
                try:
                    return self._decode_until(idx)
                except _SeekOvershootError:
                    continue
            raise ValueError(f"{self.name}: cannot decode frame {idx}: no keyframe precedes it")
        except av.FFmpegError as err:
            self._decoder = None
            raise ValueError(f"{self.name}: cannot decode frame {idx}: {err}") from err
        except ValueError:
            self._decoder = None
            raise

    def _seek_timestamps(self, pos: int) -> Iterator[int]:
        """Seek targets for keyframe ``pos`` and then each earlier keyframe: pts, then dts."""
        for key_pts, key_dts in reversed(self._keyframes[: max(pos, 0) + 1]):
            yield key_pts
            if key_dts is not None and key_dts != key_pts:
                yield key_dts

    def _decode_until(self, idx: int) -> np.ndarray:
        assert self._decoder is not None
        for av_frame in self._decoder:
            if not self._synced and not av_frame.key_frame:
                continue  # leading frames after a seek may reference frames before it
            frame_idx = self._pts_to_idx.get(av_frame.pts)
            if frame_idx is None:
                raise ValueError(
                    f"{self.name}: cannot decode frame {idx}: decoded timestamp {av_frame.pts} "
                    "is not in the packet index; re-encode the video (ffmpeg -i in out.mp4)"
                )
            if not self._synced:
                if frame_idx > idx:
                    raise _SeekOvershootError
                self._synced = True
            elif frame_idx != self._last_idx + 1:
                raise ValueError(
                    f"{self.name}: cannot decode frame {idx}: the decoder went from frame "
                    f"{self._last_idx} to {frame_idx}"
                )
            self._last_idx = frame_idx
            if frame_idx > idx - self._cache.capacity:
                frame = av_frame.to_ndarray(format="rgb24")  # (H, W, 3)
                self._check_size(frame, frame_idx)
                self._cache.put(frame_idx, frame)
            if frame_idx == idx:
                return frame
        raise ValueError(f"{self.name}: cannot decode frame {idx}: the stream ended before it")

    def _release(self) -> None:
        self._cache.clear()
        self._decoder = None
        self._container.close()


def _index_packets(
    container: av.container.InputContainer, stream: av.VideoStream
) -> tuple[np.ndarray, list[tuple[int, int | None]]]:
    """Demux ``stream`` without decoding.

    Returns the sorted pts of every frame (T,) and the (pts, dts) of each keyframe packet, in
    pts order.
    """
    pts, keyframes = [], []
    for packet in container.demux(stream):
        if packet.size == 0:
            continue  # the empty packet that flushes the decoder at the end
        if packet.pts is None:
            raise _UnindexableVideoError("a packet has no presentation timestamp")
        pts.append(packet.pts)
        if packet.is_keyframe:
            keyframes.append((packet.pts, packet.dts))
    frame_pts = np.sort(np.asarray(pts, dtype=np.int64))  # (T,) presentation order
    if frame_pts.size == 0:
        raise _UnindexableVideoError("the video stream has no frames")
    if np.unique(frame_pts).size != frame_pts.size:
        raise _UnindexableVideoError("two packets share a timestamp")
    if not keyframes:
        raise _UnindexableVideoError("the video stream has no keyframe")
    if stream.frames and stream.frames != frame_pts.size:
        logger.debug(
            "%s: header says %d frames, counted %d", container.name, stream.frames, frame_pts.size
        )
    return frame_pts, sorted(keyframes)


class OpenCVVideoFrameSource(FrameSource):
    """Fallback for videos PyAV cannot index: OpenCV decodes forward, reopening to go back.

    Opening counts the frames by grabbing them all once (exact, but slower than PyAV's index).
    """

    def __init__(self, path: str | os.PathLike, *, cache_size: int = DEFAULT_CACHE_SIZE) -> None:
        self._path = str(path)
        self._cache = _LruCache(cache_size)
        self._capture = self._open()
        fps = self._capture.get(cv2.CAP_PROP_FPS)
        super().__init__(name=self._path, fps=fps if fps > 0 else None)
        self._num_frames = 0
        while self._capture.grab():
            self._num_frames += 1
        if self._num_frames == 0:
            self._capture.release()
            raise ValueError(f"OpenCV opened {path} but could not read any frame from it")
        self._rewind()

    @property
    def num_frames(self) -> int:
        return self._num_frames

    def _open(self) -> cv2.VideoCapture:
        capture = cv2.VideoCapture(self._path)
        capture.set(cv2.CAP_PROP_ORIENTATION_AUTO, 0)  # stored orientation, as with PyAV
        if not capture.isOpened():
            raise ValueError(f"OpenCV cannot open {self._path} as a video")
        return capture

    def _rewind(self) -> None:
        self._capture.release()
        self._capture = self._open()
        self._next_idx = 0  # index of the frame the next grab() returns

    def _read(self, idx: int) -> np.ndarray:
        frame = self._cache.get(idx)
        if frame is not None:
            return frame
        if idx < self._next_idx:
            self._rewind()
        while self._next_idx <= idx:
            if not self._capture.grab():
                raise ValueError(f"{self.name}: cannot decode frame {self._next_idx}")
            self._next_idx += 1
        ok, bgr = self._capture.retrieve()
        if not ok:
            raise ValueError(f"{self.name}: cannot decode frame {idx}")
        frame = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        self._check_size(frame, idx)
        self._cache.put(idx, frame)
        return frame

    def _release(self) -> None:
        self._cache.clear()
        self._capture.release()


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
        frame = np.array(_as_rgb_frame(item, f"frame {idx} of the live stream"))  # own copy
        self._check_size(frame, idx)
        self._window.append(frame[:, :, ::-1] if self._bgr else frame)
        self.num_frames_read += 1

    def _release(self) -> None:
        close = getattr(self._iterator, "close", None)
        if close is not None:
            close()


def open_video_file(
    path: str | os.PathLike, *, cache_size: int = DEFAULT_CACHE_SIZE
) -> FrameSource:
    """Open a video file with PyAV, or with OpenCV when PyAV cannot open or index it."""
    try:
        return VideoFileFrameSource(path, cache_size=cache_size)
    except (av.FFmpegError, _UnindexableVideoError) as av_err:
        logger.info("PyAV cannot read %s (%s); trying OpenCV", path, av_err)
        try:
            return OpenCVVideoFrameSource(path, cache_size=cache_size)
        except ValueError as cv_err:
            raise ValueError(
                f"cannot read video file {path}: PyAV says {av_err}; {cv_err}. Expected a "
                "video (mp4, avi, mov, mkv, webm...) or a folder of JPEG/PNG frames"
            ) from av_err


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
    raise TypeError(f"cannot read frames from a {type(video).__name__}; expected {_ACCEPTED_KINDS}")


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
