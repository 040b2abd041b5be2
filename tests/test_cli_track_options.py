"""``sam2e track`` conveniences: output folder rules, --conf / --classes, --no-video / --no-masks,
camera and stream sources, COCO RLE masks, class names in results.txt, examples in --help."""

import json
import os

import numpy as np
import pytest
import supervision as sv
from PIL import Image

from sam2_enhanced.cli.sam2e import main
from sam2_enhanced.cli.track_args import check_out_dir, conf_settings, next_run_dir, parse_classes
from sam2_enhanced.config import TrackerConfig
from sam2_enhanced.data.frames_stream import CaptureStream, is_stream_source
from sam2_enhanced.data.synthetic import SyntheticVideoConfig, generate_video
from sam2_enhanced.data.writers import write_video_file

CFG = SyntheticVideoConfig(
    height=64, width=80, num_frames=3, min_objects=2, max_objects=2, max_object_size=16
)
NAMES = {-1: "object", 0: "drone", 1: "bird", 2: "vehicle", 3: "balloon"}


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    video = generate_video(3, CFG)
    return str(write_video_file(video, tmp_path_factory.mktemp("clip") / "clip.mp4", fps=8))


def track(clip, model_dir, *extra):
    return main(["track", clip, "--model", model_dir, "--device", "cpu", *extra])


def test_non_empty_out_is_refused_and_exist_ok_clears_the_old_run(tmp_path, clip, model_dir):
    out = tmp_path / "run"
    assert track(clip, model_dir, "--box", "10,12,30,28", "--out", str(out)) == 0
    (out / "masks" / "00099.png").write_bytes(b"stale")  # a frame of a longer earlier run
    (out / "notes.txt").write_text("mine")
    assert (
        track(clip, model_dir, "--box", "10,12,30,28", "--out", str(out), "--max-frames", "2") == 2
    )
    assert track(
        clip, model_dir, "--box", "10,12,30,28", "--out", str(out), "--max-frames", "2",
        "--exist-ok",
    ) == 0  # fmt: skip
    assert sorted(p.name for p in (out / "masks").glob("*.png")) == ["00000.png", "00001.png"]
    assert (out / "notes.txt").read_text() == "mine"  # only the command's own files go


def test_refusal_message_names_the_way_out(tmp_path, clip, model_dir, capsys):
    (tmp_path / "x.txt").write_text("x")
    assert track(clip, model_dir, "--out", str(tmp_path)) == 2
    err = capsys.readouterr().err
    assert "is not empty" in err and "--exist-ok" in err and len(err.splitlines()) == 1


def test_default_out_is_the_next_numbered_run(tmp_path, clip, model_dir, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert next_run_dir().as_posix() == "runs/track/1"
    assert track(clip, model_dir, "--max-frames", "1", "--no-video") == 0
    (tmp_path / "runs" / "track" / "7").mkdir()
    assert next_run_dir().as_posix() == "runs/track/8"
    assert json.loads((tmp_path / "runs/track/1/summary.json").read_text())["frames"] == 1


@pytest.mark.parametrize(
    ("out", "exist_ok", "error"),
    [("file", False, "is a file"), ("full", False, "is not empty"), ("full", True, None)],
)
def test_check_out_dir(tmp_path, out, exist_ok, error):
    (tmp_path / "file").write_text("")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "a").write_text("")
    if error:
        with pytest.raises(ValueError, match=error):
            check_out_dir(str(tmp_path / out), exist_ok)
    else:
        assert check_out_dir(str(tmp_path / out), exist_ok) == tmp_path / out


