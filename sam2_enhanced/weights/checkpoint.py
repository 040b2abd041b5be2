"""Save and load models as a folder: ``config.yaml`` + ``model.safetensors``.

Every checkpoint stores the config that built it, so loading rebuilds exactly the saved model.
A folder can also be a Hugging Face Hub repo id (fetched with ``huggingface_hub`` when online).
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
import yaml
from safetensors.torch import load_file, save_file

from sam2_enhanced.build import build_model
from sam2_enhanced.config import ModelConfig, from_dict, read_yaml, to_dict
from sam2_enhanced.modeling.sam2_base_enhanced import SAM2EnhancedBase

logger = logging.getLogger(__name__)

CONFIG_NAME = "config.yaml"
WEIGHTS_NAME = "model.safetensors"
DEFAULT_MODEL_DIR = Path(__file__).resolve().parents[1] / "checkpoints" / "default"  # package data


def save_pretrained(model: SAM2EnhancedBase, directory: str | Path) -> Path:
    """Write ``config.yaml`` and ``model.safetensors`` into ``directory`` (created)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    config = to_dict(model.config)
    config["encoder"]["pretrained"] = None  # the weights file holds the encoder's weights now
    (directory / CONFIG_NAME).write_text(yaml.safe_dump(config, sort_keys=False))
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(state, str(directory / WEIGHTS_NAME), metadata={"format": "pt"})
    return directory


def resolve_pretrained(name_or_path: str | Path | None) -> Path:
    """Folder holding a checkpoint: the bundled default, a local folder, or a Hub repo id."""
    if name_or_path is None:
        if not (DEFAULT_MODEL_DIR / WEIGHTS_NAME).is_file():
            raise FileNotFoundError(
                f"the bundled default model is missing from {DEFAULT_MODEL_DIR}; reinstall "
                "sam2-enhanced or pass a checkpoint folder to from_pretrained(...)"
            )
        return DEFAULT_MODEL_DIR
    path = Path(name_or_path)
    if path.exists():
        if not (path / WEIGHTS_NAME).is_file() or not (path / CONFIG_NAME).is_file():
            raise FileNotFoundError(
                f"{path} is not a sam2-enhanced checkpoint folder: expected {CONFIG_NAME} and "
                f"{WEIGHTS_NAME} inside (write one with save_pretrained)"
            )
        return path
    name = str(name_or_path)
    if name.count("/") != 1 or name.startswith((".", "/")):
        raise FileNotFoundError(
            f"no checkpoint folder at {name!r}, and it is not a Hugging Face Hub repo id "
            "of the form 'owner/name'"
        )
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(repo_id=name, allow_patterns=[CONFIG_NAME, WEIGHTS_NAME]))
    except Exception as err:  # offline, unknown repo, auth: all reported the same way
        raise FileNotFoundError(
            f"could not fetch {name!r} from the Hugging Face Hub ({type(err).__name__}: {err}); "
            "pass a local checkpoint folder instead"
        ) from err


def check_state_dict(expected: dict, given: dict, source: str) -> None:
    """Raise ``ValueError`` listing missing, unexpected and wrongly shaped keys, if any."""
    missing = sorted(set(expected) - set(given))
    unexpected = sorted(set(given) - set(expected))
    mismatched = sorted(
        f"{k}: {tuple(given[k].shape)} vs {tuple(expected[k].shape)}"
        for k in set(expected) & set(given)
        if given[k].shape != expected[k].shape
    )
    if missing or unexpected or mismatched:
        raise ValueError(
            f"checkpoint {source} does not match its config: missing keys {missing[:10]}, "
            f"unexpected keys {unexpected[:10]}, shape mismatches (checkpoint vs model) "
            f"{mismatched[:10]}"
        )


def load_weights(
    model: SAM2EnhancedBase, name_or_path: str | Path | None, strict: bool = True
) -> Path:
    """Load a checkpoint folder's weights into an already built ``model``.

    Used to fine-tune from a saved model. Strict: the model must have the checkpoint's
    architecture (a mismatch raises ``ValueError`` listing the keys). Not strict: every tensor
    whose name and shape agree is loaded, the model's other tensors keep their values, and a
    warning lists what was not loaded on either side. Returns the folder read.
    """
    directory = resolve_pretrained(name_or_path)
    device = next(model.parameters()).device
    state = load_file(str(directory / WEIGHTS_NAME), device=str(device))
    expected = model.state_dict()
    if strict:
        check_state_dict(expected, state, source=str(directory))
        model.load_state_dict(state, strict=True)
        return directory
    usable = {k: v for k, v in state.items() if k in expected and v.shape == expected[k].shape}
    if not usable:
        raise ValueError(f"checkpoint {directory} shares no tensor (name and shape) with the model")
    model.load_state_dict(usable, strict=False)
    kept = sorted(set(expected) - set(usable))
    unused = sorted(set(state) - set(usable))
    if kept or unused:
        logger.warning(
            "loaded %d of the model's %d tensors from %s; %d keep their initialization (%s); "
            "%d checkpoint tensors are unused (%s)",
            len(usable),
            len(expected),
            directory,
            len(kept),
            ", ".join(kept[:10]),
            len(unused),
            ", ".join(unused[:10]),
        )
    return directory


def load_pretrained(
    name_or_path: str | Path | None = None, device: str | torch.device = "cpu"
) -> SAM2EnhancedBase:
    """Rebuild the saved model from its config and load its weights strictly."""
    directory = resolve_pretrained(name_or_path)
    cfg = from_dict(ModelConfig, read_yaml(directory / CONFIG_NAME))
    model = build_model(cfg).to(device)
    load_weights(model, directory)
    logger.info("loaded %s model from %s", cfg.name, directory)
    return model.eval()
