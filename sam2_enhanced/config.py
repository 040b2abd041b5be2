"""Configuration dataclasses, one per component, nested in :class:`ModelConfig`.

YAML presets in ``configs/`` are plain serialized dataclasses (no import paths). Unknown keys and
values of the wrong type raise ``ValueError`` naming the key.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

PROPOSAL_LEVELS = ("tokens", "highres")  # values of model.decoder.proposal_level
# the ModelConfig sections a video predictor may replace for itself (inference-time choices)
INFERENCE_SECTIONS = (
    "tracker",
    "memory_bank",
    "search_window",
    "detection_tiles",
    "target_model",
)

CONFIG_DIR = Path(__file__).resolve().parent / "configs"

T = TypeVar("T")


@dataclass
class EncoderConfig:
    """DINOv2 backbone (``transformers.Dinov2Model``) and its multi-scale neck."""

    image_size: int = 112  # square model input side in pixels; a multiple of patch_size
    patch_size: int = 14  # ViT patch side in pixels (DINOv2 uses 14)
    hidden_size: int = 384  # ViT width (ViT-S/14: 384, ViT-B/14: 768)
    num_layers: int = 12  # ViT depth
    num_heads: int = 6  # ViT attention heads
    mlp_ratio: int = 4  # ViT MLP width / hidden_size
    pretrained: str | None = None  # HF repo id or folder of real DINOv2 weights, loaded at build
    neck_dim: int = 256  # channels of the neck outputs (the model width d_model)
    highres_dim: int = 32  # channels of the raw-pixel convolutional branch for tiny objects
    pixel_mean: tuple[float, float, float] = (0.485, 0.456, 0.406)  # RGB mean in [0, 1]
    pixel_std: tuple[float, float, float] = (0.229, 0.224, 0.225)  # RGB std in [0, 1]

    def __post_init__(self) -> None:
        if self.image_size % self.patch_size:
            raise ValueError(
                f"encoder.image_size must be a multiple of encoder.patch_size "
                f"({self.patch_size}), got {self.image_size}"
            )
        if self.hidden_size % self.num_heads:
            raise ValueError(
                f"encoder.hidden_size ({self.hidden_size}) must be divisible by "
                f"encoder.num_heads ({self.num_heads})"
            )
        if self.neck_dim % 8:
            raise ValueError(f"encoder.neck_dim must be a multiple of 8, got {self.neck_dim}")

    @property
    def grid_size(self) -> int:
        """Side of the patch-token grid (the stride-16 level in SAM 2's terms)."""
        return self.image_size // self.patch_size


@dataclass
class MemoryAttentionConfig:
    """Enhanced memory attention built from ``sam2``'s RoPE memory-attention layers."""

    num_layers: int = 4  # stacked self-attn + cross-attn layers
    num_heads: int = 1  # attention heads (SAM 2 uses 1)
    dim_feedforward: int = 2048  # MLP width inside each layer
    dropout: float = 0.1  # dropout in attention and MLP
    rope_theta: float = 10000.0  # RoPE base frequency


@dataclass
class DecoderConfig:
    """DETR transformer decoder whose queries are the best-scoring token proposals."""

    num_queries: int = 50  # object queries selected from the tokens (max detections per frame)
    num_layers: int = 6  # decoder layers; each yields auxiliary outputs
    num_heads: int = 8  # attention heads
    dim_feedforward: int = 1024  # MLP width
    dropout: float = 0.1  # dropout inside the decoder
    use_denoising: bool = False  # learn a class embedding for training's denoising queries
    # (needed by train.dn_groups > 0; inference never uses it)
    proposal_level: str = "tokens"  # where queries are proposed: "tokens" (stride 16) or
    # "highres" (every cell of a stride-4 map, queries at its score peaks)
    proposal_context_dilations: tuple[int, ...] = ()  # residual dilated 3x3 convolutions over
    # the stride-4 proposal map, one per dilation (needs proposal_level "highres")
    query_nms_iou: float | None = None  # distinct queries: a proposal whose box overlaps a
    # better one by more than this IoU is not selected (class-agnostic NMS, DDQ); None: peaks
    motion_dim: int = 0  # > 0: a motion branch of this width turns the difference to the
    # neighbouring frame into a map the detector adds to its stride-4 level; 0: off
    use_motion_alignment: bool = False  # shift the neighbour onto the frame by the global
    # camera shift before differencing (``modeling/neighbour_alignment.py``; needs motion_dim)

    def __post_init__(self) -> None:
        if self.motion_dim < 0:
            raise ValueError(f"decoder.motion_dim must be >= 0 (0: off), got {self.motion_dim}")
        if self.use_motion_alignment and self.motion_dim == 0:
            raise ValueError(
                "decoder.use_motion_alignment needs a motion branch: set decoder.motion_dim > 0 "
                "or use_motion_alignment false"
            )
        if self.query_nms_iou is not None and not 0.0 < self.query_nms_iou <= 1.0:
            raise ValueError(
                f"decoder.query_nms_iou must be in (0, 1] or null (off), got {self.query_nms_iou}"
            )
        if self.proposal_level not in PROPOSAL_LEVELS:
            raise ValueError(
                f"decoder.proposal_level must be one of {PROPOSAL_LEVELS}, "
                f"got {self.proposal_level!r}"
            )
        dilations = self.proposal_context_dilations
        if any(dilation < 1 for dilation in dilations):
            raise ValueError(f"decoder.proposal_context_dilations must be >= 1, got {dilations}")
        if dilations and self.proposal_level != "highres":
            raise ValueError(
                "decoder.proposal_context_dilations need decoder.proposal_level: highres, got "
                f"{self.proposal_level!r}; set proposal_level to highres or drop the dilations"
            )


@dataclass
class HeadsConfig:
    """Detection head and small-object refinement head."""

    num_classes: int = 4  # object classes (sigmoid focal logits, no background class)
    small_object_size: float = 32.0  # boxes below this side (model-input pixels) get refined
    refine_grid: int = 4  # samples per side taken inside a box from the high-res map
    refine_hidden_dim: int = 128  # width of the refinement MLP
    refine_steps: int = 1  # passes of the refinement head, each from the previous pass's box
    nms_iou: float | None = None  # at inference, score down boxes over this IoU with a better one

    def __post_init__(self) -> None:
        if not self.small_object_size > 0:
            raise ValueError(
                f"heads.small_object_size must be > 0 model-input pixels, got "
                f"{self.small_object_size}; it is the box side where refinement fades out"
            )
        if self.refine_steps < 1:
            raise ValueError(
                f"heads.refine_steps must be >= 1 passes of the refinement head, got "
                f"{self.refine_steps}; 1 refines each decoder box once"
            )
        if self.nms_iou is not None and not 0.0 < self.nms_iou <= 1.0:
            raise ValueError(
                f"heads.nms_iou must be in (0, 1] or null (no suppression), got {self.nms_iou}"
            )


@dataclass
class MaskDecoderConfig:
    """SAM 2 prompt encoder + two-way-transformer mask decoder (from the ``sam2`` package)."""

    num_layers: int = 2  # two-way transformer depth
    num_heads: int = 8  # two-way transformer heads
    mlp_dim: int = 2048  # two-way transformer MLP width
    num_multimask_outputs: int = 3  # candidate masks for ambiguous prompts
    iou_head_hidden_dim: int = 256  # width of the IoU prediction head
    use_dense_prompt_prior: bool = False  # also feed boxes / positive clicks drawn as a mask
    # into the dense prompt (locates them on the token grid; SAM 2.1 weights were trained without)
    previous_centre_prompt: bool = False  # frames tracked from memory also get a click at the
    # centre of each object's mask on the previous frame, drawn into the dense prompt


@dataclass
class MemoryEncoderConfig:
    """Mask memory (SAM 2 style) plus detection memory tokens."""

    mem_dim: int = 64  # channels of stored memories (SAM 2 uses 64)
    num_fuser_layers: int = 2  # ConvNeXt blocks fusing mask and pixel features
    num_det_tokens: int = 8  # detections turned into memory tokens per frame (top scores)
    det_token_threshold: float = 0.3  # minimum detection probability for a memory token


@dataclass
class MemoryBankConfig:
    """Which frames become memories, how long they stay, and how they are stored."""

    max_cond_frames: int = 2  # prompted (conditioning) frames kept per object
    max_recent_frames: int = 3  # most recent frames kept per object (SAM 2's FIFO)
    max_keyframes: int = 2  # significant frames kept per object
    max_longterm_frames: int = 0  # newest frames with the object visible kept through long
    # absences, after they left the recent FIFO (0 = off; memory_bank.py)
    static_memory_stride: int = 1  # an object classified static (tracker.classify_motion)
    # stores a tracked frame's memory only every k-th frame: it looks the same (1 = every frame)
    significance: str = "feature_change"  # signal from significance.py scoring a candidate
    keyframe_policy: str = "topk"  # "fixed", "adaptive" or "topk" (rolling buffer of the K best)
    keyframe_threshold: float = 0.1  # threshold of the fixed policy / std multiplier (adaptive)
    max_obj_ptrs: int = 8  # object pointers kept per object
    spatial_downsample: int = 1  # store memories at 1/k resolution (1 = off)
    channel_rank: int = 0  # keep this many PCA channels per memory (0 = off)
    storage_dtype: str = "float16"  # "float32", "float16" or "bfloat16"
    num_scene_frames: int = 4  # frames of detection memory tokens kept for the detector

    def __post_init__(self) -> None:
        if self.max_cond_frames < 1:
            raise ValueError(
                f"memory_bank.max_cond_frames must be >= 1, got {self.max_cond_frames}"
            )
        if self.keyframe_policy not in ("fixed", "adaptive", "topk"):
            raise ValueError(
                "memory_bank.keyframe_policy must be 'fixed', 'adaptive' or 'topk', "
                f"got {self.keyframe_policy!r}"
            )
        if self.storage_dtype not in ("float32", "float16", "bfloat16"):
            raise ValueError(
                "memory_bank.storage_dtype must be 'float32', 'float16' or 'bfloat16', "
                f"got {self.storage_dtype!r}"
            )
        if self.spatial_downsample < 1:
            raise ValueError(
                f"memory_bank.spatial_downsample must be >= 1, got {self.spatial_downsample}"
            )
        if self.static_memory_stride < 1:
            raise ValueError(
                f"memory_bank.static_memory_stride must be >= 1, got {self.static_memory_stride}"
            )
        if self.max_longterm_frames < 0:
            raise ValueError(
                f"memory_bank.max_longterm_frames must be >= 0, got {self.max_longterm_frames}"
            )


@dataclass
class TrackerConfig:
    """Association of detections with tracks (tracker ids), with and without prompts."""

    det_threshold: float = 0.5  # detection probability to report a detection / start a track
    low_threshold: float | None = None  # detections in [this, det_threshold) may continue a
    # confirmed detection track, never start one (ByteTrack's second association); None: off
    match_iou: float = 0.2  # minimum IoU for a detection to continue a track
    embedding_weight: float = 0.3  # weight of appearance distance against 1 - IoU in the cost
    max_lost_frames: int = 15  # frames an unmatched track is kept alive (occlusion)
    min_hits: int = 2  # matched frames before a new track is reported
    classify_motion: bool = False  # label tracked rows static / dynamic relative to the scene
    # (camera motion compensated) in detections.data["motion_class"] on propagated frames
    redetect_after: int = 0  # frames a prompted object is judged absent before a matching
    # full-frame detection may re-seat its search window (0 = off; redetection.py)
    redetect_threshold: float = 0.3  # smallest detection probability a re-detection takes
    redetect_similarity: float = 0.5  # smallest cosine similarity of the detection's embedding
    # to the object's (its query state when a detection last covered it)
    redetect_max_size_change: float = 2.0  # largest size ratio of a re-detection either way

    def __post_init__(self) -> None:
        if self.low_threshold is not None and not 0.0 <= self.low_threshold < self.det_threshold:
            raise ValueError(
                "tracker.low_threshold must be in [0, tracker.det_threshold) or null (off), got "
                f"{self.low_threshold} with det_threshold {self.det_threshold}"
            )
        if self.redetect_after < 0:
            raise ValueError(f"tracker.redetect_after must be >= 0, got {self.redetect_after}")
        if not 0.0 <= self.redetect_threshold <= 1.0:
            raise ValueError(
                f"tracker.redetect_threshold must be in [0, 1], got {self.redetect_threshold}"
            )
        if not -1.0 <= self.redetect_similarity <= 1.0:
            raise ValueError(
                f"tracker.redetect_similarity must be in [-1, 1], got {self.redetect_similarity}"
            )
        if self.redetect_max_size_change < 1.0:
            raise ValueError(
                "tracker.redetect_max_size_change must be >= 1, got "
                f"{self.redetect_max_size_change}"
            )


MOTION_MODELS = ("constant_velocity", "static")


@dataclass
class SearchWindowConfig:
    """Object-centred search windows of tracked objects (``modeling/search_window.py``)."""

    use_search_window: bool = True  # segment each object in its own window (False: whole frame)
    search_scale: float = 4.0  # window side / the object's size sqrt(w * h) on the last frame
    min_side: float = 48.0  # smallest window side in video pixels
    max_side_frac: float = 1.0  # largest window side as a fraction of the frame's longer side
    click_side_frac: float = 0.25  # window side for click-only prompts, fraction of sqrt(H * W)
    motion_model: str = "static"  # window centre: "static" (last box) or "constant_velocity"
    velocity_momentum: float = 0.5  # smoothing of the velocity estimate (0: last step only)
    lost_growth: float = 1.5  # window side factor per frame the object is judged absent
    keep_main_component: bool = True  # an object's mask keeps only its best connected part
    # (scattered false positives and look-alikes would move and grow its window)
    centre_prior: float = 0.5  # weight of a Hann window in choosing that part (0: highest
    # probability anywhere; 1: only parts near the window's centre count; 0 without windows)
    static_side_factor: float = 1.0  # window side multiplier of an object classified static
    # (tracker.classify_motion): it stays put, so a smaller window (< 1) suffices

    def __post_init__(self) -> None:
        if self.motion_model not in MOTION_MODELS:
            raise ValueError(
                f"search_window.motion_model must be one of {MOTION_MODELS}, "
                f"got {self.motion_model!r}"
            )
        for name, low in (("search_scale", 1.0), ("min_side", 2.0), ("lost_growth", 1.0)):
            if getattr(self, name) < low:
                raise ValueError(
                    f"search_window.{name} must be >= {low}, got {getattr(self, name)}"
                )
        if not 0.0 < self.max_side_frac <= 4.0:
            raise ValueError(
                f"search_window.max_side_frac must be in (0, 4], got {self.max_side_frac}"
            )
        if not 0.0 < self.click_side_frac <= 1.0:
            raise ValueError(
                f"search_window.click_side_frac must be in (0, 1], got {self.click_side_frac}"
            )
        if not 0.0 <= self.centre_prior <= 1.0:
            raise ValueError(
                f"search_window.centre_prior must be in [0, 1], got {self.centre_prior}"
            )
        if not 0.0 < self.static_side_factor <= 1.0:
            raise ValueError(
                f"search_window.static_side_factor must be in (0, 1], got {self.static_side_factor}"
            )
        if not 0.0 <= self.velocity_momentum < 1.0:
            raise ValueError(
                f"search_window.velocity_momentum must be in [0, 1), got {self.velocity_momentum}"
            )


MERGE_METRICS = ("iou", "ios")


@dataclass
class DetectionTilesConfig:
    """Detection on overlapping square tiles of the frame near native resolution (SAHI style,
    ``modeling/detection_tiles.py``), merged with the whole-frame detections."""

    use_tiles: bool = False  # also detect on tiles of frames with a side longer than tile_side
    # (False: the whole frame only, as before)
    tile_side: int = 224  # tile side in video pixels (each tile is resized to the model input)
    overlap: float = 0.25  # overlap of neighbouring tiles as a fraction of tile_side
    max_tiles: int = 32  # most tiles per frame; tiles grow past tile_side to stay within it
    # (32: 224-px tiles cover 1280x720 without growing)
    batch_size: int = 8  # tiles per encoder / detection-branch batch
    merge_metric: str = "ios"  # duplicate test of the merge: "iou" or "ios" (over the smaller
    # box; also removes a tile's cut-off part of an object seen whole elsewhere)
    merge_threshold: float = 0.6  # overlap above which the lower-scoring box of a class is dropped

    def __post_init__(self) -> None:
        if self.tile_side < 16:
            raise ValueError(
                f"detection_tiles.tile_side must be >= 16 video pixels, got {self.tile_side}"
            )
        if not 0.0 <= self.overlap < 1.0:
            raise ValueError(f"detection_tiles.overlap must be in [0, 1), got {self.overlap}")
        for name in ("max_tiles", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"detection_tiles.{name} must be >= 1, got {getattr(self, name)}")
        if self.merge_metric not in MERGE_METRICS:
            raise ValueError(
                f"detection_tiles.merge_metric must be one of {MERGE_METRICS}, "
                f"got {self.merge_metric!r}"
            )
        if not 0.0 < self.merge_threshold <= 1.0:
            raise ValueError(
                f"detection_tiles.merge_threshold must be in (0, 1], got {self.merge_threshold}"
            )


TARGET_MODEL_MODES = ("network", "target", "fused")


@dataclass
class TargetModelConfig:
    """The online target model of each prompted object (``modeling/target_model.py``,
    ``modeling/kalman.py``): a correlation filter learned on the video at test time and a
    constant-velocity Kalman filter that place its window, say whether it is present, and give
    its box when the network's mask cannot be trusted."""

    mode: str = "network"  # "network": the network's mask alone; "target": the filter's box
    # alone; "fused": the mask where it agrees with the filter, else the filter's box
    search_scale: float = 4.0  # filter patch side / the object's size sqrt(w * h)
    min_side: float = 32.0  # smallest patch side in video pixels
    template_side: int = 64  # patch side after resampling, pixels; a multiple of cell
    cell: int = 2  # feature cell side in patch pixels
    num_orientations: int = 9  # gradient-orientation channels of the features
    label_sigma: float = 0.1  # Gaussian label std as a fraction of the object's side
    reg: float = 0.01  # ridge regularisation as a fraction of the mean spectral energy
    support_margin: float = 1.2  # the filter is confined to the object's box times this
    # (CSR-DCF's spatial constraint, one projection step; 0 = unconstrained, MOSSE / DSST)
    learning_rate: float = 0.02  # weight of a new frame in the running filter
    first_frame_share: float = 0.3  # share of the prompt frame's filter, kept for ever
    num_scales: int = 3  # scales searched per frame (odd)
    scale_step: float = 1.05  # ratio between neighbouring scales
    scale_penalty: float = 0.97  # multiplier of a non-unit scale's peak when choosing
    size_rate: float = 0.5  # weight of a new size estimate in the object's size
    presence_ratio: float = 0.3  # peak / the usual peak at or above which the object is present
    min_psr: float = 4.0  # peak-to-sidelobe ratio below which the object is judged absent
    learn_ratio: float = 0.5  # peak / the usual peak needed to learn from a frame (and admit
    # its memory)
    max_second_ratio: float = 0.7  # a competing peak above this share of the peak: ambiguous
    # frame (a look-alike), nothing learned or stored from it
    position_std_px: float = 1.5  # noise floor of a measured centre, pixels (Kalman)
    position_std_frac: float = 0.1  # measured centre noise as a fraction of the object's size
    accel_std_frac: float = 0.05  # motion noise (px / frame^2) as a fraction of its size
    max_area_ratio: float = 3.0  # fused: a mask whose box area differs from the recent median
    # by more than this factor either way is not accepted (a flood, or a part)
    max_centre_offset: float = 0.5  # fused: largest distance of the mask's centre from the
    # filter's, in object sizes, for the mask to be accepted
    lost_search_frames: int = 3  # frames absent after which a 3 x 3 grid of patches around
    # the predicted centre is searched (re-detection)

    def __post_init__(self) -> None:
        if self.mode not in TARGET_MODEL_MODES:
            raise ValueError(
                f"target_model.mode must be one of {TARGET_MODEL_MODES}, got {self.mode!r}"
            )
        if self.cell < 1 or self.template_side % self.cell or self.template_side < 8 * self.cell:
            raise ValueError(
                "target_model.template_side must be a multiple of target_model.cell and at "
                f"least 8 cells, got template_side={self.template_side}, cell={self.cell}"
            )
        if self.num_scales < 1 or self.num_scales % 2 == 0:
            raise ValueError(f"target_model.num_scales must be odd, got {self.num_scales}")
        positive = ("search_scale", "min_side", "label_sigma", "reg", "position_std_px")
        for name in positive:
            if getattr(self, name) <= 0:
                raise ValueError(f"target_model.{name} must be > 0, got {getattr(self, name)}")
        unit = ("learning_rate", "first_frame_share", "size_rate", "presence_ratio")
        unit += ("learn_ratio", "max_second_ratio", "scale_penalty")
        for name in unit:
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(
                    f"target_model.{name} must be in [0, 1], got {getattr(self, name)}"
                )
        if self.support_margin != 0 and self.support_margin < 1.0:
            raise ValueError(
                f"target_model.support_margin must be 0 (off) or >= 1, got {self.support_margin}"
            )
        if self.scale_step < 1.0 or self.max_area_ratio < 1.0:
            raise ValueError(
                "target_model.scale_step and target_model.max_area_ratio must be >= 1, got "
                f"{self.scale_step} and {self.max_area_ratio}"
            )
        if self.num_orientations < 2 or self.lost_search_frames < 0:
            raise ValueError(
                "target_model.num_orientations must be >= 2 and lost_search_frames >= 0, got "
                f"{self.num_orientations} and {self.lost_search_frames}"
            )


@dataclass
class ModelConfig:
    """The whole model; only ``build.py`` sees all of it."""

    name: str = "custom"  # preset name, stored with checkpoints
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    memory_attention: MemoryAttentionConfig = field(default_factory=MemoryAttentionConfig)
    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    heads: HeadsConfig = field(default_factory=HeadsConfig)
    mask_decoder: MaskDecoderConfig = field(default_factory=MaskDecoderConfig)
    memory_encoder: MemoryEncoderConfig = field(default_factory=MemoryEncoderConfig)
    memory_bank: MemoryBankConfig = field(default_factory=MemoryBankConfig)
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    search_window: SearchWindowConfig = field(default_factory=SearchWindowConfig)
    detection_tiles: DetectionTilesConfig = field(default_factory=DetectionTilesConfig)
    target_model: TargetModelConfig = field(default_factory=TargetModelConfig)

    def __post_init__(self) -> None:
        d_model = self.encoder.neck_dim
        for key, heads in (
            ("memory_attention.num_heads", self.memory_attention.num_heads),
            ("decoder.num_heads", self.decoder.num_heads),
            ("mask_decoder.num_heads", self.mask_decoder.num_heads),
        ):
            if d_model % heads:
                raise ValueError(f"{key} ({heads}) must divide encoder.neck_dim ({d_model})")
        if self.memory_encoder.mem_dim > d_model:
            raise ValueError(
                f"memory_encoder.mem_dim ({self.memory_encoder.mem_dim}) must be <= "
                f"encoder.neck_dim ({d_model})"
            )
        uses_classes = (
            self.memory_bank.static_memory_stride > 1 or self.search_window.static_side_factor < 1
        )
        if uses_classes and not self.tracker.classify_motion:
            raise ValueError(
                "memory_bank.static_memory_stride > 1 and search_window.static_side_factor < 1 "
                "act on objects classified static: set tracker.classify_motion: true, got "
                f"static_memory_stride={self.memory_bank.static_memory_stride}, "
                f"static_side_factor={self.search_window.static_side_factor}"
            )
        if d_model % self.memory_encoder.mem_dim:
            raise ValueError(
                f"encoder.neck_dim ({d_model}) must be a multiple of memory_encoder.mem_dim "
                f"({self.memory_encoder.mem_dim}): object pointers are split into mem_dim tokens"
            )

    @property
    def d_model(self) -> int:
        """Width shared by the neck, memory attention, DETR decoder and SAM 2 decoder."""
        return self.encoder.neck_dim


def _check_type(key: str, value: Any, annotation: Any) -> Any:
    """Return ``value`` converted to ``annotation`` or raise ``ValueError`` naming ``key``."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(annotation)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _check_type(key, value, option)
            except ValueError as err:
                errors.append(str(err))
        raise ValueError(errors[0])
    if origin is tuple:
        args = typing.get_args(annotation)
        if len(args) == 2 and args[1] is Ellipsis:  # tuple[X, ...]: any number of X
            if not isinstance(value, list | tuple):
                raise ValueError(f"config key {key!r} expects a list, got {value!r}")
            return tuple(_check_type(key, v, args[0]) for v in value)
        if not isinstance(value, list | tuple) or len(value) != len(args):
            raise ValueError(
                f"config key {key!r} expects a list of {len(args)} values, got {value!r}"
            )
        return tuple(_check_type(key, v, a) for v, a in zip(value, args, strict=True))
    if dataclasses.is_dataclass(annotation):
        if not isinstance(value, dict):
            raise ValueError(f"config key {key!r} expects a mapping, got {type(value).__name__}")
        return from_dict(annotation, value, prefix=f"{key}.")
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if annotation in (int, float, str, bool):
        if type(value) is not annotation:
            raise ValueError(
                f"config key {key!r} expects {annotation.__name__}, "
                f"got {type(value).__name__} {value!r}"
            )
        return value
    raise TypeError(f"unsupported config annotation {annotation!r} for {key!r}")


def from_dict(cls: type[T], data: dict[str, Any], prefix: str = "") -> T:
    """Build dataclass ``cls`` from a nested dict, validating keys and value types.

    Raises:
        ValueError: on an unknown key (named with its dotted path) or a value of the wrong type.
    """
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(
            f"unknown config key '{prefix}{unknown[0]}'; valid keys here: {sorted(names)}"
        )
    kwargs = {k: _check_type(f"{prefix}{k}", v, hints[k]) for k, v in data.items()}
    return cls(**kwargs)


def to_dict(cfg: Any) -> dict[str, Any]:
    """Serialize a config dataclass into plain YAML-friendly types (tuples become lists)."""

    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        return value

    return plain(dataclasses.asdict(cfg))


def available_configs() -> list[str]:
    """Names of the bundled presets in ``configs/``."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def resolve_config_path(name_or_path: str | Path) -> Path:
    """Map a preset name (``"tiny"``) or a YAML path to an existing file."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml"):
        if not path.is_file():
            raise FileNotFoundError(f"config file {str(path)!r} does not exist")
        return path
    preset = CONFIG_DIR / f"{name_or_path}.yaml"
    if not preset.is_file():
        raise FileNotFoundError(
            f"no config preset named {str(name_or_path)!r}; "
            f"available: {available_configs()} or a path to a .yaml file"
        )
    return preset


def read_yaml(path: Path) -> dict[str, Any]:
    """Read a YAML mapping, with a clear error for anything else."""
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold a YAML mapping, got {type(data).__name__}")
    return data


def load_config(name_or_path: str | Path) -> ModelConfig:
    """Load a :class:`ModelConfig` from a preset name or a YAML file.

    A YAML file may hold the model keys at top level or under a ``model:`` section (training
    configs keep ``train:`` beside it).
    """
    path = resolve_config_path(name_or_path)
    data = read_yaml(path)
    if "model" in data:
        data = data["model"]
    cfg = from_dict(ModelConfig, data)
    if cfg.name == "custom":
        cfg.name = path.stem
    return cfg
