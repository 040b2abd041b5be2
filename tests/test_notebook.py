"""The example notebook runs from top to bottom (offline, CPU), so it cannot rot.

Executed with ``nbclient`` in a fresh kernel of this interpreter, in a temporary folder. Besides
"no cell raised", it checks what the notebook shows: every prompted object was tracked on every
frame, and the memory held on the long clip stopped growing.
"""

import re
from pathlib import Path

import nbclient
import nbformat
import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "video_predictor_example.ipynb"


def stream_text(notebook) -> str:
    return "".join(
        output.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "stream" and output.name == "stdout"
    )


@pytest.mark.slow
def test_example_notebook_runs_and_shows_bounded_memory(tmp_path, monkeypatch):
    # the kernel inherits the environment: one torch thread, as the suite's own process uses,
    # so a busy machine does not oversubscribe its cores (a cell once hit the timeout so)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code"), (
        "commit the notebook without outputs"
    )
    client = nbclient.NotebookClient(
        notebook, timeout=240, kernel_name="python3", resources={"metadata": {"path": tmp_path}}
    )
    client.execute()  # raises CellExecutionError naming the cell on any error
    text = stream_text(notebook)
    tracked = re.findall(r"object (\d): mean IoU ([\d.]+) over (\d+) frames", text)
    assert [(obj_id, frames) for obj_id, _, frames in tracked] == [
        ("1", "12"),
        ("2", "12"),
        ("3", "12"),
    ]
    held = [float(mib) for mib in re.findall(r"frame +\d+: ([\d.]+) MiB held", text)]
    assert len(held) == 7 and held[-1] == held[-3] > held[0]  # full, then flat
