"""Output fit for logs: ``sam2e ... > log.txt 2>&1`` gets a few lines, not one per frame.

The commands run in-process with stdout and stderr both sent to one file, as a shell redirect
does; a file is not a terminal, so progress bars stay off and what remains is the summary and
where the outputs went.
"""

import contextlib
import json
import sys

import pytest

from sam2_enhanced.cli.sam2e import main
from sam2_enhanced.data.synthetic import SyntheticVideoConfig, generate_video
from sam2_enhanced.data.writers import write_video_file
from sam2_enhanced.training.config import load_train_config
from sam2_enhanced.training.trainer import Trainer

NUM_FRAMES = 60
MAX_LOG_BYTES = 2048  # the whole log of a 60-frame run


@pytest.fixture(scope="module")
def clip_path(tmp_path_factory):
    cfg = SyntheticVideoConfig(
        height=48, width=64, num_frames=NUM_FRAMES, min_objects=1, max_objects=1, max_object_size=16
    )
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    return str(write_video_file(generate_video(0, cfg), path, fps=10))


def run_logged(argv: list[str], log_path) -> tuple[int, str]:
    """``main(argv)`` with stdout and stderr both going to ``log_path`` (``> log 2>&1``)."""
    with open(log_path, "w") as log:
        assert not log.isatty()
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            code = main(argv)
    return code, log_path.read_bytes().decode()  # read_text would turn "\r" into "\n"


def assert_fits_a_log(text: str) -> None:
    assert "\r" not in text, "a progress bar redrew itself in the log"
    assert len(text.encode()) < MAX_LOG_BYTES, text
    assert len(text.splitlines()) <= 12, text


def test_track_into_a_log_file(tmp_path, clip_path, model_dir):
    out = tmp_path / "out"
    argv = ["track", clip_path, "--box", "10,10,30,30", "--out", str(out), "--model", model_dir]
    code, text = run_logged([*argv, "--device", "cpu"], tmp_path / "log.txt")
    assert code == 0, text
    assert_fits_a_log(text)
    lines = text.splitlines()
    assert lines[0].startswith(f"tracked {NUM_FRAMES} frames at "), text
    assert f"summary: {out / 'summary.json'}" in lines
    assert f"annotated_video: {out / 'annotated.mp4'}" in lines
    summary = json.loads((out / "summary.json").read_text())  # the machine-readable form
    assert summary["frames"] == NUM_FRAMES


def test_eval_into_a_log_file(tmp_path, model_dir):
    out = tmp_path / "eval"
    argv = ["eval", "vos", "--synthetic", "3", "--max-frames", "4", "--out", str(out)]
    code, text = run_logged([*argv, "--model", model_dir, "--device", "cpu"], tmp_path / "log.txt")
    assert code == 0, text
    assert_fits_a_log(text)
    assert text.splitlines()[0].startswith("3 sequences evaluated, 0 failures; scored:")
    assert f"json: {out / 'results.json'}" in text.splitlines()
    assert (out / "results.json").is_file()


def test_training_progress_stays_off_a_log(tmp_path, capsys):
    overrides = [f"train.output_dir={tmp_path}", "train.steps=2", "train.num_val_videos=0"]
    overrides += ["data.height=48", "data.width=48", "data.max_object_size=16"]
    Trainer(load_train_config("train_tiny", overrides)).train()
    assert not sys.stderr.isatty()  # capsys: as in a log file
    assert "\r" not in capsys.readouterr().err
