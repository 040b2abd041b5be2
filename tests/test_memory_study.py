"""The memory study's bookkeeping: policies, resumable runs, the report and its rule."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from sam2_enhanced.cli import main
from sam2_enhanced.config import MemoryBankConfig, ModelConfig
from sam2_enhanced.evaluation.memory_policies import select_policies, study_policies
from sam2_enhanced.evaluation.memory_study import (
    reacquisition_delays,
    result_path,
    run_policy,
    run_study,
)
from sam2_enhanced.evaluation.memory_study_report import (
    PolicyRow,
    choose_default,
    load_records,
    markdown_report,
    pareto_front,
    write_report,
)
from sam2_enhanced.evaluation.memory_videos import synthetic_study_videos

POLICIES = "fifo,topk-mask_iou_change+optical_flow_magnitude"


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory):
    """A finished tiny study: 2 policies x 1 synthetic video of 8 frames (64 px)."""
    from sam2_enhanced import build_model, load_config

    torch.manual_seed(0)
    model = build_model(load_config("tiny")).eval()
    out = tmp_path_factory.mktemp("study")
    policies = select_policies(study_policies(model.config.memory_bank), POLICIES)
    videos = synthetic_study_videos(1, 8, [64])
    outcome = run_study(model, policies, videos, out, device=torch.device("cpu"),
                        min_gap=1, progress=False)  # fmt: skip
    return out, model, policies, videos, outcome


def test_runs_write_one_json_each(study_dir):
    out, _, policies, videos, outcome = study_dir
    assert outcome.failed == [] and outcome.skipped == 0 and len(outcome.written) == 2
    for policy in policies:
        record = json.loads(result_path(out, policy.name, videos[0].name).read_text())
        assert record["policy"] == policy.name and record["num_tracked_frames"] == 7
        assert record["object_bytes_peak"] >= record["object_bytes_mean"] > 0
        assert 0.0 <= record["sot_auc"] <= 1.0 and record["has_masks"]
        assert record["memory_bank"]["max_recent_frames"] == (6 if policy.name == "fifo" else 2)
    combined = json.loads(result_path(out, policies[1].name, videos[0].name).read_text())
    assert combined["metric_seconds_per_frame"] > 0  # the signal was scored (and timed)
    assert not list(out.rglob("*.tmp"))  # atomic writes leave no temporary file


def test_a_motion_policy_runs_with_its_tracker_and_window_overrides(study_dir):
    _, model, _, videos, _ = study_dir
    (policy,) = select_policies(study_policies(model.config.memory_bank), "static-window-0.5")
    record = run_policy(model, policy, videos[0].load(), torch.device("cpu"), min_gap=1)
    assert record["overrides"] == {
        "search_window.static_side_factor": 0.5, "tracker.classify_motion": True}  # fmt: skip
    assert record["num_tracked_frames"] == 7 and model.config.tracker.classify_motion is False
    assert record["redetections"] == 0  # re-detection is off in this policy


def test_resume_skips_finished_runs(study_dir):
    out, model, policies, videos, _ = study_dir
    again = run_study(model, policies, videos, out, device=torch.device("cpu"), progress=False)
    assert again.written == [] and again.skipped == 2
    redo = result_path(out, policies[0].name, videos[0].name)
    redo.unlink()
    partial = run_study(model, policies, videos, out, device=torch.device("cpu"), progress=False)
    assert partial.written == [redo] and partial.skipped == 1


def test_report_has_a_row_per_policy_and_a_plot(study_dir, tmp_path):
    out, _, policies, _, _ = study_dir
    paths = write_report(out, tmp_path / "memory_study.md", "sam2e study memory --test")
    text = paths["report"].read_text()
    assert "`sam2e study memory --test`" in text and "Machine:" in text
    for policy in policies:
        assert f"| {policy.name} |" in text
    assert "No default chosen" in text  # keep-all was not run
    assert paths["plot"].stat().st_size > 0


def row(name, kib, accuracy, group="signal", seconds=0.01):
    keys = ("object_bytes_mean", "bank_bytes_peak", "metric_seconds_per_frame", "sot_auc",
            "mask_iou", "j_and_f", "reacq_mean_frames")  # fmt: skip
    numbers = dict.fromkeys(keys, 0.0)
    numbers.update(object_bytes_peak=kib * 1024.0, seconds_per_frame=seconds)
    return PolicyRow(name, group, 1, numbers, 0, 0, accuracy)


def test_default_rule_picks_cheapest_within_tolerance():
    rows = [
        row("keep-all", 1000, 0.80, "baseline"),
        row("big", 300, 0.80),  # accurate but over 25 % of keep-all's memory
        row("good", 200, 0.79),  # 98.75 % of keep-all's accuracy
        row("cheaper-good", 100, 0.785),  # 98.1 %: still within 2 %
        row("cheap-bad", 50, 0.70),
    ]
    assert choose_default(rows).policy == "cheaper-good"
    rows[3] = row("cheaper-good", 100, 0.78)  # 97.5 %: out
    assert choose_default(rows).policy == "good"


def test_default_rule_names_the_closest_when_none_qualifies():
    rows = [row("keep-all", 1000, 0.80, "baseline"), row("a", 200, 0.70), row("b", 100, 0.75)]
    choice = choose_default(rows)
    assert choice.policy is None and "closest: `b`" in choice.line
    alone = choose_default([row("a", 200, 0.70)])
    assert alone.policy is None and "keep-all" in alone.line


def test_pareto_front():
    rows = [row("a", 10, 0.5), row("b", 20, 0.4), row("c", 30, 0.7), row("d", 5, float("nan"))]
    assert [r.policy for r in pareto_front(rows)] == ["a", "c"]


@pytest.mark.parametrize(
    ("present", "overlap", "min_gap", "expected"),
    [
        ("1111111", "0000000", 1, []),  # never absent
        ("1100111", "1100011", 2, [1]),  # back at 4, found at 5
        ("1100111", "1100111", 2, [0]),  # found at once
        ("1100111", "1100000", 2, [None]),  # never found again
        ("1101111", "1100111", 2, []),  # a 1-frame absence is not an occlusion
        ("1100110001", "1100110001", 2, [0, 0]),  # two occlusions
        ("1111000", "1111000", 1, []),  # absent until the end: nothing to re-acquire
        ("0011011", "0011011", 1, [0]),  # absences before the prompt (frame 2) do not count
    ],
)
def test_reacquisition_delays(present, overlap, min_gap, expected):
    present_arr = np.array([c == "1" for c in present])
    overlap_arr = np.array([float(c) for c in overlap])
    start = int(np.flatnonzero(present_arr)[0])
    assert reacquisition_delays(overlap_arr, present_arr, start, min_gap) == expected


def test_policies_table():
    policies = study_policies(MemoryBankConfig())
    names = [p.name for p in policies]
    assert len(names) == len(set(names))
    for name in ("fifo", "keep-all", "downsample-x4", "pca-8", "dtype-bfloat16", "topk-k4",
                 "fixed-optical_flow_magnitude-x1", "adaptive-ssim_distance"):  # fmt: skip
        assert name in names
    for policy in policies:  # every override is a valid MemoryBankConfig
        assert isinstance(policy.apply(ModelConfig()), ModelConfig)
    fifo = next(p for p in policies if p.name == "fifo").apply(ModelConfig()).memory_bank
    assert fifo.max_keyframes == 0 and fifo == dataclasses.replace(fifo)
    assert {p.name for p in select_policies(policies, "fixed-ssim*")} == {
        "fixed-ssim_distance-x0.5", "fixed-ssim_distance-x1", "fixed-ssim_distance-x2"}  # fmt: skip
    assert [p.name for p in select_policies(policies, "baseline")] == [
        "default", "fifo", "keep-all"]  # fmt: skip
    longterm = {
        p.name: p.apply(ModelConfig()).memory_bank for p in select_policies(policies, "longterm")
    }
    assert longterm["longterm-k2"].max_longterm_frames == 2
    assert longterm["recent-5"].max_recent_frames == 5  # as many memories, FIFO only
    assert longterm["recent-5"].max_longterm_frames == 0
    motion = {p.name: p.apply(ModelConfig()) for p in select_policies(policies, "motion")}
    assert all(cfg.tracker.classify_motion for cfg in motion.values())
    assert motion["static-stride-4"].memory_bank.static_memory_stride == 4
    assert motion["static-window-0.5"].search_window.static_side_factor == 0.5
    assert motion["static-window-0.5"].memory_bank == MemoryBankConfig()  # nothing else changes
    redetect = next(p for p in policies if p.name == "redetect-3-low").apply(ModelConfig())
    assert (redetect.tracker.redetect_after, redetect.tracker.redetect_threshold) == (3, 0.1)


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda: select_policies(study_policies(MemoryBankConfig()), "nope"), ValueError),
        (lambda: select_policies(study_policies(MemoryBankConfig()), " , "), ValueError),
        (
            lambda: run_study(
                None, study_policies(MemoryBankConfig()), [], "x", device=torch.device("cpu")
            ),
            ValueError,
        ),  # fmt: skip
        (
            lambda: run_study(
                None, [], synthetic_study_videos(1, 8, [64]), "x", device=torch.device("cpu")
            ),
            ValueError,
        ),  # fmt: skip
        (lambda: synthetic_study_videos(0, 8, [64]), ValueError),
        (lambda: synthetic_study_videos(1, 1, [64]), ValueError),
        (lambda: synthetic_study_videos(1, 8, []), ValueError),
        (lambda: reacquisition_delays(np.zeros(3), np.ones(3, bool), 0, 0), ValueError),
        (lambda: reacquisition_delays(np.zeros(3), np.ones(4, bool), 0, 1), ValueError),
        (lambda: markdown_report([], "cmd", None), ValueError),
        (lambda: load_records("/nonexistent/study"), FileNotFoundError),
    ],
)
def test_bad_input(call, error):
    with pytest.raises(error):
        call()


def test_cli_runs_resumes_and_rejects_unknown_policy(model_dir, tmp_path, capsys):
    out = tmp_path / "study"
    args = ["study", "memory", "--synthetic", "1", "--frames", "6", "--sizes", "64",
            "--policies", "fifo,keep-all", "--min-gap", "1", "--out", str(out),
            "--model", model_dir, "--device", "cpu"]  # fmt: skip
    assert main(args) == 0
    assert "2 runs written, 0 already done" in capsys.readouterr().out
    assert main(args) == 0
    assert "0 runs written, 2 already done" in capsys.readouterr().out
    report = (out / "memory_study.md").read_text()
    assert "| keep-all |" in report and "--policies fifo,keep-all" in report
    assert main(["study", "memory", "--report-only", "--out", str(out)]) == 0
    bad = main(["study", "memory", "--synthetic", "1", "--policies", "nope", "--out",
                str(out), "--model", model_dir, "--device", "cpu"])  # fmt: skip
    assert bad == 2 and "unknown policy 'nope'" in capsys.readouterr().err
    assert main(["study", "memory", "--out", str(out), "--model", model_dir]) == 2  # no videos
    assert len(load_records(out)) == 2


def test_data_videos_sot_and_davis(tmp_path):
    from PIL import Image

    from sam2_enhanced.data.synthetic import SyntheticVideoConfig, generate_video
    from sam2_enhanced.data.writers import write_davis_masks, write_sot_sequence
    from sam2_enhanced.evaluation.memory_videos import data_study_videos

    video = generate_video(
        3, SyntheticVideoConfig(height=48, width=48, num_frames=5, max_object_size=16)
    )
    write_sot_sequence(video, 0, tmp_path / "sot" / "seq1")
    root = tmp_path / "davis"
    write_davis_masks(video, root / "Annotations")
    (root / "JPEGImages").mkdir()
    for t, frame in enumerate(video.frames):
        Image.fromarray(frame).save(root / "JPEGImages" / f"{t:05d}.jpg")
    sot, davis = [ref.load() for ref in data_study_videos([tmp_path / "sot", root])]
    assert sot.masks is None and sot.num_frames == 5
    np.testing.assert_array_equal(sot.present, video.visibility[:, 0] > 0)
    assert davis.masks.shape == (5, 48, 48) and davis.mask_frames.all()
    np.testing.assert_array_equal(davis.masks, video.masks[:, 0])
    np.testing.assert_allclose(davis.boxes_xyxy[davis.present], video.boxes_xyxy[davis.present, 0])


def test_a_video_that_fails_to_load_fails_its_runs_only(tmp_path):
    from sam2_enhanced.evaluation.memory_videos import VideoRef

    def broken():
        raise FileNotFoundError("gone")

    policies = select_policies(study_policies(MemoryBankConfig()), "fifo,keep-all")
    outcome = run_study(None, policies, [VideoRef("broken", broken)], tmp_path,
                        device=torch.device("cpu"), progress=False)  # fmt: skip
    assert len(outcome.failed) == 2 and outcome.written == [] and "gone" in outcome.failed[0]
