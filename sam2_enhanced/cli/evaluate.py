"""``sam2e eval sot|mot|vos``: evaluate ours and the baselines on sequences, one protocol each.

Methods per task: ``sot`` ours, its ablation arms ``ours-network`` / ``ours-target`` /
``ours-fused`` (``target_model.mode`` set to each, the rest as loaded), csrt, kcf (OpenCV) and
the trivial ``static``; ``mot`` ours,
bytetrack (over the predictor's detections, from a run of its own); ``vos`` ours and the trivial
``empty`` and ``static-mask``. See :mod:`sam2_enhanced.evaluation.harness` for the protocols
(the init / prompt frame is not scored unless asked), :mod:`sam2_enhanced.evaluation.trivial`
for the trivial baselines and :mod:`sam2_enhanced.evaluation.cases` for the data layouts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from sam2_enhanced.config import TARGET_MODEL_MODES
from sam2_enhanced.evaluation.cases import CaseRef, find_cases, synthetic_cases
from sam2_enhanced.evaluation.eval_report import summary_table, write_reports
from sam2_enhanced.evaluation.harness import (
    EvalOutcome,
    PredictorDetections,
    evaluate_cases,
    mot_with_bytetrack,
    mot_with_predictor,
    opencv_sot_runner,
    sot_with_predictor,
    vos_with_predictor,
)
from sam2_enhanced.evaluation.long_videos import long_synthetic_cases
from sam2_enhanced.evaluation.trivial import sot_static, vos_empty, vos_static_mask

ARMS = tuple(f"ours-{mode}" for mode in TARGET_MODEL_MODES)
"""SOT ablation arms: ours with ``target_model.mode`` set to each mode."""

TASK_METHODS = {
    "sot": ("ours", *ARMS, "csrt", "kcf", "static"),
    "mot": ("ours", "bytetrack"),
    "vos": ("ours", "empty", "static-mask"),
}
"""Methods each task can run; all of them by default."""

NEEDS_PREDICTOR = {"ours", "bytetrack", *ARMS}
"""Methods that run the predictor (ByteTrack associates its detections)."""


def parse_methods(text: str | None, task: str) -> list[str]:
    """``"ours,csrt"`` -> ["ours", "csrt"], checked against the task's methods."""
    allowed = TASK_METHODS[task]
    if text is None:
        return [m for m in allowed if m not in ARMS]
    methods = [m.strip().lower() for m in text.split(",") if m.strip()]
    unknown = [m for m in methods if m not in allowed]
    if unknown or not methods:
        raise ValueError(
            f"--methods {text!r}: unknown method {', '.join(unknown) or '(none given)'} for "
            f"{task}; choose from {','.join(allowed)}"
        )
    return list(dict.fromkeys(methods))  # drop repeats, keep order


def build_runners(task: str, methods: list[str], load_predictor: Callable[[], Any]) -> dict:
    """Method name -> runner; the predictor is loaded once, only if a method needs it."""
    predictor = load_predictor() if NEEDS_PREDICTOR & set(methods) else None
    runners = {}
    if task == "sot":
        for method in methods:
            if method == "ours":
                runners[method] = partial(sot_with_predictor, predictor)
            elif method in ARMS:
                mode = method.removeprefix("ours-")
                cfg = dataclasses.replace(predictor.config.target_model, mode=mode)
                runners[method] = partial(
                    sot_with_predictor, predictor.with_settings(target_model=cfg)
                )
            elif method == "static":
                runners[method] = sot_static
            else:
                runners[method] = opencv_sot_runner(method)
    elif task == "mot":
        # ours: its own tracked rows; ByteTrack: every detection above the threshold
        sources = {
            "ours": (mot_with_predictor, PredictorDetections(predictor)),
            "bytetrack": (mot_with_bytetrack, PredictorDetections(predictor, every_detection=True)),
        }
        runners = {method: partial(*sources[method]) for method in methods}
    else:
        sources = {"empty": vos_empty, "static-mask": vos_static_mask}
        if predictor is not None:
            sources["ours"] = partial(vos_with_predictor, predictor)
        runners = {method: sources[method] for method in methods}
    return runners


def collect_cases(
    task: str,
    data: list[str] | None,
    synthetic: int | None,
    max_frames: int | None,
    split: str = "test",
    long: bool = False,
) -> list[CaseRef]:
    """The cases named by ``--data`` or ``--synthetic`` (the first videos of ``--split``;
    with ``long``, the long real-resolution SOT videos of :mod:`.evaluation.long_videos`)."""
    if max_frames is not None and max_frames < 1:
        raise ValueError(f"--max-frames must be >= 1, got {max_frames}")
    if long:
        if synthetic is None or task != "sot":
            raise ValueError("--long goes with `sot --synthetic N` (long single-object videos)")
        return long_synthetic_cases(synthetic, split=split, max_frames=max_frames)
    if synthetic is not None:
        return synthetic_cases(task, synthetic, split=split, max_frames=max_frames)
    assert data is not None, "argparse makes --data or --synthetic required"
    return find_cases(task, data, max_frames=max_frames)


def run_eval(
    task: str,
    refs: list[CaseRef],
    methods: list[str],
    load_predictor: Callable[[], Any],
    out_dir: str | Path,
    meta: dict[str, Any],
    progress: bool = True,
    score_init_frame: bool = False,
) -> tuple[EvalOutcome, dict[str, Path]]:
    """Evaluate and write the reports; returns the outcome and the written files."""
    runners = build_runners(task, methods, load_predictor)
    outcome = evaluate_cases(task, refs, runners, progress, score_init_frame)
    return outcome, write_reports(outcome, out_dir, meta)


def eval_report_lines(outcome: EvalOutcome, paths: dict[str, Path]) -> list[str]:
    """The lines ``sam2e eval`` prints: the summary table, errors and where the files are."""
    lines = [
        f"{len(outcome.cases)} sequences evaluated, {len(outcome.errors)} failures; "
        + outcome.scoring()
    ]
    lines += summary_table(outcome).splitlines()
    for error in outcome.errors:
        method = "" if error.method is None else f" [{error.method}]"
        lines.append(f"FAILED {error.name}{method}: {error.error}")
    lines += [f"{kind}: {path}" for kind, path in paths.items()]
    return lines
