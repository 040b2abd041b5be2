"""Shared parsing for the annotation readers: numeric text tables and ``xywh`` boxes.

The format readers live beside this module:

- :mod:`sam2_enhanced.data.readers_mot`: MOTChallenge and VisDrone-MOT text files, MOT17/20
  sequence folders.
- :mod:`sam2_enhanced.data.readers_sot`: single-object sequences (OTB, UAV123, GOT-10k,
  Anti-UAV style folders).
- :mod:`sam2_enhanced.data.readers_davis`: DAVIS-style per-frame PNG masks and sequences.

Every text format read here is one record per line, fields separated by commas, tabs or spaces
(any mix, e.g. ``"1, 2\\t3 4"``). Blank lines are skipped; a malformed line raises ``ValueError``
naming the file and the 1-based line number.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_FIELD_SEPARATOR = re.compile(r"\s*,\s*|\s+")


@dataclass
class NumericTable:
    """Rows of numbers read from a text file, with the line each row came from."""

    path: Path  # the file read
    values: np.ndarray  # (R, C) float64; short rows padded with the reader's fill value
    line_numbers: np.ndarray  # (R,) int64, 1-based line of each row in the file

    def where(self, row: int) -> str:
        """``"path line N"`` for error messages about row ``row``."""
        return f"{self.path} line {int(self.line_numbers[row])}"


def read_numeric_table(
    path: str | os.PathLike,
    *,
    min_columns: int,
    max_columns: int,
    columns_doc: str,
    fill: float = math.nan,
) -> NumericTable:
    """Read a text table of numbers, one row per non-blank line.

    Args:
        path: the text file.
        min_columns, max_columns: allowed numbers per line; shorter rows are padded with ``fill``
            up to ``max_columns``.
        columns_doc: what the columns are, for error messages (e.g. ``"x, y, w, h"``).
        fill: value of the missing trailing columns.

    ``NaN`` (any case) is accepted; infinite values are not. A trailing comma is tolerated.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"annotation file not found: {path}")
    rows, line_numbers = [], []
    with path.open(encoding="utf-8-sig") as lines:  # utf-8-sig drops a byte-order mark
        for line_no, line in enumerate(lines, start=1):
            text = line.strip().rstrip(",").rstrip()
            if not text:
                continue
            fields = _FIELD_SEPARATOR.split(text)
            where = f"{path} line {line_no}"
            if not min_columns <= len(fields) <= max_columns:
                count = (
                    str(min_columns)
                    if min_columns == max_columns
                    else f"{min_columns} to {max_columns}"
                )
                raise ValueError(
                    f"{where}: expected {count} numbers ({columns_doc}) separated by commas, "
                    f"tabs or spaces, got {len(fields)}: {text!r}"
                )
            try:
                values = [float(field) for field in fields]
            except ValueError:
                raise ValueError(
                    f"{where}: expected numbers ({columns_doc}), got {text!r}"
                ) from None
            if any(math.isinf(v) for v in values):
                raise ValueError(f"{where}: infinite value in {text!r}; use NaN for 'no value'")
            rows.append(values + [fill] * (max_columns - len(values)))
            line_numbers.append(line_no)
    values = np.asarray(rows, dtype=np.float64).reshape(-1, max_columns)  # (R, C)
    return NumericTable(path, values, np.asarray(line_numbers, dtype=np.int64))


def integer_column(table: NumericTable, column: int, name: str, minimum: int) -> np.ndarray:
    """Column ``column`` of ``table`` as (R,) int64; values must be whole numbers >= minimum."""
    values = table.values[:, column]
    bad = ~np.isfinite(values) | (values != np.round(values)) | (values < minimum)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{table.where(row)}: {name} must be a whole number >= {minimum}, got {values[row]}"
        )
    return values.astype(np.int64)


def split_rows_by_frame(frame_indices: np.ndarray, num_frames: int) -> list[np.ndarray]:
    """Row indices of each frame: ``num_frames`` arrays, file order kept within a frame.

    Args:
        frame_indices: (R,) int64 0-based frame of each row, all in ``[0, num_frames)``.
    """
    if num_frames == 0:
        return []
    order = np.argsort(frame_indices, kind="stable")  # (R,) rows grouped by frame
    counts = np.bincount(frame_indices, minlength=num_frames)  # (T,)
    return np.split(order, np.cumsum(counts)[:-1])
