"""Training configuration: :class:`TrainConfig` and the YAML file that pairs it with a model.

A training YAML has three sections::

    model: tiny                 # a preset name, or a mapping of ModelConfig keys
    train: {lr: 1.0e-4, ...}    # TrainConfig keys
    data: {height: 128, ...}    # SyntheticVideoConfig keys (training and validation videos)

Everything goes through ``config.from_dict``, so unknown keys and wrong types raise ``ValueError``
naming the key. Command-line overrides (``train.lr=1e-4``, ``model.decoder.num_layers=3``) are
applied to the raw mapping first, so they are checked the same way.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from sam2_enhanced.config import (
    ModelConfig,
    from_dict,
    read_yaml,
    resolve_config_path,
    to_dict,
)
from sam2_enhanced.data.synthetic_config import SyntheticVideoConfig
from sam2_enhanced.training.class_losses import CLASS_LOSSES
from sam2_enhanced.training.dense_proposals import PROPOSAL_ASSIGNMENTS

SECTIONS = ("model", "train", "data")
AMP_MODES = ("none", "bf16", "fp16")
_EXPONENT_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


@dataclass
class TrainConfig:
    """Optimisation, prompting, losses and bookkeeping of one training run."""

    output_dir: str = "runs/train"  # folder for checkpoints, CSV logs and the final model
    seed: int = 0  # seed of model init, prompt sampling and the video order
    init_from: str | None = None  # save_pretrained folder or Hub id to fine-tune from (its
    # architecture must be the model section's, unless init_from_strict is false)
    init_from_strict: bool = True  # false: load the tensors whose name and shape agree, keep
    # the fresh initialization of the rest (a changed or added part), and list both in the log
    sam2_checkpoint: str | None = None  # official SAM 2.1 .pt: its prompt encoder, mask decoder,
    # memory attention and memory encoder start the run where shapes agree (before init_from)
    steps: int = 1000  # optimizer steps
    batch_size: int = 2  # clips per optimizer step and process
    clip_len: int = 4  # frames per training clip (the memory loop runs through all of them)
    num_train_videos: int = 1_000_000  # videos from the first seeds of the "train" split
    max_objects_per_clip: int = 3  # tracked (prompted) objects per clip, sampled at random
    lr: float = 2.0e-4  # peak AdamW learning rate
    weight_decay: float = 0.05  # AdamW weight decay on weight matrices (not norms or biases)
    warmup_steps: int = 100  # linear warmup from 0 to lr
    min_lr_ratio: float = 0.05  # cosine decay ends at lr * min_lr_ratio
    grad_clip: float = 0.1  # max global gradient norm (0 disables clipping)
    amp: str = "none"  # "none", "bf16" or "fp16" autocast; GPU only (CPU always runs float32)
    prob_mask_prompt: float = 0.2  # first frame prompted with the GT mask
    prob_box_prompt: float = 0.5  # first frame prompted with a jittered GT box
    # (the rest of the probability: 1..max_init_points clicks sampled inside the GT mask)
    max_init_points: int = 3  # most clicks of a point prompt on the first frame
    prompt_pe_scale: float = 1.0  # multiplies the prompt encoder's random Fourier frequencies
    # at init: SAM's scale 1 resolves positions to ~1/3 of the image, too coarse for small objects
    box_jitter: float = 0.1  # std of box-corner noise as a fraction of the box side
    box_jitter_max_px: float = 4.0  # box-corner noise is clipped to this many video pixels
    prob_corrective: float = 0.2  # clip gets corrective clicks on later frames
    max_corrective_frames: int = 2  # later frames that get a corrective click
    mask_focal_weight: float = 20.0  # sigmoid focal loss on masks (SAM 2: 20)
    mask_dice_weight: float = 1.0  # dice loss on masks (SAM 2: 1)
    iou_weight: float = 1.0  # L1 loss of predicted vs actual mask IoU
    object_score_weight: float = 1.0  # BCE of the occlusion score vs GT visibility
    det_class_weight: float = 2.0  # DETR sigmoid focal class loss (and matching cost)
    det_l1_weight: float = 5.0  # DETR L1 box loss (and matching cost)
    det_giou_weight: float = 2.0  # DETR GIoU loss (and matching cost)
    focal_alpha: float = 0.25  # focal loss alpha of the detection classes
    mask_focal_alpha: float = 0.25  # focal loss alpha of mask pixels: weight of object pixels
    # (background pixels: 1 - alpha) in the class-balanced mask focal loss
    focal_gamma: float = 2.0  # focal loss gamma (masks and detections)
    refine_weight: float = 1.0  # weight of the refined-output detection loss
    small_object_boost: float = 2.0  # extra box-loss weight of refined boxes of small objects
    det_class_loss: str = "focal"  # detection class loss: "focal" or "varifocal" (IoU-aware:
    # a matched query's target is its box's IoU with the target; training/class_losses.py)
    varifocal_alpha: float = 0.75  # varifocal weight of negatives, alpha * p^gamma (RT-DETR)
    dn_groups: int = 0  # contrastive denoising groups of noised GT boxes per frame (0: off;
    # needs model.decoder.use_denoising: true; modeling/denoising.py)
    dn_box_noise: float = 1.0  # denoising corner noise in half box sides: positives move less
    # than this, negatives 1-2x this
    dn_label_noise: float = 0.5  # a denoising query's class input is random with prob. half this
    proposal_assignment: str = "hungarian"  # how token proposals are trained: "hungarian"
    # (one-to-one) or "dense" (one-to-many, Co-DETR / FCOS: training/dense_proposals.py)
    proposal_radius: float = 1.5  # dense assignment: centre-sampling radius in tokens
    partial_label_detection: bool = False  # clips not labelled exhaustively (real video: only
    # the target has a box) get a positives-only detection loss (class-agnostic, nothing pushed
    # to "no object"); False: no detection loss there
    log_interval: int = 10  # steps between CSV log rows
    ckpt_interval: int = 200  # steps between checkpoints (training state and model folder)
    val_interval: int = 500  # steps between validations (0: only at the end)
    num_val_videos: int = 20  # fresh videos from the first seeds of the "val" split
    num_workers: int = 0  # DataLoader worker processes generating videos
    num_threads: int = 0  # torch CPU threads per process (0: leave torch's default)
    use_windows: bool = False  # train on one target's search windows (training/window_clips.py)
    window_frame_sides: tuple[int, ...] = (128, 320, 640, 1280)  # longer sides of the videos
    # windows are cut from (one per video, by seed; 4:3 below 400 px, 16:9 above)
    frame_sides: tuple[int, ...] = ()  # whole-frame clips: square sides to render at, in turn,
    # each resized to the model input (128: objects enlarged 1.75x in a 224 input; 224: at native
    # size, as detection tiles see them; training/scaled_clips.py); empty: data.height x width
    window_centre_jitter: float = 0.5  # largest window-centre shift, fraction of target size
    window_scale_jitter: float = 0.25  # std of the log window-side scale
    trainable: tuple[str, ...] = ()  # the model's top-level parts to train (e.g. detr_decoder,
    # detection_head, refinement_head: the detector alone, tracking untouched); empty: all
    fast_parts: tuple[str, ...] = ()  # top-level parts trained at lr * fast_lr_scale (parts
    # new to an initial checkpoint, e.g. motion_branch); empty: every part at lr
    fast_lr_scale: float = 10.0  # learning-rate factor of fast_parts (> 0)
    window_context: float = 1.0  # window clips' frames are cut this many times larger than
    # their windows, so the step can place windows of its own (needed by prob_drift_window)
    prob_drift_window: float = 0.0  # share of tracked frames whose window follows the model's
    # own prediction on the frame before (as the predictor's), not the jittered true box
    real_data_dir: str | None = None  # folder of real sequences (training/real_clips.py layout),
    # relative to the working directory; read in place, never copied into the repository
    real_fraction: float = 0.0  # share of training clips cut from real_data_dir (needs windows)
    real_max_stride: int = 1  # real clips take every k-th frame, k drawn from 1..real_max_stride
    box_projection_weight: float = 1.0  # BoxInst projection loss of box-only (real) targets
    prob_drop_previous: float = 0.0  # chance that a tracked object's previous mask (its
    # previous-centre click) is withheld on a frame, as after a loss (prompts.drop_previous)

    def __post_init__(self) -> None:
        if self.fast_lr_scale <= 0:
            raise ValueError(f"train.fast_lr_scale must be > 0, got {self.fast_lr_scale}")
        if self.trainable and not set(self.fast_parts) <= set(self.trainable):
            raise ValueError(
                f"train.fast_parts {list(self.fast_parts)} must be among train.trainable "
                f"{list(self.trainable)}; a frozen part does not train at any rate"
            )
        positive = ("steps", "batch_size", "clip_len", "num_train_videos", "max_objects_per_clip")
        for name in (*positive, "max_init_points", "log_interval", "ckpt_interval"):
            if getattr(self, name) < 1:
                raise ValueError(f"train.{name} must be >= 1, got {getattr(self, name)}")
        for name in ("warmup_steps", "val_interval", "num_val_videos", "num_workers"):
            if getattr(self, name) < 0:
                raise ValueError(f"train.{name} must be >= 0, got {getattr(self, name)}")
        probabilities = (
            "prob_mask_prompt",
            "prob_box_prompt",
            "prob_corrective",
            "min_lr_ratio",
            "prob_drift_window",
            "prob_drop_previous",
        )
        for name in (*probabilities, "focal_alpha", "mask_focal_alpha"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"train.{name} must be in [0, 1], got {getattr(self, name)}")
        if self.prob_mask_prompt + self.prob_box_prompt > 1.0:
            raise ValueError(
                "train.prob_mask_prompt + train.prob_box_prompt must be <= 1 (the rest are "
                f"point prompts), got {self.prob_mask_prompt} + {self.prob_box_prompt}"
            )
        if self.amp not in AMP_MODES:
            raise ValueError(f"train.amp must be one of {AMP_MODES}, got {self.amp!r}")
        if self.prompt_pe_scale <= 0:
            raise ValueError(f"train.prompt_pe_scale must be > 0, got {self.prompt_pe_scale}")
        if self.lr <= 0:
            raise ValueError(f"train.lr must be > 0, got {self.lr}")
        if self.window_centre_jitter < 0 or self.window_scale_jitter < 0:
            raise ValueError(
                "train.window_centre_jitter and train.window_scale_jitter must be >= 0, got "
                f"{self.window_centre_jitter} and {self.window_scale_jitter}"
            )
        if not 0.0 <= self.real_fraction <= 1.0:
            raise ValueError(f"train.real_fraction must be in [0, 1], got {self.real_fraction}")
        if self.real_fraction > 0 and (not self.real_data_dir or not self.use_windows):
            raise ValueError(
                "train.real_fraction > 0 needs train.real_data_dir (the folder of real "
                "sequences) and train.use_windows: true, got real_data_dir="
                f"{self.real_data_dir!r} and use_windows={self.use_windows}"
            )
        if self.real_max_stride < 1:
            raise ValueError(f"train.real_max_stride must be >= 1, got {self.real_max_stride}")
        if self.box_projection_weight < 0:
            raise ValueError(
                f"train.box_projection_weight must be >= 0, got {self.box_projection_weight}"
            )
        if self.window_context < 1:
            raise ValueError(f"train.window_context must be >= 1, got {self.window_context}")
        if self.prob_drift_window > 0 and (not self.use_windows or self.window_context <= 1):
            raise ValueError(
                "train.prob_drift_window > 0 needs train.use_windows: true and "
                "train.window_context > 1 (room to cut a window of the model's own), got "
                f"use_windows={self.use_windows} and window_context={self.window_context}"
            )
        if not self.window_frame_sides or min(self.window_frame_sides) < 16:
            raise ValueError(
                f"train.window_frame_sides must be >= 16 px, got {self.window_frame_sides}"
            )
        if self.frame_sides and (self.use_windows or min(self.frame_sides) < 16):
            raise ValueError(
                "train.frame_sides needs sides >= 16 px and whole-frame clips (use_windows: "
                f"false), got {self.frame_sides} with use_windows={self.use_windows}"
            )
        self._check_detector_aids()

    def _check_detector_aids(self) -> None:
        """The varifocal, denoising and proposal keys (issue 11's convergence aids)."""
        if self.det_class_loss not in CLASS_LOSSES:
            raise ValueError(
                f"train.det_class_loss must be one of {CLASS_LOSSES}, got {self.det_class_loss!r}"
            )
        if self.dn_groups < 0:
            raise ValueError(f"train.dn_groups must be >= 0 (0: off), got {self.dn_groups}")
        if self.proposal_assignment not in PROPOSAL_ASSIGNMENTS:
            raise ValueError(
                f"train.proposal_assignment must be one of {PROPOSAL_ASSIGNMENTS}, "
                f"got {self.proposal_assignment!r}"
            )
        if self.proposal_radius < 0:
            raise ValueError(f"train.proposal_radius must be >= 0, got {self.proposal_radius}")
        if self.dn_box_noise < 0:
            raise ValueError(f"train.dn_box_noise must be >= 0, got {self.dn_box_noise}")
        for name in ("dn_label_noise", "varifocal_alpha"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"train.{name} must be in [0, 1], got {getattr(self, name)}")


@dataclass
class TrainRunConfig:
    """A whole training YAML: the model to build, how to train it, which videos to use."""

    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    data: SyntheticVideoConfig = field(default_factory=SyntheticVideoConfig)

    def __post_init__(self) -> None:
        if self.train.dn_groups > 0 and not self.model.decoder.use_denoising:
            raise ValueError(
                f"train.dn_groups > 0 needs model.decoder.use_denoising: true (the denoising "
                f"queries' class embedding), got dn_groups={self.train.dn_groups} and "
                "use_denoising=false; set model.decoder.use_denoising=true"
            )

    def to_dict(self) -> dict[str, Any]:
        """Plain nested dict, loadable again with :func:`run_config_from_dict`."""
        return {name: to_dict(getattr(self, name)) for name in SECTIONS}


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"train.lr=1e-4"`` -> (["train", "lr"], 1e-4); the value is parsed as YAML."""
    key, sep, value = text.partition("=")
    path = key.strip().split(".")
    if not sep or len(path) < 2 or path[0] not in SECTIONS or not all(path):
        raise ValueError(
            f"override must look like SECTION.KEY=VALUE with SECTION in {SECTIONS}, "
            f"e.g. train.lr=1e-4 or model.decoder.num_layers=3; got {text!r}"
        )
    return path, parse_yaml_value(value)


def parse_yaml_value(text: str) -> Any:
    """A command-line value read as YAML (``1`` int, ``0.5`` float, ``null`` None, ``[2, 4]``
    list, ``true`` bool, other text str), with ``1e-4`` read as a float."""
    parsed = yaml.safe_load(text)
    if isinstance(parsed, str) and _EXPONENT_FLOAT.fullmatch(parsed.strip()):
        parsed = float(parsed)  # YAML 1.1 reads 1e-4 (no dot) as a string
    return parsed


def apply_override(data: dict[str, Any], path: list[str], value: Any) -> None:
    """Set ``data[path[0]]...[path[-1]] = value`` in place, creating missing mappings."""
    node = data
    for i, key in enumerate(path[:-1]):
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise ValueError(
                f"cannot override {'.'.join(path)}: {'.'.join(path[: i + 1])} is not a mapping"
            )
        node = child
    node[path[-1]] = value


def _model_section(value: Any) -> dict[str, Any]:
    """``model:`` as a mapping: a preset name is read from its YAML file."""
    if isinstance(value, str):
        preset = read_yaml(resolve_config_path(value))
        preset = preset.get("model", preset)
        preset.setdefault("name", value)
        return preset
    if not isinstance(value, dict):
        raise ValueError(
            f"config key 'model' expects a preset name or a mapping, got {type(value).__name__}"
        )
    return value


def _data_section(value: dict[str, Any]) -> SyntheticVideoConfig:
    """``data:`` as a :class:`SyntheticVideoConfig` (its variable-length tuple checked here)."""
    value = dict(value)
    weights = value.pop("motion_weights", None)
    cfg = from_dict(SyntheticVideoConfig, value, prefix="data.")
    if weights is not None:
        if not isinstance(weights, list | tuple):
            raise ValueError(f"config key 'data.motion_weights' expects a list, got {weights!r}")
        cfg.motion_weights = tuple(weights)
        cfg.__post_init__()
    return cfg


def run_config_from_dict(data: dict[str, Any], overrides: list[str] = ()) -> TrainRunConfig:
    """Build a :class:`TrainRunConfig` from a nested mapping plus ``SECTION.KEY=VALUE`` overrides.

    Raises:
        ValueError: unknown section or key, wrong value type, malformed override.
    """
    unknown = sorted(set(data) - set(SECTIONS))
    if unknown:
        raise ValueError(f"unknown config section {unknown[0]!r}; valid sections: {SECTIONS}")
    data = copy.deepcopy(data)
    data["model"] = copy.deepcopy(_model_section(data.get("model", {})))
    for text in overrides:
        path, value = parse_override(text)
        apply_override(data, path, value)
    for name in ("train", "data"):
        if not isinstance(data.get(name, {}), dict):
            raise ValueError(f"config key {name!r} expects a mapping")
    return TrainRunConfig(
        model=from_dict(ModelConfig, data["model"], prefix="model."),
        train=from_dict(TrainConfig, data.get("train", {}), prefix="train."),
        data=_data_section(data.get("data", {})),
    )


def load_train_config(name_or_path: str | Path, overrides: list[str] = ()) -> TrainRunConfig:
    """Load a training YAML (a preset name such as ``"train_tiny"`` or a path) with overrides."""
    path = resolve_config_path(name_or_path)
    run = run_config_from_dict(read_yaml(path), overrides)
    if run.model.name == "custom":
        run.model.name = path.stem
    return run
