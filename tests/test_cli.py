"""The ``sam2e`` command line, called in-process with a tiny saved model and tiny clips."""

import json
import runpy
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from sam2_enhanced.cli.predictor_args import load_predictor
from sam2_enhanced.cli.sam2e import main, parse_box, parse_point
from sam2_enhanced.cli.track import build_prompts
from sam2_enhanced.data.readers_mot import read_mot_file
from sam2_enhanced.data.synthetic import SyntheticVideoConfig, generate_video
from sam2_enhanced.data.writers import write_sot_sequence, write_video_file

CFG = SyntheticVideoConfig(
    height=64, width=80, num_frames=4, min_objects=2, max_objects=2, max_object_size=16
)
SUMMARY_KEYS = {
    "video",
    "model",
    "width",
    "height",
    "video_fps",
    "first_frame",
    "frames",
    "seconds",
    "fps",
    "detections",
    "objects",
    "files",
    "classes",
}


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """(video, path of its mp4)."""
    video = generate_video(3, CFG)
    path = write_video_file(video, tmp_path_factory.mktemp("clip") / "clip.mp4", fps=8)
    return video, str(path)


def _track(clip_path, out, model_dir, *extra):
    return main(
        ["track", clip_path, "--out", str(out), "--model", model_dir, "--device", "cpu", *extra]
    )


def _num_video_frames(path):
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def test_track_box_writes_every_output(tmp_path, clip, model_dir, capsys):
    video, path = clip
    assert (
        _track(
            path,
            tmp_path,
            model_dir,
            "--box",
            "10,12,30,28",
            "--box",
            "40,5,60,25",
            "--obj-id",
            "5",
            "7",
        )
        == 0
    )
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert set(summary) == SUMMARY_KEYS
    assert summary["frames"] == 4 and summary["video_fps"] == 8 and summary["model"] == model_dir
    assert [(o["obj_id"], o["mask_value"], o["prompt"]) for o in summary["objects"]] == [
        (5, 1, "box"),
        (7, 2, "box"),
    ]
    assert _num_video_frames(tmp_path / "annotated.mp4") == 4
    results = read_mot_file(tmp_path / "results.txt", num_frames=4)
    assert sum(len(ids) for ids in results.ids) == summary["detections"]
    pngs = sorted((tmp_path / "masks").glob("*.png"))
    assert [p.name for p in pngs] == [f"{t:05d}.png" for t in range(4)]
    with Image.open(pngs[0]) as image:
        assert image.mode == "P" and image.size == (80, 64)
        assert set(np.unique(np.asarray(image))) <= {0, 1, 2}
    assert "tracked 4 frames" in capsys.readouterr().out


def test_track_points_from_frame_with_max_frames(tmp_path, clip, model_dir):
    _, path = clip
    assert (
        _track(
            path,
            tmp_path,
            model_dir,
            "--points",
            "20,20",
            "22,30,0",
            "--frame",
            "1",
            "--max-frames",
            "2",
        )
        == 0
    )
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["first_frame"] == 1 and summary["frames"] == 2
    assert summary["objects"] == [{"obj_id": 1, "mask_value": 1, "prompt": "points", "frame": 1}]
    assert [p.name for p in sorted((tmp_path / "masks").glob("*.png"))] == [
        "00001.png",
        "00002.png",
    ]
    frames = {
        int(line.split(",")[0]) for line in (tmp_path / "results.txt").read_text().splitlines()
    }
    assert frames <= {2, 3}  # 1-based frame numbers


def test_track_mask_prompt_and_no_prompt(tmp_path, clip, model_dir):
    video, path = clip
    Image.fromarray(video.masks[0, 1].astype(np.uint8) * 255).save(tmp_path / "mask.png")
    assert _track(path, tmp_path / "m", model_dir, "--mask", str(tmp_path / "mask.png")) == 0
    assert (
        json.loads((tmp_path / "m" / "summary.json").read_text())["objects"][0]["prompt"] == "mask"
    )
    assert _track(path, tmp_path / "none", model_dir, "--max-frames", "2") == 0
    summary = json.loads((tmp_path / "none" / "summary.json").read_text())
    assert summary["objects"] == [] and summary["files"]["masks"] is None
    assert not (tmp_path / "none" / "masks").exists()
    assert _num_video_frames(tmp_path / "none" / "annotated.mp4") == 2


