"""Predictor state: one :class:`VideoState` per video, bounded whatever the video's length.

The state holds the frame source (frames are decoded lazily), a tiny cache of frames at model
resolution, the user's prompts and the outputs on prompted frames, the memory bank, the detection
tracker and the references that significance signals compare against. Per-frame outputs of
tracked (unprompted) frames are never kept: they are yielded and dropped.
"""

from __future__ import annotations

from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import cv2
import numpy as np
import supervision as sv
import torch
from torch import Tensor

from sam2_enhanced.data.frames import FrameSource
from sam2_enhanced.modeling.dinov2_encoder import EncoderOutput
from sam2_enhanced.modeling.memory_bank import MemoryBank
from sam2_enhanced.modeling.motion_branch import neighbour_of
from sam2_enhanced.modeling.motion_class import MotionClassifier
from sam2_enhanced.modeling.search_window import ObjectMotion
from sam2_enhanced.predictor.target_tracking import ObjectTarget
from sam2_enhanced.predictor.tracking import DetectionTracker

Output = tuple[int, list[int], Tensor, sv.Detections]
"""What every mask-returning predictor call returns: (frame_idx, obj_ids, masks (O, 1, H, W)
float32 logits at video resolution, detections)."""

SIGNIFICANCE_FRAME_SIDE = 64  # frames are compared at this size by frame significance signals
# class_id of a prompted object no detection has matched yet: not a class index (the predictor's
# ``names`` maps it to "object"; never index a list of class names with it)
UNKNOWN_CLASS_ID = -1


def tensor_bytes(*tensors: Tensor | None) -> int:
    """Bytes held by the given tensors (None ignored)."""
    return sum(t.numel() * t.element_size() for t in tensors if t is not None)


class FrameLoader:
    """Frames at model resolution, on demand, with a small cache and optional prefetching.

    Frames are squashed to ``image_size x image_size`` (as SAM 2 does) and kept as float RGB in
    [0, 1]. At most ``cache_size`` frames are held; with ``async_loading`` the next frame in the
    propagation direction is decoded in a background thread while the current one is processed.
    With ``keep_raw`` each cached frame also keeps its (3, H, W) uint8 original, which search
    windows are cropped from.
    """

    def __init__(
        self,
        source: FrameSource,
        *,
        image_size: int,
        device: torch.device,
        async_loading: bool,
        cache_size: int = 2,
        keep_raw: bool = False,
    ) -> None:
        self.source = source
        self.image_size = image_size
        self.device = device
        self.cache_size = cache_size
        self.keep_raw = keep_raw
        self.cache: OrderedDict[int, tuple[Tensor, Tensor | None]] = OrderedDict()
        self.executor = ThreadPoolExecutor(max_workers=1) if async_loading else None
        self.pending: dict[int, Future] = {}

    def load(self, idx: int) -> tuple[Tensor, Tensor | None]:
        """Decode frame ``idx`` -> (1, 3, S, S) float in [0, 1] on ``device``, and the
        (3, H, W) uint8 original when ``keep_raw`` (else None)."""
        frame = self.source.get(idx)  # (H, W, 3) uint8
        side = self.image_size
        shrink = frame.shape[0] > side or frame.shape[1] > side
        interpolation = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
        resized = cv2.resize(frame, (side, side), interpolation=interpolation)
        tensor = torch.from_numpy(resized).permute(2, 0, 1)[None].float() / 255.0  # (1, 3, S, S)
        raw = torch.from_numpy(frame).permute(2, 0, 1) if self.keep_raw else None  # (3, H, W)
        return tensor.to(self.device), raw

    def entry(self, idx: int, prefetch: int | None = None) -> tuple[Tensor, Tensor | None]:
        """Frame ``idx`` at model resolution and its original; optionally start decoding frame
        ``prefetch``."""
        if idx in self.cache:
            self.cache.move_to_end(idx)
            frame = self.cache[idx]
        elif idx in self.pending:
            frame = self.pending.pop(idx).result()
        else:
            frame = self.load(idx)
        self.cache[idx] = frame
        while len(self.cache) > self.cache_size:
            self.cache.popitem(last=False)
        if self.should_prefetch(prefetch):
            self.pending = {prefetch: self.executor.submit(self.load, prefetch)}
        return frame

    def get(self, idx: int, prefetch: int | None = None) -> Tensor:
        """Frame ``idx`` at model resolution (1, 3, S, S); see :meth:`entry`."""
        return self.entry(idx, prefetch)[0]

    def raw(self, idx: int) -> Tensor:
        """Frame ``idx``'s (3, H, W) uint8 original (``keep_raw`` loaders only)."""
        if not self.keep_raw:
            raise ValueError("this loader does not keep original frames (keep_raw=False)")
        return self.entry(idx)[1]

    def should_prefetch(self, idx: int | None) -> bool:
        """Prefetching is on and ``idx`` is a real frame not yet loaded or loading."""
        if self.executor is None or idx is None or idx < 0 or self.source.is_live:
            return False
        num_frames = self.source.num_frames
        in_range = num_frames is None or idx < num_frames
        return in_range and idx not in self.cache and idx not in self.pending

    def num_bytes(self) -> int:
        """Bytes of the cached model-resolution frames."""
        return tensor_bytes(*(t for pair in self.cache.values() for t in pair))

    def clear(self) -> None:
        self.cache.clear()
        self.pending.clear()


