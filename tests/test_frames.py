"""Frame sources: folders, video files, arrays and live iterators (all written into tmp_path)."""

from __future__ import annotations

import av
import cv2
import numpy as np
import pytest

from sam2_enhanced.data.frames import (
    EndOfStreamError,
    ImageFolderFrameSource,
    LiveFrameSource,
    OpenCVVideoFrameSource,
    VideoFileFrameSource,
    iter_frames,
    natural_sort_key,
    open_frames,
)

H, W = 32, 48  # even sizes, as yuv420p video needs


def make_frame(t: int) -> np.ndarray:
    """(H, W, 3) uint8 frame ``t``: a grey level of its own and a square at a moving place."""
    frame = np.full((H, W, 3), 16 + 18 * t, dtype=np.uint8)
    frame[4:12, 2 * t : 2 * t + 8] = (250, 40, 40)
    return frame


def write_png_folder(folder, names):
    folder.mkdir(parents=True, exist_ok=True)
    for t, name in enumerate(names):
        cv2.imwrite(str(folder / name), make_frame(t)[:, :, ::-1])
    return folder


def write_video(path, num_frames, codec="libx264", options=None):
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=10)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.options = options or {}
        for t in range(num_frames):
            frame = av.VideoFrame.from_ndarray(make_frame(t), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def nearest_reference(frame: np.ndarray, num_frames: int) -> int:
    errors = [np.abs(frame.astype(int) - make_frame(t)).mean() for t in range(num_frames)]
    return int(np.argmin(errors))


@pytest.mark.parametrize(
    "names, expected",
    [
        (["10.jpg", "2.jpg", "1.jpg"], ["1.jpg", "2.jpg", "10.jpg"]),
        (["a10b2.png", "a2b10.png", "a2b3.png"], ["a2b3.png", "a2b10.png", "a10b2.png"]),
        (["IMG_2.JPG", "img_1.jpg", "img_10.jpg"], ["img_1.jpg", "IMG_2.JPG", "img_10.jpg"]),
        (["frame1.png", "frame01.png"], ["frame01.png", "frame1.png"]),  # ties: by name
    ],
)
def test_natural_sort_key(names, expected):
    assert sorted(names, key=natural_sort_key) == expected


def test_png_folder_natural_order_exact_pixels_and_random_access(tmp_path):
    names = ["1.png", "2.PNG", "3.png", "4.png", "5.png", "6.png", "7.png", "8.png", "10.png"]
    folder = write_png_folder(tmp_path / "frames", names)
    (folder / "notes.txt").write_text("not a frame")
    (folder / "._1.png").write_bytes(b"macOS resource fork")
    with open_frames(folder, cache_size=2) as source:
        assert isinstance(source, ImageFolderFrameSource)
        assert [p.name for p in source.files] == names
        assert (source.num_frames, source.height, source.width) == (9, H, W)
        assert not source.is_live
        for idx in (5, 2, 7, 8, 2):
            frame = source.get(idx)
            assert frame.dtype == np.uint8 and frame.shape == (H, W, 3)
            np.testing.assert_array_equal(frame, make_frame(idx))
        source.get(5)[:] = 0  # a returned frame is the caller's: the cache is unaffected
        np.testing.assert_array_equal(source.get(5), make_frame(5))


def test_jpeg_folder_with_mixed_case_extensions(tmp_path):
    folder = tmp_path / "jpegs"
    folder.mkdir()
    for name in ["00002.JPG", "00001.jpeg", "00003.jpg"]:
        cv2.imwrite(str(folder / name), make_frame(int(name[:5]) - 1)[:, :, ::-1])
    with open_frames(str(folder)) as source:
        assert source.num_frames == 3
        assert [nearest_reference(source.get(i), 3) for i in range(3)] == [0, 1, 2]


@pytest.mark.parametrize(
    "suffix, codec, options",
    [
        ("mp4", "libx264", {"g": "4", "bf": "2"}),
        ("mkv", "libx264", {"g": "3"}),
        ("avi", "mpeg4", {"g": "4", "bf": "2"}),  # AVI seeks by decode time
        ("mov", "mpeg4", {"g": "5"}),
    ],
)
def test_video_file_random_access_matches_sequential_decode(tmp_path, suffix, codec, options):
    num_frames = 12
    path = write_video(tmp_path / f"clip.{suffix}", num_frames, codec, options)
    with open_frames(path, cache_size=2) as source:
        assert isinstance(source, VideoFileFrameSource)
        assert (source.num_frames, source.height, source.width) == (num_frames, H, W)
        assert source.fps == pytest.approx(10.0)
        sequential = [frame for _, frame in iter_frames(source)]
    with open_frames(path, cache_size=2) as source:
        for idx in (5, 2, 7, 11, 0, 6, 3):
            frame = source.get(idx)
            np.testing.assert_array_equal(frame, sequential[idx])  # same as decoding from 0
            assert nearest_reference(frame, num_frames) == idx
            assert np.abs(frame.astype(int) - make_frame(idx)).mean() < 8  # lossy, close
        reverse = [idx for idx, _ in iter_frames(source, step=-1)]
        assert reverse == list(range(num_frames - 1, -1, -1))


def test_opencv_fallback_reads_mjpg_avi(tmp_path):
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (W, H))
    for t in range(6):
        writer.write(make_frame(t)[:, :, ::-1])
    writer.release()
    with OpenCVVideoFrameSource(path, cache_size=1) as source:
        assert (source.num_frames, source.height, source.width) == (6, H, W)
        assert [nearest_reference(source.get(i), 6) for i in (4, 1, 5, 0)] == [4, 1, 5, 0]
    with open_frames(path) as source:  # PyAV reads it too, with the same frame count
        assert source.num_frames == 6


