"""JSON, markdown and plot writers."""

import dataclasses
import json

import numpy as np
import pytest

from sam2_enhanced.evaluation.mot import TrackSequence, evaluate_mot
from sam2_enhanced.evaluation.report import (
    markdown_table,
    plot_success_precision,
    success_precision_labels,
    to_jsonable,
    write_json,
)
from sam2_enhanced.evaluation.sot import evaluate_sot_sequence

BOX = [0.0, 0.0, 10.0, 10.0]


def _sot_result(shift=0.0):
    gt = np.array([BOX] * 4 + [[np.nan] * 4])
    pred = gt.copy()
    pred[1:4, [0, 2]] += shift
    return evaluate_sot_sequence(pred, gt)


def test_write_json_sot_result(tmp_path):
    result = _sot_result(shift=5.0)
    path = write_json({"ours": result}, tmp_path / "out" / "sot.json")
    loaded = json.loads(path.read_text())  # strict JSON: NaN became null
    assert loaded["ours"]["curves"]["auc"] == pytest.approx(result.curves.auc)
    assert loaded["ours"]["ious"][:4] == pytest.approx([1.0, 1 / 3, 1 / 3, 1 / 3])
    assert loaded["ours"]["ious"][4] is None
    assert loaded["ours"]["absent_accuracy"] == 1.0
    assert loaded["ours"]["gt_present"] == [True, True, True, True, False]


def test_write_json_mot_result(tmp_path):
    seq = TrackSequence([np.array([1])], [np.array([BOX])])
    path = write_json(evaluate_mot(seq, seq), tmp_path / "mot.json")
    loaded = json.loads(path.read_text())
    assert loaded["overall"]["hota"] == 1.0
    assert loaded["by_size"]["tiny"]["idf1"] == 1.0
    assert loaded["by_size"]["large"]["hota"] is None  # empty bucket


def test_to_jsonable_rejects_unknown_types():
    with pytest.raises(TypeError, match="cannot write object"):
        to_jsonable({"x": object()})


def test_markdown_table():
    rows = [
        {"method": "ours", "AUC": 0.61234, "P@20": float("nan"), "frames": 120},
        {"method": "CSRT|v2", "AUC": np.float32(0.5)},
    ]
    table = markdown_table(rows, ["method", "AUC", "P@20", "frames"])
    assert table.splitlines() == [
        "| method | AUC | P@20 | frames |",
        "|---|---|---|---|",
        "| ours | 0.612 | n/a | 120 |",
        "| CSRT\\|v2 | 0.500 |  |  |",
    ]
    with pytest.raises(ValueError, match="at least one column"):
        markdown_table(rows, [])


def test_plot_success_precision(tmp_path):
    ours, csrt = _sot_result(0.0).curves, _sot_result(5.0).curves
    path = plot_success_precision({"CSRT": csrt, "ours": ours}, tmp_path / "plots" / "sot.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    success, precision = success_precision_labels({"CSRT": csrt, "ours": ours})
    # ours: 4 present frames at IoU 1 -> AUC 20/21 = 95.2; CSRT: 1 of 4 frames at IoU 1 and
    # 3 at IoU 1/3 -> (7 * 1 + 13 * 0.25) / 21 = 48.8; P@20 is 100 for both (5 px error).
    assert success == [("ours", "ours [95.2]"), ("CSRT", "CSRT [48.8]")]
    assert [label for _, label in precision] == ["CSRT [100.0]", "ours [100.0]"]
    with pytest.raises(ValueError, match="empty"):
        plot_success_precision({}, tmp_path / "x.png")


def test_json_roundtrip_of_nested_dataclass(tmp_path):
    @dataclasses.dataclass
    class Row:
        name: str
        values: np.ndarray

    path = write_json([Row("a", np.array([1, 2], dtype=np.int64))], tmp_path / "rows.json")
    assert json.loads(path.read_text()) == [{"name": "a", "values": [1, 2]}]
