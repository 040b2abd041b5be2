"""The predictor of a ``sam2e`` command: ``--model``, ``--device``, ``--tiles`` and ``--set``.

``--set SECTION.KEY=VALUE`` changes an inference-time setting for this run only, in one of the
config sections the predictor can override (``tracker``, ``memory_bank``, ``search_window``,
``detection_tiles``): ``--set tracker.min_hits=2 --set tracker.low_threshold=null``. Values are
read as YAML and checked as a config file's are (unknown key, wrong type, dependent fields); the
model folder is not touched. ``--tiles on|off`` is applied after ``--set``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from sam2_enhanced.config import INFERENCE_SECTIONS, from_dict, to_dict
from sam2_enhanced.training.config import parse_yaml_value

TILE_CHOICES = ("model", "on", "off")  # --tiles: the checkpoint's setting, or forced
SETTING_SECTIONS = INFERENCE_SECTIONS  # the sections --set may change


def parse_settings(config, texts: Sequence[str]) -> dict[str, Any]:
    """``SECTION.KEY=VALUE`` texts -> {section name: that section of ``config`` with the values
    set}, each section validated as a whole (``ValueError`` naming the key otherwise)."""
    changed: dict[str, dict[str, Any]] = {}
    for text in texts:
        key, sep, value = text.partition("=")
        path = key.strip().split(".")
        if not sep or len(path) != 2 or path[0] not in SETTING_SECTIONS or not path[1]:
            raise ValueError(
                f"--set must look like SECTION.KEY=VALUE with SECTION in {SETTING_SECTIONS}, "
                f"e.g. tracker.min_hits=2; got {text!r}"
            )
        section = changed.setdefault(path[0], to_dict(getattr(config, path[0])))
        section[path[1]] = parse_yaml_value(value)
    return {
        name: from_dict(type(getattr(config, name)), data, prefix=f"{name}.")
        for name, data in changed.items()
    }


def check_device(device: str | None) -> None:
    """``ValueError`` unless ``device`` is None or a torch device this machine has."""
    if device is None:
        return
    try:
        kind = torch.device(device).type
    except RuntimeError as err:
        raise ValueError(f"--device {device!r} is not a torch device ({err})") from None
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {device}: no CUDA GPU is available here; use --device cpu")


def load_predictor(
    model: str | None,
    device: str | None,
    tiles: str = "model",
    settings: Sequence[str] = (),
):
    """``SAM2EnhancedVideoPredictor.from_pretrained`` with errors phrased for the command line;
    ``settings`` (``--set``) replace inference-time settings and ``tiles`` "on" / "off"
    switches the detection tiles, for this predictor only."""
    from sam2_enhanced.enhanced_video_predictor import SAM2EnhancedVideoPredictor

    check_device(device)
    if tiles not in TILE_CHOICES:
        raise ValueError(f"--tiles must be one of {TILE_CHOICES}, got {tiles!r}")
    try:
        predictor = SAM2EnhancedVideoPredictor.from_pretrained(model, device=device)
    except FileNotFoundError as err:
        if model is not None:
            raise
        raise FileNotFoundError(f"{err} (here: --model CHECKPOINT_DIR)") from None
    if settings:
        predictor = predictor.with_settings(**parse_settings(predictor.config, settings))
    return predictor if tiles == "model" else predictor.with_detection_tiles(tiles == "on")
