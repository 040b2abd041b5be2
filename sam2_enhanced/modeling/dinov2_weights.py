"""Real DINOv2 weights for the encoder's ``transformers.Dinov2Model``.

Three checkpoint layouts are accepted and renamed into the key layout of the installed
``transformers`` (5.x: ``encoder.layer.{i}.attention.q_proj``, ``mlp.fc1``, ...):

* Hugging Face Hub (``facebook/dinov2-*``, and what ``save_pretrained`` writes):
  ``encoder.layer.{i}.attention.attention.query``, ``attention.output.dense``, ``mlp.weights_in``;
* the installed ``transformers`` layout itself (a ``state_dict()`` saved with ``torch.save``);
* the original torch.hub files (``dinov2_vits14_pretrain.pth``): ``blocks.{i}.attn.qkv`` (split
  into q / k / v), ``ls1.gamma``, ``pos_embed``, ``norm``.

Position embeddings are resized when the checkpoint's grid (37 x 37 at 518 px) differs from the
model's (``image_size // patch_size``): bicubic in float32, ``align_corners=False``, exactly what
``transformers`` does at run time for other input sizes, so a converted model at ``image_size``
matches the original model fed ``image_size`` pixels.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import Tensor
from transformers import Dinov2Config, Dinov2Model

logger = logging.getLogger(__name__)

HF_CONFIG_NAME = "config.json"
HF_WEIGHT_NAMES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")
POS_KEY = "embeddings.position_embeddings"
TORCH_HUB_HEAD_DIM = 64  # every released DINOv2 ViT (S/B/L/g) uses 64 channels per head
# config fields that change what the weights compute without changing their shapes
BEHAVIOUR_FIELDS = ("num_attention_heads", "hidden_act", "layer_norm_eps", "use_swiglu_ffn")

# (source pattern, target templates): one target renames, several split the tensor on dim 0
KeyRule = tuple[str, tuple[str, ...]]
_LAYER = r"^encoder\.layer\.(\d+)\."
HF_HUB_RULES: tuple[KeyRule, ...] = (
    (_LAYER + r"attention\.attention\.query\.", (r"encoder.layer.\1.attention.q_proj.",)),
    (_LAYER + r"attention\.attention\.key\.", (r"encoder.layer.\1.attention.k_proj.",)),
    (_LAYER + r"attention\.attention\.value\.", (r"encoder.layer.\1.attention.v_proj.",)),
    (_LAYER + r"attention\.output\.dense\.", (r"encoder.layer.\1.attention.o_proj.",)),
    (
        _LAYER + r"mlp\.weights_in\.",
        (r"encoder.layer.\1.mlp.gate_proj.", r"encoder.layer.\1.mlp.up_proj."),
    ),
    (_LAYER + r"mlp\.weights_out\.", (r"encoder.layer.\1.mlp.down_proj.",)),
)
_BLOCK = r"^blocks\.(\d+)\."
TORCH_HUB_RULES: tuple[KeyRule, ...] = (
    (r"^cls_token$", ("embeddings.cls_token",)),
    (r"^mask_token$", ("embeddings.mask_token",)),
    (r"^pos_embed$", (POS_KEY,)),
    (r"^patch_embed\.proj\.", ("embeddings.patch_embeddings.projection.",)),
    (r"^norm\.", ("layernorm.",)),
    (_BLOCK + r"norm1\.", (r"encoder.layer.\1.norm1.",)),
    (_BLOCK + r"norm2\.", (r"encoder.layer.\1.norm2.",)),
    (
        _BLOCK + r"attn\.qkv\.",
        (
            r"encoder.layer.\1.attention.q_proj.",
            r"encoder.layer.\1.attention.k_proj.",
            r"encoder.layer.\1.attention.v_proj.",
        ),
    ),
    (_BLOCK + r"attn\.proj\.", (r"encoder.layer.\1.attention.o_proj.",)),
    (_BLOCK + r"ls1\.gamma$", (r"encoder.layer.\1.layer_scale1.lambda1",)),
    (_BLOCK + r"ls2\.gamma$", (r"encoder.layer.\1.layer_scale2.lambda1",)),
    (_BLOCK + r"mlp\.fc1\.", (r"encoder.layer.\1.mlp.fc1.",)),
    (_BLOCK + r"mlp\.fc2\.", (r"encoder.layer.\1.mlp.fc2.",)),
    (
        _BLOCK + r"mlp\.w12\.",
        (r"encoder.layer.\1.mlp.gate_proj.", r"encoder.layer.\1.mlp.up_proj."),
    ),
    (_BLOCK + r"mlp\.w3\.", (r"encoder.layer.\1.mlp.down_proj.",)),
)


@dataclass
class Dinov2Checkpoint:
    """A DINOv2 checkpoint as read from disk (or the Hub), in its own key layout."""

    state_dict: dict[str, Tensor]  # source keys -> tensors
    config: Dinov2Config  # the geometry it was trained with (image_size of its position grid)
    source: str  # where it came from, for messages


def is_torch_hub_layout(sd: Mapping[str, Tensor]) -> bool:
    """True for the original facebookresearch/dinov2 keys (``blocks.0.attn.qkv.weight``...)."""
    return "pos_embed" in sd or any(k.startswith("blocks.") for k in sd)


def rename_keys(sd: Mapping[str, Tensor], rules: Sequence[KeyRule]) -> dict[str, Tensor]:
    """Apply the first matching rule to each key; unmatched keys pass through unchanged."""
    out: dict[str, Tensor] = {}
    for key, value in sd.items():
        for pattern, targets in rules:
            match = re.match(pattern, key)
            if match is None:
                continue
            suffix = key[match.end() :]
            parts = value.chunk(len(targets), dim=0) if len(targets) > 1 else (value,)
            for template, part in zip(targets, parts, strict=True):
                out[match.expand(template) + suffix] = part.contiguous()
            break
        else:
            out[key] = value
    return out


def resize_position_embeddings(pos: Tensor, grid_size: int) -> Tensor:
    """(1, 1 + G*G, C) class + patch position embeddings -> (1, 1 + g*g, C), ``g = grid_size``."""
    num_patches = pos.shape[1] - 1 if pos.ndim == 3 else -1
    side = math.isqrt(max(num_patches, 0))
    if side * side != num_patches:
        raise ValueError(
            f"{POS_KEY} must be (1, 1 + G*G, C) for a square G x G grid, got {tuple(pos.shape)}"
        )
    if side == grid_size:
        return pos
    patch_pos = pos[:, 1:].reshape(1, side, side, -1).permute(0, 3, 1, 2)  # (1, C, G, G)
    patch_pos = F.interpolate(
        patch_pos.float(), size=(grid_size, grid_size), mode="bicubic", align_corners=False
    ).to(pos.dtype)  # (1, C, g, g)
    patch_pos = patch_pos.permute(0, 2, 3, 1).reshape(1, grid_size * grid_size, -1)  # (1, g*g, C)
    return torch.cat([pos[:, :1], patch_pos], dim=1)


def _check_against_target(
    sd: Mapping[str, Tensor], target_keys: Mapping[str, Sequence[int]]
) -> None:
    """Raise ``ValueError`` listing missing, unexpected and wrongly shaped keys."""
    missing = sorted(set(target_keys) - set(sd))
    unexpected = sorted(set(sd) - set(target_keys))
    shapes = [
        f"{k}: checkpoint {tuple(sd[k].shape)} vs model {tuple(target_keys[k])}"
        for k in sorted(set(sd) & set(target_keys))
        if tuple(sd[k].shape) != tuple(target_keys[k])
    ]
    if not (missing or unexpected or shapes):
        return
    raise ValueError(
        "DINOv2 checkpoint does not fit the model's ViT: "
        f"{len(missing)} missing keys {missing[:10]}, "
        f"{len(unexpected)} unexpected keys {unexpected[:10]}, "
        f"{len(shapes)} shape mismatches {shapes[:10]}. Use a config whose encoder "
        "(hidden_size, num_layers, num_heads, mlp_ratio, patch_size) matches the checkpoint "
        "(ViT-S/14: 384 wide, 12 layers, 6 heads; ViT-B/14: 768, 12, 12)"
    )


def convert_dinov2_state_dict(
    sd: Mapping[str, Tensor], *, target_keys: Mapping[str, Sequence[int]]
) -> dict[str, Tensor]:
    """Rename a DINOv2 state dict into the installed ``transformers.Dinov2Model`` layout.

    Args:
        sd: checkpoint tensors in the Hub, installed-``transformers`` or torch.hub layout (a
            ``dinov2.`` prefix, as in ``Dinov2ForImageClassification``, is removed and its
            ``classifier.`` head dropped).
        target_keys: the model's keys with their shapes, ``{k: v.shape for k, v in
            vit.state_dict().items()}``; the position-embedding shape sets the grid to resize to.
    Returns:
        Tensors keyed exactly as ``target_keys``, position embeddings resized.
    Raises:
        ValueError: keys missing or unexpected, or shapes that differ (e.g. a ViT-B checkpoint
            for a ViT-S config), all listed.
    """
    sd = {k.removeprefix("dinov2."): v for k, v in sd.items() if not k.startswith("classifier.")}
    rules = TORCH_HUB_RULES if is_torch_hub_layout(sd) else HF_HUB_RULES
    out = rename_keys(sd, rules)
    if POS_KEY in out and POS_KEY in target_keys:
        num_patches = int(target_keys[POS_KEY][1]) - 1
        out[POS_KEY] = resize_position_embeddings(out[POS_KEY], math.isqrt(num_patches))
    _check_against_target(out, target_keys)
    return out


def read_tensor_file(path: Path) -> dict[str, Tensor]:
    """A ``.safetensors`` file or a ``torch.save``-d state dict (``weights_only=True``), on CPU."""
    try:
        if path.suffix == ".safetensors":
            return load_file(str(path), device="cpu")
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # unpickling fails with many error types; all mean "not weights"
        raise ValueError(
            f"{path} is not a readable weight file ({type(err).__name__}: {err}); expected "
            "model.safetensors or a torch.save-d state dict"
        ) from err
    if not isinstance(data, Mapping) or not all(isinstance(v, Tensor) for v in data.values()):
        raise ValueError(
            f"{path} holds a {type(data).__name__}, not a state dict (a mapping of parameter "
            "names to tensors)"
        )
    return dict(data)


def _read_hf_weights(folder: Path) -> dict[str, Tensor]:
    """Weights of a ``save_pretrained`` folder: single file, sharded safetensors, or .bin."""
    single, index, legacy = (folder / name for name in HF_WEIGHT_NAMES)
    if single.is_file():
        return read_tensor_file(single)
    if index.is_file():
        shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        return {k: v for shard in shards for k, v in read_tensor_file(folder / shard).items()}
    if legacy.is_file():
        return read_tensor_file(legacy)
    raise FileNotFoundError(
        f"no DINOv2 weights in {folder}: looked for {', '.join(HF_WEIGHT_NAMES)} "
        "(as transformers' save_pretrained writes)"
    )


def _read_hf_folder(folder: Path) -> Dinov2Checkpoint:
    """``config.json`` + weights of a Hugging Face DINOv2 folder."""
    config_path = folder / HF_CONFIG_NAME
    if not config_path.is_file():
        raise FileNotFoundError(
            f"no {HF_CONFIG_NAME} in {folder}: a DINOv2 folder needs {HF_CONFIG_NAME} and one "
            f"of {', '.join(HF_WEIGHT_NAMES)} (as transformers' save_pretrained writes)"
        )
    data = json.loads(config_path.read_text())
    if data.get("model_type") != "dinov2":
        raise ValueError(
            f"{config_path} describes model_type {data.get('model_type')!r}, expected 'dinov2' "
            "(DINOv2 with registers and other ViTs are not supported)"
        )
    return Dinov2Checkpoint(_read_hf_weights(folder), Dinov2Config.from_dict(data), str(folder))


def config_from_torch_hub(sd: Mapping[str, Tensor]) -> Dinov2Config:
    """Geometry of an original torch.hub checkpoint, read off its tensor shapes."""
    if "cls_token" not in sd or "patch_embed.proj.weight" not in sd or "pos_embed" not in sd:
        raise ValueError(
            "torch.hub DINOv2 checkpoint lacks cls_token / patch_embed.proj.weight / pos_embed; "
            f"got keys {sorted(sd)[:10]}"
        )
    hidden = sd["cls_token"].shape[-1]
    patch = sd["patch_embed.proj.weight"].shape[-1]
    swiglu = "blocks.0.mlp.w12.weight" in sd
    grid = math.isqrt(sd["pos_embed"].shape[1] - 1)
    return Dinov2Config(
        image_size=grid * patch,
        patch_size=patch,
        hidden_size=hidden,
        num_hidden_layers=1 + max(int(k.split(".")[1]) for k in sd if k.startswith("blocks.")),
        num_attention_heads=hidden // TORCH_HUB_HEAD_DIM,
        mlp_ratio=4 if swiglu else sd["blocks.0.mlp.fc1.weight"].shape[0] // hidden,
        use_swiglu_ffn=swiglu,
    )


def _fetch_from_hub(repo_id: str) -> Path:
    """Download ``config.json`` and the weights of a Hub repo; the snapshot folder."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    looked_for = f"{HF_CONFIG_NAME} + model.safetensors or pytorch_model.bin"
    try:
        config_path = Path(hf_hub_download(repo_id, HF_CONFIG_NAME))
        try:
            hf_hub_download(repo_id, HF_WEIGHT_NAMES[0])
        except EntryNotFoundError:  # no safetensors in this repo (or cache): try the .bin
            hf_hub_download(repo_id, HF_WEIGHT_NAMES[2])
    except Exception as err:  # offline, unknown repo, auth: all reported the same way
        raise FileNotFoundError(
            f"could not fetch DINOv2 {repo_id!r} ({looked_for}) from the Hugging Face Hub "
            f"({type(err).__name__}: {err}); pass a local folder written by save_pretrained "
            "or a torch.hub .pth file instead"
        ) from err
    return config_path.parent