def test_array_and_list_sources_exact():
    video = np.stack([make_frame(t) for t in range(4)])  # (T, H, W, 3)
    for frames in (video, list(video), tuple(video)):
        with open_frames(frames) as source:
            assert (source.num_frames, source.height, source.width) == (4, H, W)
            np.testing.assert_array_equal(source.get(3), make_frame(3))
    with open_frames(video[..., ::-1], bgr=True) as source:
        np.testing.assert_array_equal(source.get(1), make_frame(1))


@pytest.mark.parametrize("make_grey", [lambda v: v, lambda v: list(v), lambda v: v[..., None]])
def test_grey_frames_become_three_equal_channels(make_grey):
    grey = np.arange(2 * 4 * 5, dtype=np.uint8).reshape(2, 4, 5)  # (T, H, W)
    with open_frames(make_grey(grey)) as source:
        frame = source.get(1)
        assert frame.shape == (4, 5, 3)
        for channel in range(3):
            np.testing.assert_array_equal(frame[:, :, channel], grey[1])


def test_live_generator_is_pulled_lazily_with_a_bounded_window():
    pulled = []

    def camera():
        for t in range(6):
            pulled.append(t)
            yield make_frame(t)

    source = open_frames(camera(), live_window=2)
    assert isinstance(source, LiveFrameSource)
    assert source.is_live and source.num_frames is None
    assert pulled == []
    assert (source.height, source.width) == (H, W)
    assert pulled == [0]
    np.testing.assert_array_equal(source.get(3), make_frame(3))
    assert pulled == [0, 1, 2, 3]
    np.testing.assert_array_equal(source.get(2), make_frame(2))  # still in the window
    with pytest.raises(ValueError, match="no longer kept"):
        source.get(1)
    np.testing.assert_array_equal(source.get(5), make_frame(5))
    with pytest.raises(EndOfStreamError, match="ended after 6 frames"):
        source.get(6)
    assert issubclass(EndOfStreamError, IndexError)
    source.close()
    with pytest.raises(ValueError, match="closed"):
        source.get(5)