@pytest.mark.parametrize(("tiles", "enabled"), [("model", False), ("on", True), ("off", False)])
def test_tiles_option_switches_the_models_detection_tiles(model_dir, tiles, enabled):
    predictor = load_predictor(model_dir, "cpu", tiles)
    assert predictor.tiles.enabled is enabled
    assert predictor.model.config.detection_tiles.use_tiles is False  # the saved setting


def test_set_changes_inference_settings_for_this_run_only(model_dir):
    settings = ["tracker.min_hits=3", "tracker.low_threshold=0.1", "detection_tiles.max_tiles=4"]
    predictor = load_predictor(model_dir, "cpu", "on", settings)
    tracker_cfg = predictor.config.tracker
    assert (tracker_cfg.min_hits, tracker_cfg.low_threshold) == (3, 0.1)
    assert predictor.tiles.enabled and predictor.config.detection_tiles.max_tiles == 4
    assert predictor.config.tracker.det_threshold == predictor.model.config.tracker.det_threshold
    saved = predictor.model.config
    assert (saved.tracker.min_hits, saved.tracker.low_threshold) == (2, None)  # model unchanged
    again = load_predictor(model_dir, "cpu", "model", ["tracker.low_threshold=null"])
    assert again.config.tracker.low_threshold is None


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("tracker.min_hits", "SECTION.KEY=VALUE"),
        ("min_hits=2", "SECTION.KEY=VALUE"),
        ("model.tracker.min_hits=2", "SECTION.KEY=VALUE"),
        ("encoder.hidden_size=8", "SECTION.KEY=VALUE"),
        ("tracker.min_hit=2", "tracker.min_hit"),
        ("tracker.min_hits=two", "tracker.min_hits"),
        ("tracker.low_threshold=0.9", "tracker.low_threshold must be in"),
    ],
)
def test_bad_set_is_refused_with_the_key(model_dir, setting, message):
    with pytest.raises(ValueError, match=message):
        load_predictor(model_dir, "cpu", "model", [setting])


def test_threshold_command_bad_set_exits_2(model_dir, capsys):
    argv = ["threshold", "--model", str(model_dir), "--device", "cpu", "--set", "tracker.x=1"]
    assert main(argv) == 2
    assert "tracker.x" in capsys.readouterr().err


def test_load_predictor_refuses_an_unknown_tiles_value(model_dir):
    with pytest.raises(ValueError, match="--tiles must be one of"):
        load_predictor(model_dir, "cpu", "yes")


def test_track_with_tiles_on_says_how_many(tmp_path, clip, model_dir, capsys):
    small_tiles = ("--max-frames", "2", "--set", "detection_tiles.tile_side=32")
    assert _track(clip[1], tmp_path / "on", model_dir, *small_tiles, "--tiles", "on") == 0
    assert json.loads((tmp_path / "on" / "summary.json").read_text())["frames"] == 2
    assert "detection tiles: " in capsys.readouterr().out
    assert _track(clip[1], tmp_path / "off", model_dir, *small_tiles, "--tiles", "off") == 0
    assert "detection tiles" not in capsys.readouterr().out