def read_dinov2_checkpoint(name_or_path: str | Path) -> Dinov2Checkpoint:
    """Read a DINOv2 checkpoint: a ``save_pretrained`` folder, a torch.hub ``.pth``, or a Hub id.

    Raises:
        FileNotFoundError: nothing at that path and the Hub is unreachable or lacks the repo.
        ValueError: a file that is not a DINOv2 checkpoint.
    """
    path = Path(name_or_path)
    if path.is_dir():
        return _read_hf_folder(path)
    if path.is_file():
        sd = read_tensor_file(path)
        if not is_torch_hub_layout(sd):
            raise ValueError(
                f"{path} is a single weight file but not in the torch.hub DINOv2 layout "
                "(blocks.N.attn.qkv...); pass the folder holding it and its config.json instead"
            )
        return Dinov2Checkpoint(sd, config_from_torch_hub(sd), str(path))
    name = str(name_or_path)
    if name.count("/") != 1 or name.startswith((".", "/")):
        raise FileNotFoundError(
            f"no DINOv2 checkpoint at {name!r} (looked for a folder with {HF_CONFIG_NAME} or a "
            ".pth file), and it is not a Hugging Face Hub repo id like 'facebook/dinov2-small'"
        )
    return _read_hf_folder(_fetch_from_hub(name))


