"""What goes into the memory bank and what comes out: :class:`MemoryItem` (one object's memory
of one frame, validated on creation) and :class:`MemoryReadout` (everything kept for an object,
ready for memory attention)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real

from torch import Tensor


def check_index(name: str, value: object) -> int:
    """An int (Python or numpy/torch integer scalar, not bool) or a TypeError."""
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    return int(value.__index__())


@dataclass
class MemoryItem:
    """What the model hands to the bank for one object and one frame."""

    frame_idx: int  # video frame index (>= 0)
    features: Tensor  # (C_mem, h, w) mask memory from the memory encoder, floating
    obj_ptr: Tensor  # (C,) object pointer
    det_tokens: Tensor  # (K, C_mem) detection memory tokens of this object/frame, K may be 0
    is_cond: bool  # the frame carried a user prompt (conditioning frame)
    significance: float | None  # score from significance.py; None: never a keyframe candidate
    visible: bool = True  # the object was seen on this frame (only such memories go long-term)

    def __post_init__(self) -> None:
        self.frame_idx = check_index("frame_idx", self.frame_idx)
        if self.frame_idx < 0:
            raise ValueError(f"frame_idx must be >= 0, got {self.frame_idx}")
        for name in ("features", "obj_ptr", "det_tokens"):
            value = getattr(self, name)
            if not isinstance(value, Tensor) or not value.is_floating_point():
                raise TypeError(f"{name} must be a floating torch tensor, got {value!r:.80}")
        if self.features.ndim != 3 or min(self.features.shape) < 1:
            raise ValueError(
                f"features must be a non-empty (C_mem, h, w) tensor, got shape "
                f"{tuple(self.features.shape)}"
            )
        if self.obj_ptr.ndim != 1 or self.obj_ptr.shape[0] < 1:
            raise ValueError(f"obj_ptr must be (C,), got shape {tuple(self.obj_ptr.shape)}")
        if self.det_tokens.ndim != 2 or self.det_tokens.shape[1] != self.features.shape[0]:
            raise ValueError(
                f"det_tokens must be (K, C_mem) with C_mem = {self.features.shape[0]} like "
                f"features, got shape {tuple(self.det_tokens.shape)}; use an empty "
                f"(0, {self.features.shape[0]}) tensor for no tokens"
            )
        for name in ("obj_ptr", "det_tokens"):
            if getattr(self, name).device != self.features.device:
                raise ValueError(
                    f"{name} is on {getattr(self, name).device} but features on "
                    f"{self.features.device}; move all tensors of an item to one device"
                )
        for name in ("is_cond", "visible"):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be a bool, got {getattr(self, name)!r}")
        if self.significance is not None:
            if isinstance(self.significance, bool) or not isinstance(self.significance, Real):
                raise TypeError(f"significance must be a float or None, got {self.significance!r}")
            if not math.isfinite(self.significance) or self.significance < 0:
                raise ValueError(
                    f"significance must be a finite float >= 0 or None, got {self.significance}"
                )
            self.significance = float(self.significance)


@dataclass
class MemoryReadout:
    """What the model reads back for one object: S memories, P pointers."""

    features: Tensor  # (S, C_mem, h, w) float32, at the stored items' original h, w
    frame_offsets: Tensor  # (S,) long, |current frame - memory frame|
    is_cond: Tensor  # (S,) bool
    obj_ptrs: Tensor  # (P, C) float32
    ptr_offsets: Tensor  # (P,) long, |current frame - pointer frame|
    det_tokens: Tensor  # (K_total, C_mem) float32, det tokens of all kept memories of the object
    frame_indices: Tensor  # (S,) long, frame of each memory
    ptr_frame_indices: Tensor  # (P,) long, frame of each pointer