def test_demo(tmp_path, model_dir, capsys):
    assert (
        main(
            [
                "demo",
                "--out",
                str(tmp_path),
                "--model",
                model_dir,
                "--device",
                "cpu",
                "--frames",
                "3",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "mean mask IoU vs ground truth: " in out and str(tmp_path / "annotated.mp4") in out
    iou = float(out.split("mean mask IoU vs ground truth: ")[1].split()[0])
    assert 0.0 <= iou <= 1.0
    assert _num_video_frames(tmp_path / "demo_input.mp4") == 3
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert len(list((tmp_path / "masks").glob("*.png"))) == summary["frames"]
    assert round(summary["demo"]["mean_mask_iou"], 3) == iou  # the printed number, on file
    assert summary["demo"]["class_name"] in out and len(summary["demo"]["prompt_box_xyxy"]) == 4


@pytest.mark.parametrize(
    ("task", "methods", "files"),
    [
        ("sot", "ours,csrt,static", {"results.json", "results.md", "success_precision.png"}),
        ("mot", "ours,bytetrack", {"results.json", "results.md"}),
        ("vos", "ours,empty,static-mask", {"results.json", "results.md"}),
    ],
)
def test_eval_synthetic(tmp_path, model_dir, task, methods, files, capsys):
    argv = ["eval", task, "--synthetic", "1", "--methods", methods, "--max-frames", "3"]
    assert main([*argv, "--out", str(tmp_path), "--model", model_dir, "--device", "cpu"]) == 0
    assert {p.name for p in tmp_path.iterdir()} == files
    document = json.loads((tmp_path / "results.json").read_text())
    assert document["task"] == task and list(document["summary"]) == methods.split(",")
    assert document["sequences"][0]["num_frames"] == 3
    assert "1 sequences evaluated, 0 failures" in capsys.readouterr().out
    assert document["meta"]["split"] == "test" and not document["score_init_frame"]
    assert all(document["summary"][m]["seqs"] == 1 for m in methods.split(","))
    if task == "mot":
        assert "## By object size" in (tmp_path / "results.md").read_text()


@pytest.mark.parametrize(
    ("flags", "first_seed"),
    [([], 20_000_000), (["--score-init-frame"], 20_000_000), (["--split", "val"], 10_000_000)],
)
def test_eval_static_scoring_and_split(tmp_path, flags, first_seed):
    argv = ["eval", "sot", "--synthetic", "1", "--methods", "static", "--out", str(tmp_path)]
    assert main([*argv, *flags]) == 0
    document = json.loads((tmp_path / "results.json").read_text())
    assert document["sequences"][0]["name"] == f"synthetic-{first_seed}"
    score_init_frame = "--score-init-frame" in flags
    assert document["score_init_frame"] == score_init_frame
    init_frame = generate_video(first_seed).first_visible_frame(0)
    num_frames = 16  # the generator's default clip; scored: all, or those after the init frame
    expected = num_frames if score_init_frame else num_frames - init_frame - 1
    assert document["summary"]["static"]["frames"] == expected


def test_eval_reports_a_bad_sequence_goes_on_and_exits_1(tmp_path, capsys):
    video = generate_video(3, CFG)
    write_sot_sequence(video, 1, tmp_path / "data" / "good")
    (tmp_path / "data" / "bad").mkdir()  # no frames, no ground truth
    argv = [
        "eval",
        "sot",
        "--data",
        str(tmp_path / "data"),
        "--methods",
        "csrt",
        "--out",
        str(tmp_path / "out"),
    ]
    assert main(argv) == 1  # after writing the results of the good sequence
    out = capsys.readouterr().out
    assert "1 sequences evaluated, 1 failures" in out and "FAILED bad: FileNotFoundError" in out
    document = json.loads((tmp_path / "out" / "results.json").read_text())
    assert document["meta"]["model"] is None  # csrt alone loads no model
    assert [s["name"] for s in document["sequences"]] == ["good"]


def test_eval_exits_1_when_every_sequence_fails(tmp_path):
    (tmp_path / "data" / "bad").mkdir(parents=True)
    assert (
        main(
            [
                "eval",
                "sot",
                "--data",
                str(tmp_path / "data"),
                "--methods",
                "kcf",
                "--out",
                str(tmp_path / "o"),
            ]
        )
        == 1
    )


ARGPARSE_ERRORS = [  # argparse prints its usage line, then the error
    (["demo", "--threads", "0", "--out", "{out}"], "whole number >= 1"),
    (["track", "{clip}", "--box", "1,2,3", "--out", "{out}"], "expected x0,y0,x1,y1"),
    (["track", "{clip}", "--box", "5,5,1,1", "--out", "{out}"], "x1 > x0"),
    (["track", "{clip}", "--points", "1,2,5", "--out", "{out}"], "label must be 0 or 1"),
    (["track", "{clip}", "--conf", "2", "--out", "{out}"], "threshold in [0, 1]"),
    (["track", "{clip}", "--out", "{out}", "--tiles", "yes"], "invalid choice: 'yes'"),
    (["eval", "sot", "--methods", "csrt", "--out", "{out}"], "one of the arguments --data"),
    (["eval", "det", "--synthetic", "1", "--out", "{out}"], "invalid choice: 'det'"),
    (["eval", "sot", "--synthetic", "1", "--split", "dev", "--out", "{out}"], "invalid choice"),
]
OUR_ERRORS = [  # one line: "sam2e <command>: error: <message>"
    (["track", "{out}/missing.mp4", "--box", "1,1,5,5", "--out", "{out}"], "video not found"),
    (["track", "{clip}", "--box", "1,1,5,5", "--mask", "m.png", "--out", "{out}"], "--mask cannot"),
    (
        [
            "track",
            "{clip}",
            "--box",
            "1,1,5,5",
            "--box",
            "2,2,6,6",
            "--points",
            "3,3",
            "--out",
            "{out}",
        ],
        "same number",
    ),
    (
        ["track", "{clip}", "--box", "1,1,5,5", "--obj-id", "1", "2", "--out", "{out}"],
        "gives 2 ids for 1",
    ),
    (
        ["track", "{clip}", "--box", "1,1,5,5", "--out", "{out}", "--device", "nonsense"],
        "not a torch device",
    ),
    (
        ["track", "{clip}", "--box", "1,1,5,5", "--out", "{out}", "--model", "{out}"],
        "not a sam2-enhanced checkpoint",
    ),
    (
        ["track", "{clip}", "--out", "{out}", "--max-frames", "0", "--model", "{model}"],
        "--max-frames must be >= 1",
    ),
    (
        ["eval", "sot", "--data", "{out}", "--methods", "ours,foo", "--out", "{out}"],
        "unknown method foo",
    ),
    (["eval", "vos", "--data", "{out}", "--methods", "csrt", "--out", "{out}"], "choose from ours"),
    (
        ["eval", "sot", "--data", "{out}/missing", "--methods", "csrt", "--out", "{out}"],
        "no such folder",
    ),
    (["eval", "mot", "--synthetic", "0", "--out", "{out}"], "at least 1 video"),
    (["demo", "--frames", "1", "--model", "{model}", "--out", "{out}"], "--frames must be >= 2"),
    (
        ["track", "{clip}", "--classes", "kite", "--out", "{out}", "--model", "{model}"],
        "--classes: unknown class 'kite'; the model's classes: 0 drone",
    ),
    (["track", "77", "--out", "{out}", "--model", "{model}"], "cannot open camera index 77"),
]


@pytest.mark.parametrize(("args", "message"), ARGPARSE_ERRORS + OUR_ERRORS)
def test_bad_arguments_exit_2_without_traceback(tmp_path, clip, model_dir, capsys, args, message):
    argv = [a.format(clip=clip[1], out=tmp_path, model=model_dir) for a in args]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    if (args, message) in OUR_ERRORS:
        assert len(err.splitlines()) == 1 and err.startswith(f"sam2e {args[0]}: error: ")


def test_mask_of_wrong_size_is_a_clear_error(tmp_path, clip, model_dir, capsys):
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(tmp_path / "small.png")
    assert _track(clip[1], tmp_path / "o", model_dir, "--mask", str(tmp_path / "small.png")) == 2
    err = capsys.readouterr().err
    assert err.startswith("sam2e track: error: mask must have the video's size 64x80")


@pytest.mark.parametrize(
    ("text", "expected"),
    [("1,2,3,4", [1, 2, 3, 4]), (" 1.5, 2 ,3,4.25", [1.5, 2, 3, 4.25])],
)
def test_parse_box(text, expected):
    np.testing.assert_array_equal(parse_box(text), expected)


@pytest.mark.parametrize(("text", "expected"), [("3,4", (3.0, 4.0, 1)), ("3,4,0", (3.0, 4.0, 0))])
def test_parse_point(text, expected):
    assert parse_point(text) == expected


def test_build_prompts_pairs_boxes_and_points():
    prompts = build_prompts(
        [np.array([0, 0, 4, 4.0])], [[(1.0, 2.0, 1), (3.0, 3.0, 0)]], [], None, 2
    )
    assert len(prompts) == 1 and prompts[0].kind == "box+points" and prompts[0].frame_idx == 2
    np.testing.assert_array_equal(prompts[0].point_labels, [1, 0])
    assert build_prompts([], [], [], None, 0) == []


def test_help_and_version(capsys):
    assert main(["--help"]) == 0
    assert "track" in capsys.readouterr().out
    assert main(["--version"]) == 0


def test_bench_is_delegated(capsys):
    assert main(["bench", "--help"]) == 0
    assert "usage" in capsys.readouterr().out.lower()


def test_scripts_evaluate_wraps_eval(monkeypatch, capsys):
    script = Path(__file__).resolve().parents[1] / "scripts" / "evaluate.py"
    monkeypatch.setattr(sys, "argv", [str(script), "--help"])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(script), run_name="__main__")
    assert exit_info.value.code == 0
    assert "usage: sam2e eval" in capsys.readouterr().out


def test_python_m_smoke():
    done = subprocess.run(
        [sys.executable, "-m", "sam2_enhanced", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0 and "track" in done.stdout and "eval" in done.stdout