def test_no_video_no_masks_and_rle_masks(tmp_path, clip, model_dir):
    box = ("--box", "10,12,30,28", "--max-frames", "2")
    assert track(clip, model_dir, *box, "--out", str(tmp_path / "a")) == 0
    records = json.loads((tmp_path / "a" / "masks.json").read_text())
    for record in records:
        with Image.open(tmp_path / "a" / "masks" / f"{record['frame']:05d}.png") as image:
            png = np.asarray(image) == 1
        rle = record["segmentation"]
        decoded = sv.rle_to_mask(rle["counts"], resolution_wh=(rle["size"][1], rle["size"][0]))
        assert record["obj_id"] == 1 and (decoded == png).all() and record["area"] == png.sum()
    assert track(clip, model_dir, *box, "--out", str(tmp_path / "b"), "--no-video") == 0
    assert not (tmp_path / "b" / "annotated.mp4").exists()
    assert (tmp_path / "b" / "masks.json").exists()
    assert track(clip, model_dir, *box, "--out", str(tmp_path / "c"), "--no-masks") == 0
    assert sorted(os.listdir(tmp_path / "c")) == ["annotated.mp4", "results.txt", "summary.json"]


def test_conf_classes_and_class_names_in_results(tmp_path, clip, model_dir):
    # --conf 0: every query is a detection; --classes keeps two classes by name and by id
    assert track(clip, model_dir, "--out", str(tmp_path), "--conf", "0", "--classes", "bird,3") == 0
    rows = [line.split(",") for line in (tmp_path / "results.txt").read_text().splitlines()]
    assert rows and all(len(row) == 11 for row in rows)
    assert {row[10] for row in rows} <= {"bird", "balloon"}
    assert json.loads((tmp_path / "summary.json").read_text())["classes"] == [1, 3]


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0,2", {0, 2}), ("Drone,bird", {0, 1}), ("balloon", {3}), ("-1", None), ("9", None)],
)
def test_parse_classes(text, expected):
    if expected is None:
        with pytest.raises(ValueError, match="unknown class"):
            parse_classes(text, NAMES)
    else:
        assert parse_classes(text, NAMES) == expected


@pytest.mark.parametrize(
    ("conf", "low", "expected"),
    [
        (None, 0.15, []),
        (0.5, 0.15, ["tracker.det_threshold=0.5"]),
        (0.1, 0.15, ["tracker.det_threshold=0.1", "tracker.low_threshold=null"]),
        (0.3, None, ["tracker.det_threshold=0.3"]),
    ],
)
def test_conf_settings(conf, low, expected):
    assert conf_settings(conf, TrackerConfig(det_threshold=0.35, low_threshold=low)) == expected


@pytest.mark.parametrize(
    ("text", "is_stream"),
    [("0", True), ("12", True), ("rtsp://cam/live", True), ("HTTP://x/y.m3u8", True)]
    + [("video.mp4", False), ("frames/", False), ("0.mp4", False)],
)
def test_stream_sources_are_told_from_paths(text, is_stream):
    assert is_stream_source(text) == is_stream


def test_capture_stream_reads_rgb_frames_lazily(clip):
    stream = CaptureStream(clip)  # a file through the same OpenCV capture as a camera / URL
    frames = list(stream)
    assert len(frames) == 3 and frames[0].shape == (64, 80, 3) and frames[0].dtype == np.uint8
    assert stream.name == clip and stream.fps == pytest.approx(8)


def test_capture_stream_as_a_live_source(tmp_path, clip, model_dir):
    from sam2_enhanced.cli.predictor_args import load_predictor
    from sam2_enhanced.cli.track import build_prompts, track_video

    predictor = load_predictor(model_dir, "cpu")
    prompts = build_prompts([np.array([10.0, 12, 30, 28])], [], [], None, 0)
    summary = track_video(predictor, CaptureStream(clip), prompts, tmp_path, progress=False)
    assert summary.frames == 3 and summary.video == clip


def test_help_shows_the_new_options_and_examples(capsys):
    assert main(["track", "--help"]) == 0
    text = capsys.readouterr().out
    for option in ("--conf", "--classes", "--no-video", "--no-masks", "--exist-ok", "SOURCE"):
        assert option in text
    assert "examples:" in text and "sam2e track 0 " in text and "runs/track/N" in text
