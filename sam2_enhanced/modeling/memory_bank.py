"""Per-object memory bank with bounded size: prompted frames, recent frames, keyframes, pointers.

For each object the bank keeps

- the conditioning store: memories of prompted frames, at most ``max_cond_frames``; when full
  the oldest is evicted except the first prompted frame (with ``max_cond_frames == 1`` the
  newest prompt replaces the old one);
- the recent FIFO: the last ``max_recent_frames`` non-conditioning memories; a memory pushed out
  becomes a keyframe candidate judged by the keyframe policy on its significance (a memory
  without a score is never a candidate);
- the long-term store (off when ``max_longterm_frames`` is 0): the newest memories that left
  the FIFO with the object visible, at most ``max_longterm_frames``. While the object is hidden
  or gone, the FIFO fills with memories of an empty window, but these survive, so the object's
  look from just before it vanished is still there when it comes back. A memory leaving the
  store (or an invisible one leaving the FIFO) becomes the keyframe candidate;
- the keyframe buffer: at most ``max_keyframes`` admitted candidates, the policy says which to
  evict;
- object pointers: pointers of the stored conditioning frames always, and the most recently
  added other pointers up to ``max_obj_ptrs`` pointers in all.

Plus a scene memory for the object-agnostic detector: detection tokens of the last
``num_scene_frames`` frames. Memories go through a :class:`MemoryCompressor`; pointers and
detection tokens are stored in its ``storage_dtype``. Reads return float32. Frames are ordered
by insertion, so reverse propagation works unchanged. Nothing is detached.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import torch
from torch import Tensor

from sam2_enhanced.config import MemoryBankConfig
from sam2_enhanced.modeling.memory_compression import (
    CompressedMemory,
    MemoryCompressor,
    owned_copy,
)
from sam2_enhanced.modeling.memory_items import MemoryItem, MemoryReadout, check_index
from sam2_enhanced.modeling.significance import KeyframePolicy, build_keyframe_policy

logger = logging.getLogger(__name__)


@dataclass
class _StoredMemory:
    frame_idx: int
    memory: CompressedMemory
    det_tokens: Tensor  # (K, C_mem), storage dtype
    significance: float | None
    visible: bool  # the object was seen on this frame

    @property
    def num_bytes(self) -> int:
        return self.memory.num_bytes + self.det_tokens.nbytes


@dataclass
class _StoredPointer:
    frame_idx: int
    obj_ptr: Tensor  # (C,), storage dtype
    is_cond: bool


@dataclass
class _ObjectMemory:
    """All memory of one object; dicts keep insertion order (oldest first)."""

    policy: KeyframePolicy  # this object's own policy (stateful policies keep history)
    features_shape: tuple[int, int, int]  # (C_mem, h, w) of every memory of this object
    ptr_dim: int  # C of every pointer of this object
    device: torch.device  # where this object's tensors live
    cond: dict[int, _StoredMemory] = field(default_factory=dict)
    recent: dict[int, _StoredMemory] = field(default_factory=dict)
    longterm: dict[int, _StoredMemory] = field(default_factory=dict)
    keys: list[_StoredMemory] = field(default_factory=list)
    ptrs: dict[int, _StoredPointer] = field(default_factory=dict)

    def memories(self) -> list[_StoredMemory]:
        """Conditioning memories (insertion order), then the others by frame index."""
        others = [*self.keys, *self.longterm.values(), *self.recent.values()]
        others.sort(key=lambda m: m.frame_idx)
        return [*self.cond.values(), *others]

    def drop_frame(self, frame_idx: int) -> None:
        self.cond.pop(frame_idx, None)
        self.recent.pop(frame_idx, None)
        self.longterm.pop(frame_idx, None)
        self.keys = [m for m in self.keys if m.frame_idx != frame_idx]
        self.ptrs.pop(frame_idx, None)

    def drop_tracking(self) -> None:
        """Forget everything but the prompted frames' memories and pointers."""
        self.recent.clear()
        self.longterm.clear()
        self.keys.clear()
        self.ptrs = {f: p for f, p in self.ptrs.items() if p.is_cond}
        self.policy = self.policy.fresh()

    def is_empty(self) -> bool:
        return not (self.cond or self.recent or self.longterm or self.keys or self.ptrs)


