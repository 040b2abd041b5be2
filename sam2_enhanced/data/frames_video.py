"""Video-file frame sources: PyAV with keyframe seeking, OpenCV as the fallback."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import av
import cv2
import numpy as np

from sam2_enhanced.data.frame_source import DEFAULT_CACHE_SIZE, FrameSource, LruCache

logger = logging.getLogger(__name__)


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
        self._cache = LruCache(cache_size)
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

    def cached_bytes(self) -> int:
        return self._cache.num_bytes

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
        self._cache = LruCache(cache_size)
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

    def cached_bytes(self) -> int:
        return self._cache.num_bytes

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
