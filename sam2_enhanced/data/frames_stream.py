"""Live frames from a camera index or a stream URL (``rtsp://``, ``http://`` ...), via OpenCV.

``CaptureStream(0)`` is an iterable of (H, W, 3) uint8 RGB frames read one at a time; hand it
to ``init_state`` (or ``open_frames``) and it is read lazily as a live source, so tracking runs
while the camera records. The capture is released when the stream ends or its reader closes it.
"""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np

STREAM_PREFIXES = ("rtsp://", "rtmp://", "http://", "https://", "udp://", "tcp://")


def is_stream_source(text: str) -> bool:
    """True for a camera index (``"0"``) or a stream URL; False for anything else (a path)."""
    return text.isdigit() or text.lower().startswith(STREAM_PREFIXES)


class CaptureStream:
    """Frames of an OpenCV capture (see the module docstring).

    Args:
        source: a camera index (int, or a string of digits) or a stream URL / video path that
            OpenCV's FFmpeg backend opens.
    Raises:
        ValueError: the capture cannot be opened (no such camera, unreachable stream).
    """

    def __init__(self, source: int | str) -> None:
        if isinstance(source, str) and source.isdigit():
            source = int(source)
        self.source = source
        self.name = f"camera {source}" if isinstance(source, int) else str(source)
        self._capture = cv2.VideoCapture(source)
        if not self._capture.isOpened():
            self._capture.release()
            what = f"camera index {source}" if isinstance(source, int) else f"stream {source}"
            raise ValueError(
                f"cannot open {what}: no such device or the stream is unreachable; give a "
                "camera index that exists (0 is the first camera), a reachable URL, or a video "
                "file / frame folder"
            )
        fps = self._capture.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and np.isfinite(fps) and fps > 0 else None

    def __iter__(self) -> Iterator[np.ndarray]:
        try:
            while True:
                ok, frame = self._capture.read()  # (H, W, 3) BGR
                if not ok:
                    return
                yield np.ascontiguousarray(frame[:, :, ::-1])  # (H, W, 3) RGB
        finally:
            self._capture.release()

    def __repr__(self) -> str:
        return f"CaptureStream({self.name!r})"