@dataclass
class FramePrompt:
    """An object's prompts on one frame, in model-input pixels."""

    point_coords: Tensor  # (P, 2) x, y in model-input pixels of the window; box corners first
    point_labels: Tensor  # (P,) int32 (labels 2, 3: box corners)
    window_xyxy: Tensor  # (4,) the object's window on this frame, video pixels
    video_coords: Tensor  # (P, 2) the same points in video pixels
    mask: Tensor | None = None  # (1, m, m) float in [0, 1] over the window


@dataclass
class FrameResult:
    """What is kept of one object's output on one frame."""

    mask_logits: Tensor  # (1, m, m) low-resolution mask logits over ``window_xyxy``
    object_score_logits: Tensor  # (1,) > 0 when visible
    window_xyxy: Tensor  # (4,) the window the logits cover, video pixels (CPU)
    box_xyxy: Tensor | None = None  # (4,) video-pixel box of the mask (CPU), None when empty
    reported_box_xyxy: Tensor | None = None  # (4,) the box its detection row reports instead
    # of the mask's (the online target model's, which places and sizes the object)


@dataclass
class ObjectState:
    """One user-prompted object."""

    obj_id: int
    prompts: dict[int, FramePrompt] = field(default_factory=dict)  # frame_idx -> prompt
    cond_results: dict[int, FrameResult] = field(default_factory=dict)  # prompted frames' outputs
    last_result: tuple[int, FrameResult] | None = None  # newest tracked frame's output
    last_memory: Tensor | None = None  # (mem_dim, g, g) newest memory, for feature significance
    class_id: int = UNKNOWN_CLASS_ID  # class of the last detection matched to the object
    embedding: np.ndarray | None = None  # (D,) that detection's query state (re-detection)
    motion: ObjectMotion | None = None  # last box and velocity: where its next window goes
    motion_class: str = "unknown"  # static / dynamic / unknown (tracker.classify_motion)
    memory_frame: int | None = None  # the newest frame whose memory went to the bank
    target: ObjectTarget | None = None  # online target model (target_model.mode != "network")

    def num_bytes(self) -> int:
        held = [t for p in self.prompts.values() for t in (p.point_coords, p.point_labels, p.mask)]
        held += [
            t for r in self.cond_results.values() for t in (r.mask_logits, r.object_score_logits)
        ]
        if self.last_result is not None:
            held += [self.last_result[1].mask_logits, self.last_result[1].object_score_logits]
        embedding_bytes = 0 if self.embedding is None else self.embedding.nbytes
        return tensor_bytes(*held, self.last_memory) + embedding_bytes


@dataclass
class VideoState:
    """Everything the predictor keeps about one video (SAM 2's ``inference_state``)."""

    frames: FrameSource
    loader: FrameLoader
    video_height: int
    video_width: int
    bank: MemoryBank
    tracker: DetectionTracker
    device: torch.device
    offload_state_to_cpu: bool
    objects: dict[int, ObjectState] = field(default_factory=dict)  # obj_id -> object, in order
    cond_detections: dict[int, sv.Detections] = field(default_factory=dict)  # prompted frames
    last_frame_small: np.ndarray | None = None  # (64, 64, 3) uint8, frame significance reference
    features: tuple[int, EncoderOutput] | None = None  # newest frame's encoder output (reused)
    frames_tracked: int = 0  # frames yielded by propagate_in_video since the last reset
    motion_classifier: MotionClassifier | None = None  # tracker.classify_motion: static/dynamic

    @property
    def num_frames(self) -> int | None:
        """Frames in the video (None for a live stream)."""
        return self.frames.num_frames

    def neighbour_frame(self, frame_idx: int) -> int | None:
        """The frame a motion branch compares ``frame_idx`` with: the one before it; for frame
        0 the one after it (None on a live stream or a one-frame video: no motion)."""
        return neighbour_of(frame_idx, self.num_frames)  # a live stream's num_frames is None

    @property
    def obj_ids(self) -> list[int]:
        """Object ids in the order they were added (SAM 2's ``obj_ids``)."""
        return list(self.objects)

    @property
    def storage_device(self) -> torch.device:
        """Where kept outputs live (CPU when ``offload_state_to_cpu``)."""
        return torch.device("cpu") if self.offload_state_to_cpu else self.device

    def feature_bytes(self) -> int:
        """Bytes of the cached encoder output."""
        if self.features is None:
            return 0
        out = self.features[1]
        motion = () if out.motion is None else (out.motion,)
        return tensor_bytes(out.features, out.pos, out.fpn_s1, out.fpn_s0, *motion)

    def prompted_frames(self) -> list[int]:
        """Sorted frames holding a prompt of any object."""
        return sorted({t for obj in self.objects.values() for t in obj.prompts})

    def small_frame(self, frame: Tensor) -> np.ndarray:
        """(1, 3, S, S) model frame -> (64, 64, 3) uint8 for frame significance signals."""
        side = SIGNIFICANCE_FRAME_SIDE
        small = torch.nn.functional.interpolate(frame.float(), size=(side, side), mode="area")
        return (small[0].permute(1, 2, 0).clamp(0, 1) * 255).byte().cpu().numpy()
