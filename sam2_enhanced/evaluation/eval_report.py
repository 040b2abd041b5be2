"""Summaries and report files of an evaluation run: ``results.json``, ``results.md`` and, for
SOT, the OTB success / precision plot ``success_precision.png``.

Summaries over sequences follow each benchmark: SOT curves are averaged per sequence
(:func:`summarize_sot`), MOT results are combined by TrackEval (detection-weighted), DAVIS
averages over all objects. Every method is summarised over the same cases: one that failed on
a case is scored 0 there and counted in ``failed``. Each summary names its N: ``seqs``
(sequences), ``frames`` (scored frames; VOS: scored (object, frame) pairs) and ``failed``. A
method's FPS is its frames over its wall time on the sequences where it did not fail.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sam2_enhanced.evaluation.harness import CaseError, EvalOutcome
from sam2_enhanced.evaluation.mot import MotMetrics, combine_mot_results
from sam2_enhanced.evaluation.report import markdown_table, plot_success_precision, write_json
from sam2_enhanced.evaluation.sot import summarize_sot
from sam2_enhanced.evaluation.vos import DavisSummary, combine_davis_results

_COMBINE = {"sot": summarize_sot, "mot": combine_mot_results, "vos": combine_davis_results}


def method_summaries(outcome: EvalOutcome) -> dict[str, Any]:
    """Method -> SotSummary / MotResult / DavisSummary over every case (failures scored 0)."""
    combine = _COMBINE[outcome.task]
    summaries = {}
    for method in outcome.methods:
        results = [c.methods[method].result for c in outcome.cases if method in c.methods]
        if results:
            summaries[method] = combine(results)
    return summaries


def method_counts(outcome: EvalOutcome, method: str) -> dict[str, int]:
    """N of ``method``'s summary: sequences, scored frames and failed sequences."""
    runs = [c.methods[method] for c in outcome.cases if method in c.methods]
    return {
        "seqs": len(runs),
        "frames": sum(r.num_scored_frames for r in runs),
        "failed": sum(r.failed for r in runs),
    }


def method_fps(outcome: EvalOutcome, method: str) -> float:
    """Frames per second of ``method`` over the cases it did not fail on (NaN: none)."""
    runs = [c.methods[method] for c in outcome.cases if method in c.methods]
    runs = [r for r in runs if not r.failed]
    seconds = sum(r.seconds for r in runs)
    frames = sum(r.num_frames for r in runs)
    return frames / seconds if seconds > 0 else float("nan")


# ---------------------------------------------------------------------------------- table rows
def _sot_numbers(result: Any) -> dict[str, float]:
    """Headline numbers of a SotResult or SotSummary."""
    return {
        "AUC": result.curves.auc,
        "P@20": result.curves.precision_at_20,
        "Pnorm@0.2": result.curves.norm_precision_at_02,
        "AO": result.average_overlap,
        "absent acc": result.absent_accuracy,
        "state acc": result.state_accuracy,
    }


def _mot_numbers(metrics: MotMetrics) -> dict[str, Any]:
    return {
        "HOTA": metrics.hota,
        "DetA": metrics.det_a,
        "AssA": metrics.ass_a,
        "MOTA": metrics.mota,
        "IDF1": metrics.idf1,
        "IDSW": metrics.idsw,
        "GT boxes": metrics.num_gt_dets,
    }


def _vos_numbers(summary: DavisSummary) -> dict[str, Any]:
    return {
        "J&F": summary.j_and_f,
        "J": summary.j_mean,
        "F": summary.f_mean,
        "J recall": summary.j_recall,
        "F recall": summary.f_recall,
        "objects": summary.num_objects,
    }


def _numbers(task: str, result: Any) -> dict[str, Any]:
    """Headline numbers of one per-sequence result or one summary."""
    if task == "sot":
        return _sot_numbers(result)
    if task == "mot":
        return _mot_numbers(result.overall)
    return _vos_numbers(result if isinstance(result, DavisSummary) else result.summary)


# -------------------------------------------------------------------------------------- files
def _json_result(task: str, result: Any) -> Any:
    """The JSON form of a per-sequence result (no per-frame arrays)."""
    if task == "sot":
        return {**_sot_numbers(result), "num_present_frames": result.num_present_frames}
    if task == "mot":
        return {"overall": result.overall, "by_size": result.by_size}
    return result.summary


