"""Write synthetic videos to disk in the formats that evaluation and the demo read.

Box conventions: every written box is ``x, y, w, h`` in pixels with a **0-based** top-left
corner (the column / row index of the leftmost / topmost visible pixel), taken from
``SyntheticVideo.boxes_xyxy`` as ``x = x0, y = y0, w = x1 - x0, h = y1 - y0``. Frame numbers in
file names and in MOT ``gt.txt`` are 1-based (frame ``t`` of the array is ``t + 1``), except DAVIS
mask names, which are 0-based (``00000.png``) as in DAVIS.
"""

from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from PIL import Image

from sam2_enhanced.box_ops import xyxy_to_xywh
from sam2_enhanced.data.synthetic import SyntheticVideo

logger = logging.getLogger(__name__)

MOT_CLASS_OFFSET = 1
"""MOT ``class`` column = ``class_id + MOT_CLASS_OFFSET`` (MOTChallenge classes are 1-based)."""

_IMAGE_EXTENSIONS = ("jpg", "png")


def frame_file_name(frame_index: int, ext: str = "jpg") -> str:
    """File name of 0-based ``frame_index``: ``000001.jpg`` for frame 0."""
    return f"{frame_index + 1:06d}.{ext}"


def _checked_frames(frames: SyntheticVideo | np.ndarray) -> np.ndarray:
    """(T, H, W, 3) uint8 RGB frames of a video or an array, validated."""
    if isinstance(frames, SyntheticVideo):
        return frames.frames
    if not isinstance(frames, np.ndarray):
        raise TypeError(f"frames must be a SyntheticVideo or a numpy array, got {type(frames)}")
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(
            f"frames must be uint8 RGB of shape (T, H, W, 3), got {frames.dtype} {frames.shape}; "
            "convert with (frames * 255).round().astype(np.uint8) if they are floats in [0, 1]"
        )
    return frames


def _boxes_xywh(video: SyntheticVideo) -> np.ndarray:
    """(T, O, 4) float32 ``x, y, w, h`` boxes (zeros where the object is not visible)."""
    return xyxy_to_xywh(video.boxes_xyxy)  # (T, O, 4)


def write_frames(
    video: SyntheticVideo | np.ndarray, out_dir: str | Path, ext: str = "jpg", quality: int = 95
) -> list[Path]:
    """Write frames as ``out_dir/000001.jpg`` ... (or ``.png``, lossless).

    Args:
        video: a :class:`SyntheticVideo` or (T, H, W, 3) uint8 RGB frames.
        out_dir: folder, created if missing.
        ext: ``"jpg"`` or ``"png"``.
        quality: JPEG quality 1..100 (ignored for PNG).

    Returns:
        The T written paths, in frame order.
    """
    frames = _checked_frames(video)
    if ext not in _IMAGE_EXTENSIONS:
        raise ValueError(f"ext must be one of {_IMAGE_EXTENSIONS}, got {ext!r}")
    if not 1 <= quality <= 100:
        raise ValueError(f"quality must be in 1..100, got {quality}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)] if ext == "jpg" else []
    paths = []
    for t, frame in enumerate(frames):
        path = out_dir / frame_file_name(t, ext)
        if not cv2.imwrite(str(path), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), params):
            raise OSError(f"OpenCV could not write {path}")
        paths.append(path)
    return paths


def write_mot_gt(video: SyntheticVideo, path: str | Path) -> Path:
    """Write MOTChallenge ground truth: one line per visible object per frame.

    Line format: ``frame,id,x,y,w,h,conf,class,visibility`` with 1-based ``frame``,
    ``id = track_id``, 0-based pixel box, ``conf = 1``, ``class = class_id + MOT_CLASS_OFFSET``
    and ``visibility`` in (0, 1]. Objects with visibility 0 are left out. Sorted by frame, then id.
    With TrackEval's ``MotChallenge2DBox`` use ``DO_PREPROC=False`` (its preprocessing only
    knows MOT17's pedestrian classes).
    """
    boxes = _boxes_xywh(video)
    frame_idx, obj_idx = np.nonzero(video.visibility > 0)  # row-major: by frame, then object
    lines = []
    for t, o in zip(frame_idx, obj_idx, strict=True):
        x, y, w, h = boxes[t, o]
        lines.append(
            f"{t + 1},{video.track_ids[o]},{x:.2f},{y:.2f},{w:.2f},{h:.2f},1,"
            f"{video.class_ids[o] + MOT_CLASS_OFFSET},{video.visibility[t, o]:.4f}\n"
        )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(lines))
    return path


