"""Weight-space averaging of two checkpoints (weights/averaging.py, scripts/average_weights.py)."""

import dataclasses
import importlib.util
from pathlib import Path

import pytest
import torch

from sam2_enhanced import build_model, load_config
from sam2_enhanced.weights.averaging import average_models
from sam2_enhanced.weights.checkpoint import load_pretrained, save_pretrained

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "average_weights.py"


def tiny(seed: int, cfg=None):
    torch.manual_seed(seed)
    return build_model(cfg or load_config("tiny")).eval()


@pytest.mark.parametrize("alpha", [0.0, 0.25, 1.0])
def test_average_interpolates_every_floating_tensor(alpha):
    base, tuned = tiny(0), tiny(1)
    before = {k: v.clone() for k, v in base.state_dict().items()}
    average_models(base, tuned, alpha)
    tuned_state = tuned.state_dict()
    for name, value in base.state_dict().items():
        if value.is_floating_point():
            expected = (1 - alpha) * before[name] + alpha * tuned_state[name]
            torch.testing.assert_close(value, expected)
        else:
            assert torch.equal(value, before[name])


@pytest.mark.parametrize(
    ("alpha", "change", "match"),
    [
        (1.5, None, r"alpha must be in \[0, 1\]"),
        (0.5, {"search_window": {"search_scale": 3.0}}, "different configs.*search_window"),
    ],
)
def test_bad_input_leaves_the_base_unchanged(alpha, change, match):
    cfg = load_config("tiny")
    if change:
        cfg = dataclasses.replace(
            cfg, search_window=dataclasses.replace(cfg.search_window, search_scale=3.0)
        )
    base, tuned = tiny(0), tiny(1, cfg)
    before = {k: v.clone() for k, v in base.state_dict().items()}
    with pytest.raises(ValueError, match=match):
        average_models(base, tuned, alpha)
    assert all(torch.equal(v, before[k]) for k, v in base.state_dict().items())


def test_script_writes_a_loadable_average(tmp_path):
    save_pretrained(tiny(0), tmp_path / "a")
    save_pretrained(tiny(1), tmp_path / "b")
    spec = importlib.util.spec_from_file_location("average_weights", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    script.main(["--base", str(tmp_path / "a"), "--tuned", str(tmp_path / "b"), "--alpha",
                 "0.5", "--out", str(tmp_path / "avg")])  # fmt: skip
    averaged = load_pretrained(tmp_path / "avg").state_dict()
    a, b = (
        load_pretrained(tmp_path / "a").state_dict(),
        load_pretrained(tmp_path / "b").state_dict(),
    )
    name = next(k for k, v in a.items() if v.is_floating_point() and not torch.equal(v, b[k]))
    torch.testing.assert_close(averaged[name], (a[name] + b[name]) / 2)
    with pytest.raises(SystemExit):
        script.main(["--tuned", str(tmp_path / "missing"), "--out", str(tmp_path / "x")])