def results_document(outcome: EvalOutcome, meta: dict[str, Any]) -> dict[str, Any]:
    """Everything ``results.json`` holds."""
    task = outcome.task
    summaries = method_summaries(outcome)
    summary = {}
    for method, combined in summaries.items():
        body = (
            combined
            if task != "mot"
            else {"overall": combined.overall, "by_size": combined.by_size}
        )
        summary[method] = {
            "fps": method_fps(outcome, method),
            **method_counts(outcome, method),
            "metrics": body,
        }
    sequences = [
        {
            "name": case.name,
            "num_frames": case.num_frames,
            "methods": {
                method: {
                    "metrics": _json_result(task, run.result),
                    "seconds": run.seconds,
                    "fps": run.fps,
                    "num_scored_frames": run.num_scored_frames,
                    "failed": run.failed,
                }
                for method, run in case.methods.items()
            },
        }
        for case in outcome.cases
    ]
    return {
        "task": task,
        "methods": outcome.methods,
        "score_init_frame": outcome.score_init_frame,
        "meta": meta,
        "summary": summary,
        "sequences": sequences,
        "errors": outcome.errors,
    }


def summary_table(outcome: EvalOutcome) -> str:
    """Markdown table: one row per method with its headline numbers over all sequences, its
    N (sequences, scored frames, failed sequences) and its FPS."""
    rows = [
        {
            "method": m,
            **_numbers(outcome.task, s),
            **method_counts(outcome, m),
            "FPS": method_fps(outcome, m),
        }
        for m, s in method_summaries(outcome).items()
    ]
    if not rows:
        return "(no sequence evaluated)\n"
    return markdown_table(rows, list(rows[0]))


def _where(error: CaseError) -> str:
    return f"`{error.name}`" + ("" if error.method is None else f" [{error.method}]")


def markdown_report(outcome: EvalOutcome, title: str) -> str:
    """``results.md``: summary table, MOT size breakdown, per-sequence table, errors."""
    task = outcome.task
    summaries = method_summaries(outcome)
    lines = [
        f"# {title}",
        "",
        f"{len(outcome.cases)} sequences evaluated, {len(outcome.errors)} failures; "
        f"{outcome.scoring()}.",
        "",
    ]
    if summaries:
        lines += ["## Summary", "", summary_table(outcome)]
    if task == "mot" and summaries:
        size_rows = [
            {"method": m, "size": bucket, **_mot_numbers(metrics)}
            for m, result in summaries.items()
            for bucket, metrics in result.by_size.items()
        ]
        lines += [
            "## By object size (sqrt(w*h) px: tiny < 16 <= small < 32 <= medium < 96 <= large)",
            "",
            markdown_table(size_rows, list(size_rows[0])),
        ]
    seq_rows = [
        {
            "sequence": c.name,
            "method": m + (" (failed)" if run.failed else ""),
            **_numbers(task, run.result),
            "frames": run.num_scored_frames,
            "FPS": run.fps,
        }
        for c in outcome.cases
        for m, run in c.methods.items()
    ]
    if seq_rows:
        lines += ["## Per sequence", "", markdown_table(seq_rows, list(seq_rows[0]))]
    if outcome.errors:
        lines += ["## Errors", ""] + [f"- {_where(e)}: {e.error}" for e in outcome.errors] + [""]
    return "\n".join(lines)


def write_reports(
    outcome: EvalOutcome, out_dir: str | Path, meta: dict[str, Any]
) -> dict[str, Path]:
    """Write ``results.json``, ``results.md`` and (SOT) ``success_precision.png`` into
    ``out_dir``; returns {kind: path}."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": write_json(results_document(outcome, meta), out_dir / "results.json"),
        "markdown": out_dir / "results.md",
    }
    title = f"sam2e eval {outcome.task}"
    paths["markdown"].write_text(markdown_report(outcome, title))
    summaries = method_summaries(outcome)
    if outcome.task == "sot" and summaries:
        curves = {method: summary.curves for method, summary in summaries.items()}
        paths["plot"] = plot_success_precision(curves, out_dir / "success_precision.png", title)
    return paths