def write_mot_seqinfo(
    video: SyntheticVideo, path: str | Path, name: str, fps: float = 10.0, ext: str = "jpg"
) -> Path:
    """Write a MOTChallenge ``seqinfo.ini`` (frames expected in ``img1/`` beside it)."""
    text = (
        f"[Sequence]\nname={name}\nimDir=img1\nframeRate={fps:g}\nseqLength={video.num_frames}\n"
        f"imWidth={video.width}\nimHeight={video.height}\nimExt=.{ext}\n"
    )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def write_sot_sequence(
    video: SyntheticVideo, obj_index: int, out_dir: str | Path, ext: str = "jpg"
) -> Path:
    """Write one object's single-object-tracking sequence in the OTB / UAV123 layout.

    ``out_dir/img/000001.jpg`` ... for every frame and ``out_dir/groundtruth_rect.txt`` with one
    ``x,y,w,h`` line per frame (0-based pixels), ``NaN,NaN,NaN,NaN`` where the object is not
    visible.

    Returns:
        Path of ``groundtruth_rect.txt``.
    """
    if not 0 <= obj_index < video.num_objects:
        raise ValueError(
            f"obj_index must be in 0..{video.num_objects - 1} (the video has "
            f"{video.num_objects} objects), got {obj_index}"
        )
    out_dir = Path(out_dir)
    write_frames(video, out_dir / "img", ext=ext)
    boxes = _boxes_xywh(video)[:, obj_index]  # (T, 4)
    visible = video.visibility[:, obj_index] > 0  # (T,)
    lines = [
        ",".join(f"{v:.2f}" for v in box) if seen else "NaN,NaN,NaN,NaN"
        for box, seen in zip(boxes, visible, strict=True)
    ]
    path = out_dir / "groundtruth_rect.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def davis_palette() -> np.ndarray:
    """(256, 3) uint8 DAVIS / PASCAL VOC palette: index k gets the usual k-th colour."""
    labels = np.arange(256)
    palette = np.zeros((256, 3), dtype=np.uint8)
    for bit in range(8):  # spread the label's bits over the three channels, high bits first
        for channel in range(3):
            palette[:, channel] |= (((labels >> (3 * bit + channel)) & 1) << (7 - bit)).astype(
                np.uint8
            )
    return palette


def write_davis_masks(video: SyntheticVideo, out_dir: str | Path) -> list[Path]:
    """Write DAVIS-style palette PNGs ``out_dir/00000.png`` ... (0-based names).

    Pixel value ``k`` means object index ``k - 1`` (so ``k == track_ids[k - 1]``), 0 background.
    Visible masks never overlap, so every pixel has one value.

    Returns:
        The T written paths, in frame order.
    """
    if video.num_objects > 255:
        raise ValueError(f"DAVIS PNGs hold at most 255 objects, got {video.num_objects}")
    values = np.arange(1, video.num_objects + 1, dtype=np.uint8)  # (O,)
    # masks are disjoint, so a weighted sum writes each object's value on its own pixels
    labels = np.tensordot(video.masks, values, axes=([1], [0])).astype(np.uint8)  # (T, H, W)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    palette = davis_palette().reshape(-1).tolist()  # (768,)
    paths = []
    for t, label in enumerate(labels):
        image = Image.fromarray(label)  # mode "L"
        image.putpalette(palette)  # becomes mode "P", values kept
        path = out_dir / f"{t:05d}.png"
        image.save(path)
        paths.append(path)
    return paths


def write_video_file(
    frames: SyntheticVideo | np.ndarray, path: str | Path, fps: float = 10.0, codec: str = "libx264"
) -> Path:
    """Encode frames to a video file (``.mp4`` etc.) with PyAV.

    Args:
        frames: a :class:`SyntheticVideo` or (T, H, W, 3) uint8 RGB frames.
        path: output file; its folder is created if missing.
        fps: frames per second (> 0).
        codec: FFmpeg encoder; ``libx264`` falls back to ``mpeg4`` when PyAV lacks it.
            Frames with an odd side are padded by one replicated row / column (yuv420p).
    """
    frames = _checked_frames(frames)
    if fps <= 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    if codec not in av.codecs_available:
        if codec != "libx264":
            raise ValueError(f"codec {codec!r} is not available in PyAV; try 'mpeg4'")
        codec = "mpeg4"
    height, width = frames.shape[1:3]
    pad_h, pad_w = height % 2, width % 2
    if pad_h or pad_w:
        logger.warning("padding %dx%d frames to even size for yuv420p video", height, width)
        frames = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height = width + pad_w, height + pad_h
        stream.pix_fmt = "yuv420p"
        if codec == "libx264":
            stream.options = {"crf": "18"}
        for frame in frames:
            container.mux(
                stream.encode(
                    av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
                )
            )
        container.mux(stream.encode())  # flush
    return path
