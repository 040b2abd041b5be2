"""What the training loop remembers inside a clip: each tracked object's memories and the scene
(detection) tokens of earlier frames, as in-graph tensors read back the way the predictor's memory
bank reads its own (the same caps on conditioning frames, recent frames and object pointers).

Used by :mod:`sam2_enhanced.training.sequence` (training) and
:mod:`sam2_enhanced.training.validate` (validation runs the same loop without gradients).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from sam2_enhanced.config import MemoryBankConfig
from sam2_enhanced.modeling.sam2_base_enhanced import FrameMemory


@dataclass
class MemoryView:
    """One object's memory readout built from in-graph tensors (fits ``ObjectMemoryView``)."""

    features: Tensor  # (S, mem_dim, g, g)
    frame_offsets: Tensor  # (S,) long
    is_cond: Tensor  # (S,) bool
    obj_ptrs: Tensor  # (P, d)
    ptr_offsets: Tensor  # (P,) long
    det_tokens: Tensor  # (K, mem_dim)


@dataclass
class _Entry:
    frame_idx: int
    features: Tensor  # (mem_dim, g, g)
    obj_ptr: Tensor  # (d,)
    token: Tensor  # (1, mem_dim)
    visible: bool
    is_cond: bool


class ObjectHistory:
    """The memories one object made on earlier frames, read back as the memory bank would."""

    def __init__(self, *, max_cond_frames: int, max_recent_frames: int, max_obj_ptrs: int):
        self.max_cond_frames = max_cond_frames
        self.max_recent_frames = max_recent_frames
        self.max_obj_ptrs = max_obj_ptrs
        self.entries: list[_Entry] = []

    @classmethod
    def from_config(cls, cfg: MemoryBankConfig) -> ObjectHistory:
        return cls(
            max_cond_frames=cfg.max_cond_frames,
            max_recent_frames=cfg.max_recent_frames,
            max_obj_ptrs=cfg.max_obj_ptrs,
        )

    def add(self, frame_idx: int, memory: FrameMemory, row: int, is_cond: bool) -> None:
        """Store row ``row`` (this object) of a frame's memories."""
        self.entries.append(
            _Entry(
                frame_idx=frame_idx,
                features=memory.mask_features[row],
                obj_ptr=memory.obj_ptrs[row],
                token=memory.object_tokens[row],
                visible=bool(memory.object_visible[row]),
                is_cond=is_cond,
            )
        )

    def _kept(self) -> tuple[list[_Entry], list[_Entry], list[_Entry]]:
        """Conditioning memories, recent memories and pointer sources, oldest first."""
        cond = [e for e in self.entries if e.is_cond]
        if len(cond) > self.max_cond_frames:
            cond = (
                cond[-1:]
                if self.max_cond_frames == 1
                else [cond[0]] + cond[1 - self.max_cond_frames :]
            )
        others = [e for e in self.entries if not e.is_cond]
        recent = others[-self.max_recent_frames :] if self.max_recent_frames else []
        num_other_ptrs = max(self.max_obj_ptrs - len(cond), 0)
        ptr_sources = cond + (others[-num_other_ptrs:] if num_other_ptrs else [])
        return cond, recent, ptr_sources

    def readout(self, frame_idx: int) -> MemoryView | None:
        """Memory of the object as seen from ``frame_idx`` (None before its first memory)."""
        if not self.entries:
            return None
        cond, recent, ptr_sources = self._kept()
        spatial = cond + recent
        device = spatial[0].features.device
        frames = torch.tensor([e.frame_idx for e in spatial], device=device)
        ptr_frames = torch.tensor([e.frame_idx for e in ptr_sources], device=device)
        tokens = [e.token for e in spatial if e.visible]
        mem_dim = spatial[0].features.shape[0]
        return MemoryView(
            features=torch.stack([e.features for e in spatial]),
            frame_offsets=(frame_idx - frames).abs(),
            is_cond=torch.tensor([e.is_cond for e in spatial], device=device),
            obj_ptrs=torch.stack([e.obj_ptr for e in ptr_sources]),
            ptr_offsets=(frame_idx - ptr_frames).abs(),
            det_tokens=torch.cat(tokens) if tokens else spatial[0].features.new_zeros(0, mem_dim),
        )


class SceneHistory:
    """Scene (detection) tokens of the last ``num_frames`` frames, concatenated."""

    def __init__(self, num_frames: int) -> None:
        self.num_frames = num_frames
        self.tokens: list[Tensor] = []

    def add(self, scene_tokens: Tensor) -> None:
        self.tokens = (self.tokens + [scene_tokens])[-self.num_frames :] if self.num_frames else []

    def read(self) -> Tensor | None:
        """(K, mem_dim) tokens, or None before the first frame."""
        return torch.cat(self.tokens) if self.tokens else None
