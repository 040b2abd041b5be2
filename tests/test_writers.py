"""Tests of the evaluation-format writers: write, read back, compare."""

from __future__ import annotations

import configparser

import av
import cv2
import numpy as np
import pytest
from PIL import Image

from sam2_enhanced.data.synthetic import SyntheticVideo, SyntheticVideoConfig, generate_video
from sam2_enhanced.data.writers import (
    MOT_CLASS_OFFSET,
    davis_palette,
    frame_file_name,
    write_davis_masks,
    write_frames,
    write_mot_gt,
    write_mot_seqinfo,
    write_sot_sequence,
    write_video_file,
)


def hand_video() -> SyntheticVideo:
    """2 frames of 6x8, 2 objects; object 2 (a bird) is hidden in frame 2."""
    masks = np.zeros((2, 2, 6, 8), dtype=bool)
    masks[0, 0, 1:3, 2:5] = True  # box x0=2 y0=1 x1=5 y1=3
    masks[1, 0, 2:5, 3:4] = True  # box x0=3 y0=2 x1=4 y1=5
    masks[0, 1, 4:6, 6:8] = True  # box x0=6 y0=4 x1=8 y1=6
    boxes = np.array([[[2, 1, 5, 3], [6, 4, 8, 6]], [[3, 2, 4, 5], [0, 0, 0, 0]]], dtype=np.float32)
    rng = np.random.default_rng(0)
    return SyntheticVideo(
        frames=rng.integers(0, 256, size=(2, 6, 8, 3), dtype=np.uint8),
        boxes_xyxy=boxes,
        masks=masks,
        visibility=np.array([[1.0, 0.5], [0.75, 0.0]], dtype=np.float32),
        class_ids=np.array([2, 1], dtype=np.int64),
        track_ids=np.array([1, 2], dtype=np.int64),
        is_distractor=np.zeros(2, dtype=bool),
        motion_types=("linear", "static"),
        camera_xy=np.zeros((2, 2), dtype=np.int64),
        is_grey=False,
        seed=0,
    )


@pytest.fixture(scope="module")
def video() -> SyntheticVideo:
    return generate_video(
        1, SyntheticVideoConfig(height=48, width=64, num_frames=5, max_object_size=16)
    )


def test_frame_file_name_is_one_based():
    assert frame_file_name(0) == "000001.jpg" and frame_file_name(41, "png") == "000042.png"


def test_png_frames_round_trip_exactly(tmp_path, video):
    paths = write_frames(video, tmp_path / "frames", ext="png")
    assert [p.name for p in paths] == [f"{i:06d}.png" for i in range(1, 6)]
    read = np.stack([cv2.imread(str(p))[..., ::-1] for p in paths])  # BGR -> RGB
    np.testing.assert_array_equal(read, video.frames)


def test_jpeg_frames_round_trip_closely(tmp_path, video):
    paths = write_frames(video.frames, tmp_path, ext="jpg", quality=95)
    read = np.stack([np.asarray(Image.open(p).convert("RGB")) for p in paths])
    assert read.shape == video.frames.shape
    assert np.abs(read.astype(np.int16) - video.frames).mean() < 4.0


@pytest.mark.parametrize(
    "frames,kwargs,error",
    [
        (np.zeros((2, 8, 8, 3), dtype=np.float32), {}, ValueError),
        (np.zeros((8, 8, 3), dtype=np.uint8), {}, ValueError),
        ([np.zeros((8, 8, 3), dtype=np.uint8)], {}, TypeError),
        (np.zeros((1, 8, 8, 3), dtype=np.uint8), {"ext": "bmp"}, ValueError),
        (np.zeros((1, 8, 8, 3), dtype=np.uint8), {"quality": 0}, ValueError),
    ],
)
def test_write_frames_rejects_bad_input(tmp_path, frames, kwargs, error):
    with pytest.raises(error):
        write_frames(frames, tmp_path, **kwargs)


