"""``sam2e study memory``: which frames deserve memory, measured (the memory study).

Runs the predictor under each memory policy (:mod:`sam2_enhanced.evaluation.memory_policies`) on
long synthetic videos and/or ``--data`` folders, one JSON per (policy, video) under
``--out/runs`` (resumable: finished runs are skipped), then writes the markdown report with its
Pareto plot (:mod:`sam2_enhanced.evaluation.memory_study_report`). The parser lives here and
imports nothing heavy, so ``--help`` answers at once; the study modules load when it runs.
"""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path
from typing import Any

_EPILOG = """\
policies (--policies: names, groups or patterns, comma-separated; default: all):
  baseline     default (the model's own), fifo (SAM 2: prompt + 6 recent), keep-all (every frame)
  signal       topk-<signal>: each significance signal alone, and combinations a+b
  fixed        fixed-<signal>-x<f>: fixed thresholds, f times the signal's nominal scale
  adaptive     adaptive-<signal>: mean + 1 std of the scores seen
  topk         topk-k1, topk-k4, topk-k8: keyframe buffer sizes
  compression  downsample-x1/x2/x4, pca-4/8, dtype-float32/float16/bfloat16
  longterm     longterm-k2/k4: a long-term store; recent-5/7: FIFOs holding as many memories
  motion       motion-classes, static-stride-4, static-window-0.5: motion classes and their uses
  redetect     redetect-3, redetect-3-low: lost targets re-found by full-frame detections
--list-policies prints them all. Runs already in --out are skipped (resume).
"""


def _sizes(text: str) -> list[int]:
    """``"128,640"`` -> [128, 640] for argparse."""
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        sizes = []
    if not sizes or min(sizes) < 32:
        raise argparse.ArgumentTypeError(
            f"expected frame sizes >= 32 px, comma-separated, e.g. 128,640; got {text!r}"
        )
    return sizes


def add_study_parser(sub, model_args, positive_int, splits) -> None:
    """Add ``study memory`` to the ``sam2e`` subparsers ``sub``."""
    study = sub.add_parser("study", help="studies of the model's design choices (memory)")
    kinds = study.add_subparsers(dest="study", required=True, metavar="STUDY")
    memory = kinds.add_parser(
        "memory",
        help="memory policies on long videos: bytes, time, accuracy, re-acquisition",
        description="Run the predictor under each memory policy on long videos and report "
        "memory per object, time, the significance metric's cost, SOT AUC, mask IoU / J&F and "
        "re-acquisition after occlusions, with a Pareto plot and a default-policy choice.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    memory.add_argument(
        "--synthetic",
        type=positive_int,
        default=None,
        metavar="N",
        help="N generated long videos of --split per frame size",
    )
    memory.add_argument(
        "--frames", type=positive_int, default=300, help="frames per synthetic video (default 300)"
    )
    memory.add_argument(
        "--sizes",
        type=_sizes,
        default=[128, 640],
        help="synthetic frame sizes in px, e.g. 128,640 (default)",
    )
    memory.add_argument("--split", choices=splits, default="test", help="seed range (test)")
    memory.add_argument(
        "--data",
        nargs="+",
        metavar="PATH",
        default=None,
        help="SOT sequence folders or a DAVIS root (its first object)",
    )
    memory.add_argument(
        "--max-frames",
        type=positive_int,
        default=None,
        help="use the first N frames of each --data sequence",
    )
    memory.add_argument("--policies", default=None, help="names, groups or patterns")
    memory.add_argument("--list-policies", action="store_true", help="print policies, exit")
    memory.add_argument(
        "--min-gap",
        type=positive_int,
        default=5,
        help="absent frames in a row that count as an occlusion (default 5)",
    )
    memory.add_argument("--out", default="outputs/memory_study", help="results folder")
    memory.add_argument(
        "--report",
        default=None,
        help="markdown report path (default: OUT/memory_study.md); the plot is written next to it",
    )
    memory.add_argument(
        "--report-only",
        action="store_true",
        help="rebuild the report from the results in --out, run nothing",
    )
    model_args(memory)


def _policy_lines(policies) -> list[str]:
    return [f"{p.name:48s} {p.group:12s} {dict(p.overrides)}" for p in policies]


def run_memory_study(args: argparse.Namespace, load_predictor, argv: list[str]) -> int:
    """``sam2e study memory``; prints a summary, returns the exit code."""
    from sam2_enhanced.evaluation.memory_policies import select_policies, study_policies
    from sam2_enhanced.evaluation.memory_study import run_study
    from sam2_enhanced.evaluation.memory_study_report import write_report
    from sam2_enhanced.evaluation.memory_videos import data_study_videos, synthetic_study_videos

    report = Path(args.report) if args.report else Path(args.out) / "memory_study.md"
    command = "sam2e " + shlex.join(argv)
    if args.report_only:
        return _print_report(write_report(args.out, report, _study_command(args.out, command)))
    predictor = load_predictor(args.model, args.device, args.tiles, args.settings)
    policies = select_policies(study_policies(predictor.config.memory_bank), args.policies)
    if args.list_policies:
        print("\n".join(_policy_lines(policies)))
        return 0
    videos = []
    if args.synthetic is not None:
        videos += synthetic_study_videos(args.synthetic, args.frames, args.sizes, args.split)
    if args.data:
        videos += data_study_videos(args.data, args.max_frames)
    if not videos:
        raise ValueError("no videos to study: give --synthetic N and/or --data PATH")
    _save_command(args.out, command)
    outcome = run_study(
        predictor.model, policies, videos, args.out, device=predictor.device, min_gap=args.min_gap
    )
    print(
        f"{len(outcome.written)} runs written, {outcome.skipped} already done, "
        f"{len(outcome.failed)} failed ({len(policies)} policies x {len(videos)} videos)"
    )
    for failure in outcome.failed:
        print(f"FAILED {failure}")
    _print_report(write_report(args.out, report, command))
    return 1 if outcome.failed else 0


def _save_command(out_dir: str, command: str) -> None:
    path = Path(out_dir) / "command.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(command + "\n")


def _study_command(out_dir: str, fallback: str) -> str:
    """The command that produced the results (saved by the run), else ``fallback``."""
    path = Path(out_dir) / "command.txt"
    return path.read_text().strip() if path.is_file() else fallback


def _print_report(paths: dict[str, Any]) -> int:
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    return 0
