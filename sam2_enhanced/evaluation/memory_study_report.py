"""The memory study's report: a markdown table per policy, a Pareto plot, and a default policy.

Everything is computed from the JSON records of :mod:`.memory_study`, so the report can be
rebuilt at any time (``sam2e study memory --report-only``). A policy's row averages its runs;
accuracy is J&F when every run has masks, else SOT AUC.

The default-policy rule (:func:`choose_default`): among the policies using at most
:data:`MAX_MEMORY_FRACTION` of ``keep-all``'s peak bytes per object and reaching at least
``1 - ACCURACY_TOLERANCE`` times its accuracy, the one with the fewest peak bytes (ties: the
faster). When none qualifies, the report names the most accurate policy within the memory
limit (or, if none is that small, the cheapest) and says how far it is from the bar.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sam2_enhanced.evaluation.memory_policies import GROUPS, REFERENCE_POLICY
from sam2_enhanced.evaluation.report import markdown_table

ACCURACY_TOLERANCE = 0.02  # a default may lose at most 2 % (relative) of keep-all's accuracy
MAX_MEMORY_FRACTION = 0.25  # ... while using at most a quarter of keep-all's memory
_MEAN_KEYS = (
    "object_bytes_peak",
    "object_bytes_mean",
    "bank_bytes_peak",
    "seconds_per_frame",
    "metric_seconds_per_frame",
    "sot_auc",
    "mask_iou",
    "j_and_f",
    "reacq_mean_frames",
)


@dataclass
class PolicyRow:
    """One policy's numbers, averaged over its runs."""

    policy: str
    group: str
    num_runs: int
    numbers: dict[str, float]  # each key of _MEAN_KEYS -> mean over runs (NaN: none)
    reacq_found: int  # absences after which the target was found again, all runs
    reacq_gaps: int  # absences, all runs
    accuracy: float  # J&F when every run has masks, else SOT AUC


@dataclass
class DefaultChoice:
    """The outcome of the default-policy rule."""

    policy: str | None  # the chosen policy; None when none meets the rule (or no reference)
    line: str  # one sentence for the report


def load_records(out_dir: str | Path) -> list[dict[str, Any]]:
    """Every run record under ``<out_dir>/runs`` (temporary files ignored)."""
    runs = Path(out_dir) / "runs"
    if not runs.is_dir():
        raise FileNotFoundError(f"no study results in {out_dir}: {runs} does not exist")
    return [json.loads(p.read_text()) for p in sorted(runs.glob("*/*.json"))]


def uses_masks(records: list[dict[str, Any]]) -> bool:
    """Whether accuracy is J&F: every run's video has masks (else SOT AUC)."""
    return bool(records) and all(r.get("has_masks") for r in records)


def _mean(values: list[Any]) -> float:
    finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    return float(np.mean(finite)) if finite else float("nan")


def aggregate(records: list[dict[str, Any]]) -> list[PolicyRow]:
    """One row per policy, by group (:data:`GROUPS` order) then name; JSON-loaded records
    (NaN stored as None)."""
    by_policy: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        by_policy[record["policy"]].append(record)
    use_masks = uses_masks(records)
    rows = []
    for policy, runs in by_policy.items():
        numbers = {key: _mean([r.get(key) for r in runs]) for key in _MEAN_KEYS}
        rows.append(
            PolicyRow(
                policy=policy,
                group=runs[0].get("group", ""),
                num_runs=len(runs),
                numbers=numbers,
                reacq_found=sum(int(r.get("reacq_found", 0)) for r in runs),
                reacq_gaps=sum(int(r.get("reacq_gaps", 0)) for r in runs),
                accuracy=numbers["j_and_f" if use_masks else "sot_auc"],
            )
        )
    rank = {group: i for i, group in enumerate(GROUPS)}
    return sorted(rows, key=lambda r: (rank.get(r.group, len(GROUPS)), r.policy))


def choose_default(rows: list[PolicyRow], reference: str = REFERENCE_POLICY) -> DefaultChoice:
    """Apply the default-policy rule of the module docstring."""
    ref = next((r for r in rows if r.policy == reference), None)
    if ref is None or not math.isfinite(ref.accuracy):
        return DefaultChoice(None, f"No default chosen: no `{reference}` result to compare with.")
    max_bytes = MAX_MEMORY_FRACTION * ref.numbers["object_bytes_peak"]
    min_accuracy = (1.0 - ACCURACY_TOLERANCE) * ref.accuracy
    small = [r for r in rows if r.numbers["object_bytes_peak"] <= max_bytes]
    good = [r for r in small if math.isfinite(r.accuracy) and r.accuracy >= min_accuracy]
    rule = (
        f"at most {MAX_MEMORY_FRACTION:.0%} of `{reference}`'s peak bytes per object "
        f"({max_bytes / 1024:.1f} KiB) and at least {1 - ACCURACY_TOLERANCE:.0%} of its "
        f"accuracy ({min_accuracy:.3f})"
    )
    if good:
        best = min(
            good, key=lambda r: (r.numbers["object_bytes_peak"], r.numbers["seconds_per_frame"])
        )
        return DefaultChoice(
            best.policy,
            f"Default policy: `{best.policy}` ({best.numbers['object_bytes_peak'] / 1024:.1f} "
            f"KiB peak per object, accuracy {best.accuracy:.3f}), the cheapest with {rule}.",
        )
    finite = [r for r in rows if math.isfinite(r.accuracy)]
    if small and any(math.isfinite(r.accuracy) for r in small):
        near = max((r for r in small if math.isfinite(r.accuracy)), key=lambda r: r.accuracy)
        how = f"the most accurate within the memory limit, {min_accuracy - near.accuracy:.3f} short"
    elif finite:
        near = min(finite, key=lambda r: r.numbers["object_bytes_peak"])
        how = f"the cheapest, at {near.numbers['object_bytes_peak'] / max_bytes:.1f}x the limit"
    else:
        return DefaultChoice(None, f"No default chosen: no policy has an accuracy ({rule}).")
    return DefaultChoice(
        None, f"No policy meets the rule ({rule}); closest: `{near.policy}`, {how}."
    )


