"""Official SAM 2.1 checkpoints -> the SAM-derived parts of the model.

An official checkpoint (``sam2.1_hiera_tiny.pt`` ...) is a ``torch.save``-d dict whose ``"model"``
entry is ``SAM2Base.state_dict()``. Its prompt encoder, mask decoder, object-pointer MLP, memory
attention and memory encoder are the very ``sam2`` modules this model is built from, so they load
by renaming prefixes. A key is copied only when its shape agrees with the model's; everything
else is accounted for in a :class:`Sam2ConversionReport`. The Hiera image encoder is never used.

Most of it fits only at SAM 2's widths: ``encoder.neck_dim`` 256 (``d_model``) and
``memory_encoder.mem_dim`` 64, as in the ``small`` and ``base`` presets. Our mask downsampler has
total stride 4 (2 conv layers) where SAM 2 has 16 (4 layers): only its first layers load.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn

from sam2_enhanced.build import build_model
from sam2_enhanced.config import ModelConfig
from sam2_enhanced.modeling.enhanced_memory_attention import NUM_TIME_BUCKETS

logger = logging.getLogger(__name__)

# official prefix -> our prefix, for whole submodules
SAM2_PREFIX_RENAMES: tuple[tuple[str, str], ...] = (
    ("sam_prompt_encoder.", "mask_head.prompt_encoder."),
    ("sam_mask_decoder.", "mask_head.mask_decoder."),
    ("obj_ptr_proj.", "mask_head.obj_ptr_proj."),
    ("memory_attention.", "memory_attention.transformer."),
    ("memory_encoder.", "memory_encoder.mask_memory."),
    # sine encoding of a pointer's frame distance -> mem_dim, as ours (SAM 2 divides the
    # distance by max_obj_ptrs - 1 = 15, ours by memory_bank.max_obj_ptrs)
    ("obj_ptr_tpos_proj.", "memory_attention.ptr_time_proj."),
)
# official key -> our key, for single parameters
SAM2_KEY_RENAMES: dict[str, str] = {
    "no_obj_ptr": "mask_head.no_obj_ptr",
    "no_mem_embed": "memory_attention.no_mem_embed",
    "no_obj_embed_spatial": "memory_encoder.no_obj_embed_spatial",
}
# SAM 2's temporal encoding of spatial memories, (num_maskmem=7, 1, 1, mem_dim): slot 6 is a
# prompted frame, slot d - 1 the memory d frames back (d = 1..6). Ours has one row per time
# bucket (0 prompted, then log2-spaced distances 1, 2-3, 4-7, 8-15, ...): each bucket takes the
# slot of its nearest distance.
TIME_EMBED_SOURCE = "maskmem_tpos_enc"
TIME_EMBED_TARGET = "memory_attention.time_embed"
SAM2_SLOT_OF_TIME_BUCKET = (6, 0, 1, 3, 5, 5, 5, 5)
# heads SAM 2.1 was trained with: they leave shapes alone, so they are checked against the config
SAM2_MASK_DECODER_HEADS = 8
SAM2_MEMORY_ATTENTION_HEADS = 1

assert len(SAM2_SLOT_OF_TIME_BUCKET) == NUM_TIME_BUCKETS


@dataclass(frozen=True)
class ShapeMismatch:
    """A checkpoint key not loaded: it, or another tensor of its layer, has another shape."""

    source: str  # official key
    target: str  # our key
    source_shape: tuple[int, ...]
    target_shape: tuple[int, ...]

    def __str__(self) -> str:
        text = f"{self.source} -> {self.target}: {self.source_shape} vs {self.target_shape}"
        return text if self.source_shape != self.target_shape else text + " (rest of layer)"


@dataclass
class Sam2ConversionReport:
    """Where every key of the checkpoint went; each lands in exactly one of the first three."""

    loaded: list[tuple[str, str]] = field(default_factory=list)  # (official key, our key)
    skipped_shape: list[ShapeMismatch] = field(default_factory=list)  # counterpart, other shape
    unused: list[str] = field(default_factory=list)  # no counterpart (Hiera image encoder, ...)
    not_loaded: list[str] = field(default_factory=list)  # our SAM-derived keys left initialized
    warnings: list[str] = field(default_factory=list)  # config differences from SAM 2.1

    def summary(self) -> str:
        """One paragraph for the log."""
        unused_groups = Counter(key.split(".")[0] for key in self.unused)
        lines = [
            f"SAM 2 checkpoint: {len(self.loaded)} tensors loaded, "
            f"{len(self.skipped_shape)} skipped for shape, {len(self.unused)} unused "
            f"({dict(sorted(unused_groups.items()))}); {len(self.not_loaded)} SAM-derived model "
            "tensors keep their initialization",
            *(f"  skipped: {item}" for item in self.skipped_shape),
            *(f"  initialized: {key}" for key in self.not_loaded),
            *(f"  warning: {text}" for text in self.warnings),
        ]
        return "\n".join(lines)


def sam2_target_key(key: str) -> str | None:
    """Our key for an official key, or None when the model has no counterpart."""
    if key in SAM2_KEY_RENAMES:
        return SAM2_KEY_RENAMES[key]
    if key == TIME_EMBED_SOURCE:
        return TIME_EMBED_TARGET
    for source, target in SAM2_PREFIX_RENAMES:
        if key.startswith(source):
            return target + key[len(source) :]
    return None


def is_sam2_derived(key: str) -> bool:
    """True for our keys that an official checkpoint can fill."""
    return (
        key in SAM2_KEY_RENAMES.values()
        or key == TIME_EMBED_TARGET
        or any(key.startswith(target) for _, target in SAM2_PREFIX_RENAMES)
    )


def layer_of(key: str) -> str:
    """The module owning a parameter (``a.b.weight`` -> ``a.b``); a bare parameter is its own."""
    return key.rsplit(".", 1)[0] if key.endswith((".weight", ".bias")) else key


def model_shapes(model_cfg: ModelConfig) -> dict[str, torch.Size]:
    """Every key of the model ``model_cfg`` builds, with its shape (built on the meta device)."""
    cfg = dataclasses.replace(
        model_cfg, encoder=dataclasses.replace(model_cfg.encoder, pretrained=None)
    )
    with torch.device("meta"):
        model = build_model(cfg)
    return {k: v.shape for k, v in model.state_dict().items()}


def config_warnings(sd: Mapping[str, Tensor], model_cfg: ModelConfig) -> list[str]:
    """Differences between the checkpoint's widths / SAM 2.1's head counts and ``model_cfg``."""
    found = []
    if "no_mem_embed" in sd and sd["no_mem_embed"].shape[-1] != model_cfg.d_model:
        width = sd["no_mem_embed"].shape[-1]
        found.append(
            f"encoder.neck_dim (d_model) is {model_cfg.d_model} but the checkpoint's is {width}: "
            f"most SAM 2 weights are skipped for shape; use encoder.neck_dim: {width}"
        )
    if "no_obj_embed_spatial" in sd:
        mem_dim = sd["no_obj_embed_spatial"].shape[-1]
        if mem_dim != model_cfg.memory_encoder.mem_dim:
            found.append(
                f"memory_encoder.mem_dim is {model_cfg.memory_encoder.mem_dim} but the "
                f"checkpoint's is {mem_dim}: memory weights are skipped for shape; use "
                f"memory_encoder.mem_dim: {mem_dim}"
            )
    for name, ours, theirs in (
        ("mask_decoder.num_heads", model_cfg.mask_decoder.num_heads, SAM2_MASK_DECODER_HEADS),
        (
            "memory_attention.num_heads",
            model_cfg.memory_attention.num_heads,
            SAM2_MEMORY_ATTENTION_HEADS,
        ),
    ):
        if ours != theirs:
            found.append(
                f"{name} is {ours}, SAM 2.1 was trained with {theirs}: those weights load but "
                "their attention is split into other heads"
            )
    return found


def _converted_value(key: str, value: Tensor) -> Tensor:
    """The tensor our key receives (the temporal encoding is regrouped into time buckets)."""
    if key == TIME_EMBED_SOURCE and value.ndim == 4 and value.shape[0] == 7:
        return value[list(SAM2_SLOT_OF_TIME_BUCKET), 0, 0]  # (NUM_TIME_BUCKETS, mem_dim)
    return value


def convert_sam2_state_dict(
    sd: Mapping[str, Tensor], model_cfg: ModelConfig
) -> tuple[dict[str, Tensor], Sam2ConversionReport]:
    """Official SAM 2.1 state dict -> our keys, for the model ``model_cfg`` builds.

    Args:
        sd: ``checkpoint["model"]`` of an official SAM 2 / 2.1 checkpoint.
        model_cfg: the config of the model to load into; SAM 2.1 fits best with
            ``encoder.neck_dim`` 256 and ``memory_encoder.mem_dim`` 64 (``small`` / ``base``).
    Returns:
        ``(converted, report)``: tensors under our keys, only those whose shapes agree; the report
        puts every checkpoint key in exactly one of ``loaded`` / ``skipped_shape`` / ``unused``.
    """
    shapes = model_shapes(model_cfg)
    report = Sam2ConversionReport(warnings=config_warnings(sd, model_cfg))
    candidates: dict[str, tuple[str, Tensor]] = {}  # our key -> (official key, value)
    for key, value in sd.items():
        target = sam2_target_key(key)
        if target is None or target not in shapes:
            report.unused.append(key)
        else:
            candidates[target] = (key, _converted_value(key, value))
    # a layer loads whole or not at all: no bias without its weight
    misfit_layers = {
        layer_of(target)
        for target, (_, value) in candidates.items()
        if value.shape != shapes[target]
    }
    converted: dict[str, Tensor] = {}
    for target, (key, value) in candidates.items():
        if layer_of(target) in misfit_layers:
            report.skipped_shape.append(
                ShapeMismatch(key, target, tuple(sd[key].shape), tuple(shapes[target]))
            )
        else:
            converted[target] = value
            report.loaded.append((key, target))
    report.not_loaded = [k for k in shapes if is_sam2_derived(k) and k not in converted]
    return converted, report


def read_sam2_checkpoint(path: str | Path) -> dict[str, Tensor]:
    """``checkpoint["model"]`` of an official SAM 2 checkpoint (``torch.load``, weights only).

    Raises:
        FileNotFoundError: no file at ``path``.
        ValueError: the file is not a checkpoint, or holds no ``"model"`` state dict.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"no SAM 2 checkpoint at {str(path)!r}; download e.g. sam2.1_hiera_tiny.pt from "
            "facebookresearch/sam2 and pass its path"
        )
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # unpickling fails with many error types; all mean "not weights"
        raise ValueError(
            f"{path} is not a PyTorch checkpoint ({type(err).__name__}: {err}); expected an "
            "official SAM 2.1 .pt file"
        ) from err
    model = data.get("model") if isinstance(data, Mapping) else None
    if not isinstance(model, Mapping) or not all(isinstance(v, Tensor) for v in model.values()):
        found = sorted(map(str, data))[:10] if isinstance(data, Mapping) else type(data).__name__
        raise ValueError(
            f"{path} is not an official SAM 2 checkpoint: expected a dict whose 'model' entry "
            f"maps parameter names to tensors, got {found}"
        )
    return dict(model)


def load_sam2_weights(
    model: nn.Module, checkpoint: str | Path | Mapping[str, Tensor]
) -> Sam2ConversionReport:
    """Load the SAM-derived parts of ``model`` (built by ``build_model``) from SAM 2.1.

    Args:
        model: a ``SAM2EnhancedBase`` with its ``config``.
        checkpoint: path of an official ``.pt`` file, or its ``"model"`` state dict.
    Returns:
        The :class:`Sam2ConversionReport` (also logged).
    """
    model_cfg = getattr(model, "config", None)
    if not isinstance(model_cfg, ModelConfig):
        raise TypeError(
            f"model must come from build_model (with a .config), got {type(model).__name__}"
        )
    sd = checkpoint if isinstance(checkpoint, Mapping) else read_sam2_checkpoint(checkpoint)
    converted, report = convert_sam2_state_dict(sd, model_cfg)
    state = model.state_dict()
    state.update(converted)
    model.load_state_dict(state, strict=True)
    logger.log(logging.WARNING if report.warnings else logging.INFO, "%s", report.summary())
    return report