def test_mot_gt_hand_example(tmp_path):
    path = write_mot_gt(hand_video(), tmp_path / "gt" / "gt.txt")
    assert path.read_text().splitlines() == [
        "1,1,2.00,1.00,3.00,2.00,1,3,1.0000",
        "1,2,6.00,4.00,2.00,2.00,1,2,0.5000",
        "2,1,3.00,2.00,1.00,3.00,1,3,0.7500",
    ]


def test_mot_gt_matches_generated_video(tmp_path, video):
    rows = np.loadtxt(write_mot_gt(video, tmp_path / "gt.txt"), delimiter=",", ndmin=2)
    assert len(rows) == int((video.visibility > 0).sum())
    for frame, track, x, y, w, h, conf, cls, vis in rows:
        t, o = int(frame) - 1, int(track) - 1
        np.testing.assert_allclose([x, y, x + w, y + h], video.boxes_xyxy[t, o])
        assert conf == 1 and cls == video.class_ids[o] + MOT_CLASS_OFFSET
        assert vis == pytest.approx(video.visibility[t, o], abs=1e-4)


def test_mot_seqinfo(tmp_path, video):
    parser = configparser.ConfigParser()
    parser.read(write_mot_seqinfo(video, tmp_path / "seqinfo.ini", name="syn1", fps=25))
    section = parser["Sequence"]
    assert section["name"] == "syn1" and section["imDir"] == "img1"
    assert (int(section["seqLength"]), int(section["imWidth"]), int(section["imHeight"])) == (
        5,
        64,
        48,
    )
    assert section["frameRate"] == "25" and section["imExt"] == ".jpg"


def test_sot_sequence_hand_example(tmp_path):
    gt_path = write_sot_sequence(hand_video(), 1, tmp_path / "seq", ext="png")
    assert gt_path.read_text().splitlines() == ["6.00,4.00,2.00,2.00", "NaN,NaN,NaN,NaN"]
    images = sorted((tmp_path / "seq" / "img").iterdir())
    assert [p.name for p in images] == ["000001.png", "000002.png"]
    np.testing.assert_array_equal(np.asarray(Image.open(images[1])), hand_video().frames[1])


def test_sot_sequence_reads_back_with_nan(tmp_path, video):
    gt = np.genfromtxt(write_sot_sequence(video, 0, tmp_path), delimiter=",")  # (T, 4)
    hidden = video.visibility[:, 0] == 0
    assert np.isnan(gt[hidden]).all()
    np.testing.assert_allclose(gt[~hidden, :2], video.boxes_xyxy[~hidden, 0, :2])
    with pytest.raises(ValueError, match="obj_index"):
        write_sot_sequence(video, video.num_objects, tmp_path)


def test_davis_masks_round_trip(tmp_path):
    source = hand_video()
    paths = write_davis_masks(source, tmp_path)
    assert [p.name for p in paths] == ["00000.png", "00001.png"]
    image = Image.open(paths[0])
    assert image.mode == "P"
    labels = np.stack([np.asarray(Image.open(p)) for p in paths])  # (T, H, W)
    for k in (1, 2):
        np.testing.assert_array_equal(labels == k, source.masks[:, k - 1])
    assert image.getpalette()[:9] == [0, 0, 0, 128, 0, 0, 0, 128, 0]


def test_davis_palette_first_colours():
    np.testing.assert_array_equal(
        davis_palette()[:5], [[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0], [0, 0, 128]]
    )


@pytest.mark.parametrize("size", [(48, 64), (31, 45)])
def test_video_file_round_trip(tmp_path, size):
    frames = generate_video(
        2, SyntheticVideoConfig(height=size[0], width=size[1], num_frames=6, max_object_size=12)
    ).frames
    path = write_video_file(frames, tmp_path / "out" / "clip.mp4", fps=12)
    with av.open(str(path)) as container:
        decoded = np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])
        rate = container.streams.video[0].average_rate
    assert decoded.shape[0] == 6 and rate == 12
    decoded = decoded[:, : size[0], : size[1]]  # odd sizes are padded by one pixel
    assert np.abs(decoded.astype(np.int16) - frames).mean() < 8.0


def test_video_file_rejects_bad_fps(tmp_path, video):
    with pytest.raises(ValueError, match="fps"):
        write_video_file(video, tmp_path / "x.mp4", fps=0)
