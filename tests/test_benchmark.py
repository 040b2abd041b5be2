"""Benchmark: a tiny end-to-end run against upstream SAM 2, and its measuring parts."""

import argparse
import json

import numpy as np
import pytest
import torch

from sam2_enhanced.benchmark import run as benchmark
from sam2_enhanced.benchmark.cases import COLUMNS, CaseResult, StageTimer, held_bytes
from sam2_enhanced.benchmark.report import format_growth, format_table
from sam2_enhanced.benchmark.run import pingpong_index, video_size

NUM_COLUMNS = 17  # method, model, px, objects, frames, frame ms, 6 stage columns, 5 totals


def table_rows(report: str) -> list[list[str]]:
    """Cells of the main table's data rows (header and rule excluded)."""
    table = report.split("\n\n")[1].splitlines()
    return [[c.strip() for c in line.strip("|").split("|")] for line in table[2:]]


def test_tiny_run_prints_cases_and_ratio(tmp_path, capsys):
    json_path = tmp_path / "bench.json"
    argv = ["--configs", "tiny", "--image-size", "112", "--upstream-image-size", "64"]
    argv += ["--frames", "4", "--objects", "1", "--warmup", "1", "--threads", "1"]
    argv += ["--no-isolate", "--json", str(json_path)]
    assert benchmark.main(argv) == 0
    rows = table_rows(capsys.readouterr().out)
    assert [r[0] for r in rows] == ["upstream", "ours", "**ours/upstream**"]
    assert all(len(r) == NUM_COLUMNS for r in rows)
    assert rows[0][1:5] == ["sam2.1_hiera_t", "64", "1", "4"]
    assert rows[1][1:5] == ["tiny", "112", "1", "4"]
    assert rows[2][2] == "112/64"
    assert rows[0][13] == "-"  # upstream has no memory_footprint
    for row in rows[:2]:
        numbers = [float(c.replace(",", "")) for c in row[5:] if c != "-"]
        assert numbers[0] > 0 and all(n >= 0 for n in numbers)  # "other" may round to 0.0
    results = json.loads(json_path.read_text())["results"]
    assert [r["method"] for r in results] == ["upstream", "ours"]
    for r in results:
        assert r["num_timed_frames"] == 2  # 4 frames minus the prompted one and 1 warm-up
        assert r["state_bytes"] > 0 and r["frame_ms"] > 0
        assert r["peak_rss_bytes"] >= r["rss_before_bytes"] > 0
    assert results[1]["footprint_bytes"] > 0


def make_result(method: str, frames: int, frame_ms: float, state_bytes: int) -> CaseResult:
    return CaseResult(
        method=method,
        model="tiny" if method == "ours" else "configs/sam2.1/sam2.1_hiera_t.yaml",
        image_size=224,
        num_objects=1,
        num_frames=frames,
        frame_ms=frame_ms,
        stage_ms=dict.fromkeys(COLUMNS, frame_ms / 2),
        num_timed_frames=10,
        init_s=1.0,
        state_bytes=state_bytes,
        footprint_bytes=state_bytes // 2 if method == "ours" else None,
        peak_rss_bytes=2**30,
        rss_before_bytes=2**29 if method == "ours" else 2**30,
    )


def test_ratio_rows_divide_ours_by_upstream():
    results = [make_result("upstream", 100, 200.0, 2**22), make_result("ours", 100, 50.0, 2**20)]
    rows = table_rows("head\n\n" + format_table(results))
    ratio = rows[2]
    assert ratio[:5] == ["**ours/upstream**", "tiny", "224/224", "1", "100"]
    assert ratio[5:12] == ["0.25"] * 7  # frame ms and the six stage columns: 50 / 200
    assert ratio[12:17] == ["0.25", "0.125", "1", "0.5", "1"]  # state, total_bytes, RSS x2, init
    assert rows[0][12] == "4.00" and rows[1][12] == "1.00"  # MiB


def test_growth_table_compares_longest_with_shortest_video():
    results = [make_result("upstream", n, 1.0, n * 2**20) for n in (1000, 100)]
    results.append(make_result("ours", 100, 1.0, 2**20))  # one length only: no growth row
    lines = format_growth(results).splitlines()
    assert len(lines) == 3
    cells = [c.strip() for c in lines[2].strip("|").split("|")]
    assert cells == [
        "upstream",
        "sam2.1_hiera_t",
        "1",
        "100: 100.00, 1000: 1,000.00",
        "10",
        "100: 1,024.00, 1000: 1,024.00",
        "1",
    ]


@pytest.mark.parametrize(
    ("t", "length", "expected"),
    [(0, 1, 0), (5, 1, 0), (0, 3, 0), (2, 3, 2), (3, 3, 1), (4, 3, 0), (5, 3, 1), (7, 4, 1)],
)
def test_pingpong_index(t, length, expected):
    assert pingpong_index(t, length) == expected


def test_held_bytes_counts_each_storage_once():
    tensor = torch.zeros(10, 4)  # 160 bytes
    array = np.zeros((3, 8), dtype=np.uint8)  # 24 bytes
    state = {
        "a": [tensor, tensor[2:5], tensor.view(40)],  # views share the storage
        "b": (array, array[1:], {"again": tensor}),
        "c": torch.zeros(3, dtype=torch.float16),  # 6 bytes
        "skip": torch.nn.Linear(100, 100),  # modules are not state
        "n": 5,
    }
    assert held_bytes(state) == 160 + 24 + 6


def test_stage_timer_counts_wrapped_calls_and_restores_methods():
    module = torch.nn.Linear(2, 2)
    timer = StageTimer({"decoders": [(module, "forward")]}, torch.device("cpu"))
    with timer:
        assert "forward" in vars(module)
        module(torch.zeros(1, 2))
        first = timer.take()
        assert first["decoders"] > 0
        assert timer.take() == {"decoders": 0.0}
    assert "forward" not in vars(module)
    module(torch.zeros(1, 2))
    assert timer.take() == {"decoders": 0.0}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--image-size", "112"], "multiple of 32"),
        (["--frames", "3", "--warmup", "2"], "at least warmup + 2"),
        (["--frames", "0"], "positive ints"),
        (["--objects", "one"], "comma-separated ints"),
        (["--configs", "nope"], "no config preset named 'nope'"),
        (["--configs", "tiny", "--image-size", "256", "--no-upstream"], "multiple of"),
        (["--threads", "0"], "need --threads >= 1"),
    ],
)
def test_bad_arguments_exit_with_a_message(argv, message, capsys):
    with pytest.raises(SystemExit) as err:
        benchmark.parse_args(argv)
    assert err.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "expected"),
    [("640x512", (512, 640)), ("1280X720", (720, 1280)), ("20x20", None), ("640", None)],
)
def test_video_size_parses_width_by_height(text, expected):
    if expected is None:
        with pytest.raises(argparse.ArgumentTypeError):
            video_size(text)
    else:
        assert video_size(text) == expected


def test_tiles_option_adds_a_tiled_case_per_config(capsys):
    argv = ["--configs", "tiny", "--image-size", "112", "--video-size", "160x96", "--no-upstream"]
    argv += ["--frames", "4", "--objects", "1", "--warmup", "1", "--threads", "1"]
    argv += ["--no-isolate", "--tiles"]
    assert benchmark.main(argv) == 0
    rows = table_rows(capsys.readouterr().out)
    assert [r[1] for r in rows] == ["tiny", "tiny+tiles"]
    assert all(float(r[5]) > 0 for r in rows)