class MemoryBank:
    """Bounded per-object memory (see the module docstring for the policy).

    Args:
        max_cond_frames: prompted frames kept per object (>= 1).
        max_recent_frames: most recent non-prompted frames kept per object (>= 0).
        max_keyframes: significant frames kept per object (>= 0; 0 disables keyframes).
        keyframe_policy: template policy; each object gets its own ``keyframe_policy.fresh()``.
        max_obj_ptrs: object pointers kept per object (>= 0); prompted frames' pointers are
            always kept.
        compressor: how memories are stored.
        num_scene_frames: frames of detection tokens kept for the detector (>= 0).
        max_longterm_frames: newest memories with the object visible kept after they left the
            FIFO (>= 0; 0 disables the long-term store).
    """

    def __init__(
        self,
        *,
        max_cond_frames: int,
        max_recent_frames: int,
        max_keyframes: int,
        keyframe_policy: KeyframePolicy,
        max_obj_ptrs: int,
        compressor: MemoryCompressor,
        num_scene_frames: int,
        max_longterm_frames: int = 0,
    ):
        limits = {
            "max_cond_frames": (max_cond_frames, 1),
            "max_recent_frames": (max_recent_frames, 0),
            "max_keyframes": (max_keyframes, 0),
            "max_obj_ptrs": (max_obj_ptrs, 0),
            "num_scene_frames": (num_scene_frames, 0),
            "max_longterm_frames": (max_longterm_frames, 0),
        }
        for name, (value, minimum) in limits.items():
            if check_index(name, value) < minimum:
                raise ValueError(f"{name} must be >= {minimum}, got {value}")
        if not isinstance(keyframe_policy, KeyframePolicy):
            raise TypeError(f"keyframe_policy must be a KeyframePolicy, got {keyframe_policy!r}")
        if not isinstance(compressor, MemoryCompressor):
            raise TypeError(f"compressor must be a MemoryCompressor, got {compressor!r}")
        self.max_cond_frames = max_cond_frames
        self.max_recent_frames = max_recent_frames
        self.max_keyframes = max_keyframes
        self.keyframe_policy = keyframe_policy
        self.max_obj_ptrs = max_obj_ptrs
        self.compressor = compressor
        self.num_scene_frames = num_scene_frames
        self.max_longterm_frames = max_longterm_frames
        self._objects: dict[int, _ObjectMemory] = {}
        self._scene: dict[int, Tensor] = {}  # frame_idx -> (K, C_mem) tokens, insertion order

    @classmethod
    def from_config(cls, cfg: MemoryBankConfig) -> MemoryBank:
        """Build the bank described by ``cfg`` (``cfg.significance`` is the model's concern)."""
        compressor = MemoryCompressor(
            spatial_downsample=cfg.spatial_downsample,
            channel_rank=cfg.channel_rank,
            storage_dtype=getattr(torch, cfg.storage_dtype),
        )
        return cls(
            max_cond_frames=cfg.max_cond_frames,
            max_recent_frames=cfg.max_recent_frames,
            max_keyframes=cfg.max_keyframes,
            keyframe_policy=build_keyframe_policy(cfg.keyframe_policy, cfg.keyframe_threshold),
            max_obj_ptrs=cfg.max_obj_ptrs,
            compressor=compressor,
            num_scene_frames=cfg.num_scene_frames,
            max_longterm_frames=cfg.max_longterm_frames,
        )

    def add(self, obj_id: int, item: MemoryItem) -> None:
        """Store ``item`` for ``obj_id``, replacing any memory of the same frame.

        Raises:
            TypeError / ValueError: on a bad ``obj_id`` or an item inconsistent with the
                object's earlier items; the bank is then left unchanged.
        """
        obj_id = check_index("obj_id", obj_id)
        if not isinstance(item, MemoryItem):
            raise TypeError(f"item must be a MemoryItem, got {type(item).__name__}")
        obj = self._objects.get(obj_id)
        if obj is not None:
            self._check_consistent(obj_id, obj, item)
        dtype = self.compressor.storage_dtype
        stored = _StoredMemory(
            frame_idx=item.frame_idx,
            memory=self.compressor.compress(item.features),
            det_tokens=owned_copy(item.det_tokens, dtype),
            significance=item.significance,
            visible=item.visible,
        )
        pointer = _StoredPointer(item.frame_idx, owned_copy(item.obj_ptr, dtype), item.is_cond)
        # Validation and compression are done: from here on nothing raises on user input.
        if obj is None:
            obj = _ObjectMemory(
                policy=self.keyframe_policy.fresh(),
                features_shape=tuple(item.features.shape),
                ptr_dim=item.obj_ptr.shape[0],
                device=item.features.device,
            )
            self._objects[obj_id] = obj
        if item.is_cond and item.frame_idx in obj.cond:
            obj.cond[item.frame_idx] = stored  # replaced in place: the first prompt stays first
        else:
            obj.drop_frame(item.frame_idx)
            if item.is_cond:
                self._add_cond(obj, stored)
            else:
                self._add_recent(obj, stored)
        obj.ptrs[item.frame_idx] = pointer
        self._prune_pointers(obj)

    def _check_consistent(self, obj_id: int, obj: _ObjectMemory, item: MemoryItem) -> None:
        restart = f"; call remove_object({obj_id}) to start the object over"
        if tuple(item.features.shape) != obj.features_shape:
            raise ValueError(
                f"features of object {obj_id} must be {obj.features_shape} (C_mem, h, w) like its "
                f"earlier memories, got {tuple(item.features.shape)}{restart}"
            )
        if item.obj_ptr.shape[0] != obj.ptr_dim:
            raise ValueError(
                f"obj_ptr of object {obj_id} must be ({obj.ptr_dim},) like its earlier pointers, "
                f"got {tuple(item.obj_ptr.shape)}{restart}"
            )
        if item.features.device != obj.device:
            raise ValueError(
                f"memories of object {obj_id} live on {obj.device}, got an item on "
                f"{item.features.device}; move it with .to({str(obj.device)!r})"
            )

    def _add_cond(self, obj: _ObjectMemory, stored: _StoredMemory) -> None:
        obj.cond[stored.frame_idx] = stored
        if len(obj.cond) > self.max_cond_frames:
            frames = list(obj.cond)
            evicted = frames[1] if self.max_cond_frames > 1 else frames[0]
            del obj.cond[evicted]
            obj.ptrs.pop(evicted, None)  # a prompted frame's pointer leaves with its memory
            logger.debug("evicted conditioning frame %d", evicted)

    def _add_recent(self, obj: _ObjectMemory, stored: _StoredMemory) -> None:
        obj.recent[stored.frame_idx] = stored
        while len(obj.recent) > self.max_recent_frames:
            oldest = next(iter(obj.recent))
            self._retire(obj, obj.recent.pop(oldest))

    def _retire(self, obj: _ObjectMemory, memory: _StoredMemory) -> None:
        """A memory leaving the FIFO: a visible one enters the long-term store, and the memory
        left over (the store's oldest, or this one) is judged as a keyframe candidate."""
        if self.max_longterm_frames > 0 and memory.visible:
            obj.longterm[memory.frame_idx] = memory
            if len(obj.longterm) <= self.max_longterm_frames:
                return
            memory = obj.longterm.pop(next(iter(obj.longterm)))
        self._judge_candidate(obj, memory)

    def _judge_candidate(self, obj: _ObjectMemory, candidate: _StoredMemory) -> None:
        """Admit a memory leaving the FIFO into the keyframe buffer, or drop it."""
        if self.max_keyframes == 0 or candidate.significance is None:
            return
        kept_scores = [m.significance for m in obj.keys]
        decision = obj.policy.decide(candidate.significance, kept_scores, self.max_keyframes)
        if not decision.admit:
            return
        if decision.evict_index is not None:
            del obj.keys[decision.evict_index]
        if len(obj.keys) >= self.max_keyframes:
            raise RuntimeError(
                f"{type(obj.policy).__name__} admitted a keyframe into a full buffer of "
                f"{self.max_keyframes} without naming one to evict"
            )
        obj.keys.append(candidate)

    def _prune_pointers(self, obj: _ObjectMemory) -> None:
        """Keep prompted frames' pointers and the newest others, ``max_obj_ptrs`` in all."""
        others = [f for f, p in obj.ptrs.items() if not p.is_cond]
        num_cond = len(obj.ptrs) - len(others)
        num_others_kept = max(self.max_obj_ptrs - num_cond, 0)
        for frame_idx in others[: max(len(others) - num_others_kept, 0)]:
            del obj.ptrs[frame_idx]

    def read(self, obj_id: int, frame_idx: int) -> MemoryReadout | None:
        """Everything kept for ``obj_id``, as seen from ``frame_idx``; None without memory."""
        obj_id = check_index("obj_id", obj_id)
        frame_idx = check_index("frame_idx", frame_idx)
        if frame_idx < 0:
            raise ValueError(f"frame_idx must be >= 0, got {frame_idx}")
        if not self.has_memory(obj_id):
            return None
        obj = self._objects[obj_id]
        device, (mem_dim, height, width) = obj.device, obj.features_shape
        memories = obj.memories()
        pointers = sorted(obj.ptrs.values(), key=lambda p: (not p.is_cond, p.frame_idx))
        features = [self.compressor.decompress(m.memory) for m in memories]
        mem_frames = torch.tensor([m.frame_idx for m in memories], dtype=torch.long, device=device)
        ptr_frames = torch.tensor([p.frame_idx for p in pointers], dtype=torch.long, device=device)
        det_tokens = [m.det_tokens.float() for m in memories]
        obj_ptrs = [p.obj_ptr.float() for p in pointers]
        empty = torch.zeros(0, device=device)
        return MemoryReadout(
            features=torch.stack(features) if features else empty.view(0, mem_dim, height, width),
            frame_offsets=(frame_idx - mem_frames).abs(),
            is_cond=torch.tensor(
                [m.frame_idx in obj.cond for m in memories], dtype=torch.bool, device=device
            ),
            obj_ptrs=torch.stack(obj_ptrs) if obj_ptrs else empty.view(0, obj.ptr_dim),
            ptr_offsets=(frame_idx - ptr_frames).abs(),
            det_tokens=torch.cat(det_tokens) if det_tokens else empty.view(0, mem_dim),
            frame_indices=mem_frames,
            ptr_frame_indices=ptr_frames,
        )

    def has_memory(self, obj_id: int) -> bool:
        """Whether ``obj_id`` has any stored memory or pointer."""
        obj = self._objects.get(check_index("obj_id", obj_id))
        return obj is not None and not obj.is_empty()

    def remove_object(self, obj_id: int) -> None:
        """Forget ``obj_id`` (no-op for an unknown id)."""
        self._objects.pop(check_index("obj_id", obj_id), None)

    def clear_frame(self, obj_id: int, frame_idx: int) -> None:
        """Drop the memory and pointer ``obj_id`` has at ``frame_idx`` (e.g. before re-prompting).

        The object's keyframe-policy history is kept; a no-op for an unknown object or frame.
        """
        obj_id = check_index("obj_id", obj_id)
        frame_idx = check_index("frame_idx", frame_idx)
        obj = self._objects.get(obj_id)
        if obj is not None:
            obj.drop_frame(frame_idx)

    def clear_tracking(self, obj_id: int) -> None:
        """Drop ``obj_id``'s tracked (unprompted) memories and pointers, keeping its prompted
        frames, so that a new propagation starts from the prompts (no-op for an unknown id)."""
        obj = self._objects.get(check_index("obj_id", obj_id))
        if obj is not None:
            obj.drop_tracking()

    def clear_scene(self) -> None:
        """Forget the detector's scene memory."""
        self._scene.clear()

    def clear(self) -> None:
        """Forget every object and the scene memory."""
        self._objects.clear()
        self._scene.clear()

    def object_ids(self) -> list[int]:
        """Ids of the objects with memory, in the order they were first added."""
        return [obj_id for obj_id in self._objects if self.has_memory(obj_id)]

    def counts(self, obj_id: int) -> dict[str, int]:
        """How many memories and pointers ``obj_id`` holds (all 0 for an unknown id)."""
        obj = self._objects.get(check_index("obj_id", obj_id))
        if obj is None:
            return {"cond": 0, "recent": 0, "longterm": 0, "key": 0, "ptrs": 0}
        return {
            "cond": len(obj.cond),
            "recent": len(obj.recent),
            "longterm": len(obj.longterm),
            "key": len(obj.keys),
            "ptrs": len(obj.ptrs),
        }

    def num_bytes(self, obj_id: int | None = None) -> int:
        """Exact bytes of stored tensors: of ``obj_id``, or of everything (scene included)."""
        if obj_id is None:
            scene = sum(t.nbytes for t in self._scene.values())
            return scene + sum(self.num_bytes(i) for i in self._objects)
        obj = self._objects.get(check_index("obj_id", obj_id))
        if obj is None:
            return 0
        memories = sum(m.num_bytes for m in obj.memories())
        return memories + sum(p.obj_ptr.nbytes for p in obj.ptrs.values())

    def add_scene(self, frame_idx: int, det_tokens: Tensor) -> None:
        """Keep the detection tokens ``(K, C_mem)`` of ``frame_idx`` for the detector."""
        frame_idx = check_index("frame_idx", frame_idx)
        if frame_idx < 0:
            raise ValueError(f"frame_idx must be >= 0, got {frame_idx}")
        if not isinstance(det_tokens, Tensor) or not det_tokens.is_floating_point():
            raise TypeError(f"det_tokens must be a floating torch tensor, got {det_tokens!r:.80}")
        if det_tokens.ndim != 2:
            raise ValueError(f"det_tokens must be (K, C_mem), got shape {tuple(det_tokens.shape)}")
        if self._scene:
            earlier = next(iter(self._scene.values()))
            if det_tokens.shape[1] != earlier.shape[1] or det_tokens.device != earlier.device:
                raise ValueError(
                    f"scene det_tokens must be (K, {earlier.shape[1]}) on {earlier.device} like "
                    f"earlier frames, got {tuple(det_tokens.shape)} on {det_tokens.device}"
                )
        if self.num_scene_frames == 0:
            return
        self._scene.pop(frame_idx, None)
        self._scene[frame_idx] = owned_copy(det_tokens, self.compressor.storage_dtype)
        while len(self._scene) > self.num_scene_frames:
            del self._scene[next(iter(self._scene))]

    def read_scene(self) -> Tensor | None:
        """Detection tokens ``(K_total, C_mem)`` float32 of the kept frames; None when empty."""
        if not self._scene:
            return None
        return torch.cat([t.float() for t in self._scene.values()])  # (K_total, C_mem)