def test_iter_frames_on_live_source_stops_at_end_of_stream():
    source = open_frames(iter([make_frame(t) for t in range(5)]), bgr=True)
    items = list(iter_frames(source, step=2))
    assert [idx for idx, _ in items] == [0, 2, 4]
    np.testing.assert_array_equal(items[1][1], make_frame(2)[:, :, ::-1])
    with pytest.raises(ValueError, match="forward"):
        list(iter_frames(open_frames(iter([])), step=-1))


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({}, [0, 1, 2, 3, 4]),
        ({"start": 1, "stop": 100, "step": 2}, [1, 3]),
        ({"step": -2}, [4, 2, 0]),
        ({"start": 3, "stop": 0, "step": -1}, [3, 2, 1]),
    ],
)
def test_iter_frames_ranges(kwargs, expected):
    source = open_frames(np.zeros((5, 2, 2, 3), np.uint8))
    assert [idx for idx, _ in iter_frames(source, **kwargs)] == expected


def test_iter_frames_rejects_zero_step():
    with pytest.raises(ValueError, match="step"):
        list(iter_frames(open_frames(np.zeros((2, 2, 2, 3), np.uint8)), step=0))


def test_frame_index_errors():
    source = open_frames(np.zeros((3, 2, 2, 3), np.uint8))
    with pytest.raises(IndexError, match=r"valid: 0\.\.2"):
        source.get(3)
    with pytest.raises(IndexError, match="valid"):
        source.get(-1)
    with pytest.raises(TypeError, match="int"):
        source.get(1.5)
    assert source.get(np.int64(2)).shape == (2, 2, 3)


def test_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing_dir"):
        open_frames(tmp_path / "missing_dir")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("no frames here")
    with pytest.raises(ValueError, match="no frames"):
        open_frames(empty)
    folder = write_png_folder(tmp_path / "bad", ["1.png", "2.png", "3.png"])
    (folder / "2.png").write_bytes(b"\x89PNG not really")
    cv2.imwrite(str(folder / "3.png"), np.zeros((H + 2, W, 3), np.uint8))
    with open_frames(folder) as source:
        source.get(0)
        with pytest.raises(ValueError, match=r"frame 1: .*2\.png"):
            source.get(1)
        with pytest.raises(ValueError, match=r"frame 2 \(3\.png\) is 48x34"):
            source.get(2)


def test_unreadable_video_file(tmp_path):
    path = tmp_path / "clip.mp4"
    path.write_bytes(b"this is not a video" * 50)
    with pytest.raises(ValueError, match="cannot read video file .*clip.mp4"):
        open_frames(path)


@pytest.mark.parametrize(
    "frames, error, match",
    [
        (np.zeros((2, 4, 4, 3), np.float32), TypeError, "uint8"),
        (np.zeros((2, 4, 4, 2), np.uint8), ValueError, r"\(T, H, W, 3\)"),
        (np.zeros((4, 4, 3), np.uint8), ValueError, "one .* image"),
        (np.zeros((0, 4, 4, 3), np.uint8), ValueError, "no frames"),
        ([], ValueError, "no frames"),
        ([np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4, 3), np.int64)], TypeError, "frame 1"),
        ([np.zeros((4, 4, 3), np.uint8), np.zeros((4, 5, 3), np.uint8)], ValueError, "frame 1"),
        ([np.zeros((4, 4, 4), np.uint8)], ValueError, r"frame 0: expected shape"),
        (42, TypeError, "folder of JPEG/PNG frames"),
        (None, TypeError, "iterator"),
        (b"video.mp4", TypeError, "video file path"),
        ({"frames": 1}, TypeError, "expected"),
    ],
)
def test_bad_inputs(frames, error, match):
    with pytest.raises(error, match=match):
        open_frames(frames)


def test_bad_live_frame_is_reported_when_pulled():
    source = open_frames(iter([np.zeros((4, 4, 3), np.uint8), np.zeros((4, 4), np.float64)]))
    source.get(0)
    with pytest.raises(TypeError, match="frame 1 of the live stream"):
        source.get(1)


@pytest.mark.parametrize(
    "kwargs, match",
    [({"cache_size": 0}, "cache_size"), ({"bgr": True}, "bgr")],
)
def test_bad_options_for_folders(tmp_path, kwargs, match):
    folder = write_png_folder(tmp_path / "frames", ["1.png"])
    with pytest.raises(ValueError, match=match):
        open_frames(folder, **kwargs)


def test_bad_live_window():
    with pytest.raises(ValueError, match="live_window"):
        open_frames(iter([]), live_window=0)