def pareto_front(rows: list[PolicyRow]) -> list[PolicyRow]:
    """Rows no other row beats on both peak bytes (fewer) and accuracy (higher), by bytes."""
    finite = [r for r in rows if math.isfinite(r.accuracy)]
    finite.sort(key=lambda r: (r.numbers["object_bytes_peak"], -r.accuracy))
    front, best = [], -math.inf
    for row in finite:
        if row.accuracy > best:
            front.append(row)
            best = row.accuracy
    return front


def plot_pareto(rows: list[PolicyRow], path: str | Path, accuracy_name: str) -> Path:
    """Accuracy vs peak KiB per object (log x), the Pareto front drawn as a line; a PNG."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 6))
    axes = figure.subplots()
    groups = sorted({r.group for r in rows})
    for group in groups:
        members = [r for r in rows if r.group == group and math.isfinite(r.accuracy)]
        xs = [r.numbers["object_bytes_peak"] / 1024 for r in members]
        axes.scatter(xs, [r.accuracy for r in members], label=group, s=24)
    front = pareto_front(rows)
    axes.plot([r.numbers["object_bytes_peak"] / 1024 for r in front], [r.accuracy for r in front],
              color="black", linewidth=1, label="Pareto front")  # fmt: skip
    for row in front:
        axes.annotate(row.policy, (row.numbers["object_bytes_peak"] / 1024, row.accuracy),
                      fontsize=7, xytext=(3, 3), textcoords="offset points")  # fmt: skip
    if any(r.numbers["object_bytes_peak"] > 0 for r in rows):
        axes.set_xscale("log")
    axes.set(xlabel="peak memory per object (KiB, log)", ylabel=accuracy_name,
             title="Memory policies: accuracy vs memory")  # fmt: skip
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    return path


def _table(rows: list[PolicyRow]) -> str:
    """The markdown table, one line per policy (KiB, milliseconds)."""
    table_rows = []
    for r in rows:
        n = r.numbers
        table_rows.append({
            "policy": r.policy, "group": r.group, "runs": r.num_runs,
            "peak KiB/obj": n["object_bytes_peak"] / 1024,
            "mean KiB/obj": n["object_bytes_mean"] / 1024,
            "ms/frame": 1000 * n["seconds_per_frame"],
            "metric ms/frame": 1000 * n["metric_seconds_per_frame"],
            "AUC": n["sot_auc"], "mask IoU": n["mask_iou"], "J&F": n["j_and_f"],
            "re-acq frames": n["reacq_mean_frames"],
            "re-acquired": f"{r.reacq_found}/{r.reacq_gaps}",
        })  # fmt: skip
    return markdown_table(table_rows, list(table_rows[0]) if table_rows else ["policy"])


def markdown_report(records: list[dict[str, Any]], command: str, plot_name: str | None) -> str:
    """The report's markdown (see the module docstring)."""
    if not records:
        raise ValueError("no study records to report; run `sam2e study memory` first")
    rows = aggregate(records)
    machines = sorted({r.get("machine", "unknown") for r in records})
    use_masks = uses_masks(records)
    videos = sorted({r["video"] for r in records})
    lines = [
        "# Memory study: which frames deserve memory",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {'; '.join(machines)}",
        "",
        f"{len(rows)} policies on {len(videos)} videos; accuracy is "
        f"{'J&F' if use_masks else 'SOT AUC'}; bytes are the memory bank's for the tracked "
        "object (peak and mean over frames); times are per tracked frame; re-acquisition is "
        "the mean number of frames after an occlusion or exit until IoU > 0.5 again.",
        "",
        choose_default(rows).line,
        "",
        _table(rows).rstrip("\n"),
    ]
    if plot_name is not None:
        lines += ["", f"![accuracy vs memory]({plot_name})"]
    return "\n".join(lines) + "\n"


def write_report(out_dir: str | Path, report_path: str | Path, command: str) -> dict[str, Path]:
    """Write the markdown report and its Pareto plot (next to it); returns both paths."""
    records = load_records(out_dir)
    report_path = Path(report_path)
    plot_path = report_path.with_name(f"{report_path.stem}_pareto.png")
    text = markdown_report(records, command, plot_path.name)
    plot_pareto(aggregate(records), plot_path, "J&F" if uses_masks(records) else "SOT AUC")
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report_path.write_text(text)
    return {"report": report_path, "plot": plot_path}
