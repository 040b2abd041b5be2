"""Writers for evaluation results: JSON, a markdown table, OTB-style success / precision plots,
and the name of the machine they ran on."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import platform
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sam2_enhanced.evaluation.sot import (
    PRECISION_THRESHOLDS_PX,
    SUCCESS_THRESHOLDS,
    SotCurves,
)


def to_jsonable(value: Any) -> Any:
    """Dataclasses, mappings, sequences and NumPy values -> plain JSON types.

    Non-finite floats (NaN "not applicable", inf "no prediction") become ``None`` so that the
    file is strict JSON that any reader accepts.
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(key): to_jsonable(item) for key, item in value.items()}
    if isinstance(value, np.ndarray):
        return [to_jsonable(item) for item in value.tolist()]
    if isinstance(value, np.generic):
        return to_jsonable(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (list, tuple)):
        return [to_jsonable(item) for item in value]
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    if isinstance(value, Path):
        return str(value)
    raise TypeError(
        f"cannot write {type(value).__name__} to JSON; pass dataclasses, dicts, lists, numbers, "
        "strings or NumPy arrays"
    )


def write_json(results: Any, path: str | Path) -> Path:
    """Write ``results`` (see :func:`to_jsonable`) to ``path`` as indented JSON; return the path.

    The text goes to a temporary file renamed into place, so an interrupted run never leaves a
    truncated file behind (a resumed memory study trusts every JSON it finds).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(to_jsonable(results), indent=2, allow_nan=False) + "\n"
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return path


def cpu_name() -> str:
    """The CPU model (``/proc/cpuinfo``'s first "model name"), else the platform's name."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _format_cell(value: Any, float_format: str) -> str:
    if value is None:
        return ""
    if isinstance(value, (float, np.floating)):
        return float_format.format(value) if math.isfinite(value) else "n/a"
    return str(value).replace("|", "\\|")


def markdown_table(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[str], float_format: str = "{:.3f}"
) -> str:
    """A GitHub markdown table with one line per row; a key missing from a row gives an empty cell.

    Floats use ``float_format``; NaN / inf show as ``n/a``.
    """
    if len(columns) == 0:
        raise ValueError("markdown_table needs at least one column name, got none")
    lines = [
        "| " + " | ".join(columns) + " |",
        "|" + "|".join("---" for _ in columns) + "|",
    ]
    for row in rows:
        cells = [_format_cell(row.get(column), float_format) for column in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def success_precision_labels(
    curves_by_method: Mapping[str, SotCurves],
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Legend entries of the two OTB panels, each sorted best first.

    Returns ``[(method, "method [AUC]"), ...]`` and ``[(method, "method [P@20]"), ...]`` with
    the numbers in percent, one decimal, as OTB papers print them.
    """
    by_auc = sorted(curves_by_method, key=lambda name: -np.nan_to_num(curves_by_method[name].auc))
    by_precision = sorted(
        curves_by_method, key=lambda name: -np.nan_to_num(curves_by_method[name].precision_at_20)
    )
    success = [(name, f"{name} [{100 * curves_by_method[name].auc:.1f}]") for name in by_auc]
    precision = [
        (name, f"{name} [{100 * curves_by_method[name].precision_at_20:.1f}]")
        for name in by_precision
    ]
    return success, precision


def plot_success_precision(
    curves_by_method: Mapping[str, SotCurves], path: str | Path, title: str = ""
) -> Path:
    """Two-panel OTB plot: success vs IoU threshold and precision vs centre-error threshold.

    Legends are those of :func:`success_precision_labels`. Pass e.g.
    ``{"ours": summary.curves, "CSRT": csrt_summary.curves}``. Writes a PNG (or any format
    matplotlib infers from the suffix) and returns the path.
    """
    from matplotlib.figure import Figure

    if len(curves_by_method) == 0:
        raise ValueError("curves_by_method is empty; give at least one method's SotCurves")
    success_labels, precision_labels = success_precision_labels(curves_by_method)
    figure = Figure(figsize=(10, 4.2))
    success_axes, precision_axes = figure.subplots(1, 2)
    for name, label in success_labels:
        success_axes.plot(SUCCESS_THRESHOLDS, curves_by_method[name].success, label=label)
    for name, label in precision_labels:
        precision_axes.plot(PRECISION_THRESHOLDS_PX, curves_by_method[name].precision, label=label)
    success_axes.set(
        xlabel="Overlap threshold", ylabel="Success rate", title="Success plot (AUC)", xlim=(0, 1)
    )
    precision_axes.set(
        xlabel="Location error threshold (px)",
        ylabel="Precision",
        title="Precision plot (P@20)",
        xlim=(0, 50),
    )
    success_axes.legend(loc="lower left", fontsize=8)
    precision_axes.legend(loc="lower right", fontsize=8)
    for axes in (success_axes, precision_axes):
        axes.set_ylim(0, 1.02)
        axes.grid(alpha=0.3)
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    return path