def _shapes(vit: Dinov2Model) -> dict[str, torch.Size]:
    return {k: v.shape for k, v in vit.state_dict().items()}


def load_dinov2_weights(vit: Dinov2Model, checkpoint: Dinov2Checkpoint) -> None:
    """Load ``checkpoint`` into an existing ViT strictly (position embeddings resized).

    Raises:
        ValueError: keys or shapes differ (listed), or the configs differ in a field that
            leaves shapes alone (attention heads, activation, norm epsilon).
    """
    converted = convert_dinov2_state_dict(checkpoint.state_dict, target_keys=_shapes(vit))
    differing = [
        f"{name}: checkpoint {getattr(checkpoint.config, name)!r} vs model "
        f"{getattr(vit.config, name)!r}"
        for name in BEHAVIOUR_FIELDS
        if getattr(checkpoint.config, name) != getattr(vit.config, name)
    ]
    if differing:
        raise ValueError(
            f"DINOv2 checkpoint {checkpoint.source} does not fit the model's ViT config: "
            f"{differing}; set encoder.num_heads (and the rest) to the checkpoint's values"
        )
    vit.load_state_dict(converted, strict=True)


def load_pretrained_dinov2(name_or_path: str | Path, image_size: int) -> Dinov2Model:
    """A ``transformers.Dinov2Model`` with real weights, built for ``image_size`` pixels.

    Args:
        name_or_path: a folder written by ``save_pretrained`` (``config.json`` +
            ``model.safetensors`` / ``pytorch_model.bin``), an original torch.hub ``.pth`` file,
            or a Hub repo id such as ``"facebook/dinov2-small"`` (needs a network or the cache).
        image_size: model input side in pixels, a multiple of the patch size; position
            embeddings are resized to ``image_size // patch_size`` per side.
    """
    checkpoint = read_dinov2_checkpoint(name_or_path)
    config = Dinov2Config.from_dict(checkpoint.config.to_dict())
    if image_size % config.patch_size:
        raise ValueError(
            f"image_size must be a multiple of the DINOv2 patch size ({config.patch_size}), "
            f"got {image_size}"
        )
    config.image_size = image_size
    with torch.device("meta"):
        vit = Dinov2Model(config)
    converted = convert_dinov2_state_dict(checkpoint.state_dict, target_keys=_shapes(vit))
    converted = {k: v.float() for k, v in converted.items()}
    vit.load_state_dict(converted, strict=True, assign=True)
    logger.info(
        "loaded DINOv2 (%d wide, %d layers) from %s at %d px",
        config.hidden_size,
        config.num_hidden_layers,
        checkpoint.source,
        image_size,
    )
    return vit
