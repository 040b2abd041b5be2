"""A PyTorch dataset of synthetic clips and a collate function that pads objects.

Item ``i`` of ``SyntheticClipDataset(num_videos, clip_len, cfg, seed_offset)`` is the synthetic
video with seed ``seed_offset + i``. The seeds come from one of the named splits of
:mod:`sam2_enhanced.data.splits` (training, validation, test); the dataset refuses a seed range
that crosses a split boundary, so training never sees a validation or test video.
"""

from __future__ import annotations

import dataclasses
import numbers
from dataclasses import dataclass

import torch
from torch.utils.data import Dataset

from sam2_enhanced.data.splits import SPLIT_SEEDS, split_of_seeds
from sam2_enhanced.data.synthetic import SyntheticVideoConfig, generate_video

CLASS_PAD = -1
"""``class_ids`` / ``track_ids`` value of padded object slots in a :class:`ClipBatch`."""


@dataclass
class ClipSample:
    """One synthetic clip as tensors (T frames, O objects)."""

    frames: torch.Tensor  # (T, 3, H, W) float32 RGB in [0, 1]
    boxes_xyxy: torch.Tensor  # (T, O, 4) float32 pixels, tight box of the visible mask, 0 if hidden
    masks: torch.Tensor  # (T, O, H, W) float32 {0, 1} visible pixels
    visibility: torch.Tensor  # (T, O) float32 visible fraction in [0, 1]
    class_ids: torch.Tensor  # (O,) int64 in 0..NUM_CLASSES-1
    track_ids: torch.Tensor  # (O,) int64 1..O
    seed: int  # the video's seed
    trackable: torch.Tensor | None = None  # (O,) bool objects that may be prompted (None: all)
    windows_xyxy: torch.Tensor | None = None  # (T, 4) video pixels each frame was cut from
    # (search-window clips; None: frames are whole video frames)
    context_xyxy: torch.Tensor | None = None  # (T, 4) video pixels the frames were cut from when
    # larger than their windows (drift training: the window is cut from them during the step)
    video_hw: tuple[int, int] | None = None  # (H, W) of the video the windows were cut from
    box_only: bool = False  # masks are filled boxes (box-annotated real video), not true masks
    exhaustive: bool = True  # every object on the frames is labelled (False: only the target
    # is, as in real single-object video; the detection set loss is skipped for the clip)


@dataclass
class ClipBatch:
    """Clips stacked along B, objects padded to the largest count O in the batch.

    Padded object slots have ``valid`` False, zero boxes / masks / visibility and
    ``class_ids`` / ``track_ids`` equal to :data:`CLASS_PAD` (-1).
    """

    frames: torch.Tensor  # (B, T, 3, H, W) float32 in [0, 1]
    boxes_xyxy: torch.Tensor  # (B, T, O, 4) float32 pixels
    masks: torch.Tensor  # (B, T, O, H, W) float32 {0, 1}
    visibility: torch.Tensor  # (B, T, O) float32
    class_ids: torch.Tensor  # (B, O) int64, CLASS_PAD where not valid
    track_ids: torch.Tensor  # (B, O) int64, CLASS_PAD where not valid
    valid: torch.Tensor  # (B, O) bool, True for real objects
    seeds: list[int]  # (B,) video seeds
    trackable: torch.Tensor  # (B, O) bool, objects that may be prompted and tracked
    windows_xyxy: torch.Tensor | None = None  # (B, T, 4) windows of search-window clips
    context_xyxy: torch.Tensor | None = None  # (B, T, 4) regions frames were cut from (None:
    # the windows themselves)
    video_hw: torch.Tensor | None = None  # (B, 2) int64 video sizes of search-window clips
    box_only: torch.Tensor | None = None  # (B,) bool, clip's masks are filled boxes (None: all
    # False)
    exhaustive: torch.Tensor | None = None  # (B,) bool, every object labelled (None: all True)

    def to(self, device: torch.device | str) -> ClipBatch:
        """A copy with every tensor moved to ``device``."""
        moved = {
            field.name: getattr(self, field.name).to(device)
            for field in dataclasses.fields(self)
            if isinstance(getattr(self, field.name), torch.Tensor)
        }
        return dataclasses.replace(self, **moved)


class SyntheticClipDataset(Dataset):
    """Deterministic synthetic clips: item ``i`` is the video with seed ``seed_offset + i``.

    Args:
        num_videos: number of items (>= 0).
        clip_len: frames per clip (>= 1); it overrides ``cfg.num_frames``.
        cfg: generator configuration (default :class:`SyntheticVideoConfig`).
        seed_offset: first seed (default: the training split's first). A range
            ``[seed_offset, seed_offset + num_videos)`` that is not inside one split of
            ``SPLIT_SEEDS`` raises ``ValueError``; use ``split_seeds(split, n).start``.
    """

    def __init__(
        self,
        num_videos: int,
        clip_len: int,
        cfg: SyntheticVideoConfig | None = None,
        seed_offset: int = SPLIT_SEEDS["train"].start,
    ) -> None:
        for name, value, minimum in (
            ("num_videos", num_videos, 0),
            ("clip_len", clip_len, 1),
            ("seed_offset", seed_offset, 0),
        ):
            if (
                isinstance(value, bool)
                or not isinstance(value, numbers.Integral)
                or value < minimum
            ):
                raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
        if num_videos:
            split_of_seeds(range(seed_offset, seed_offset + num_videos))
        cfg = SyntheticVideoConfig() if cfg is None else cfg
        if not isinstance(cfg, SyntheticVideoConfig):
            raise TypeError(f"cfg must be a SyntheticVideoConfig, got {type(cfg).__name__}")
        self.num_videos = int(num_videos)
        self.clip_len = int(clip_len)
        self.cfg = dataclasses.replace(cfg, num_frames=self.clip_len)
        self.seed_offset = int(seed_offset)

    def __len__(self) -> int:
        return self.num_videos

    def __getitem__(self, index: int) -> ClipSample:
        if not -self.num_videos <= index < self.num_videos:
            raise IndexError(f"index {index} out of range for {self.num_videos} videos")
        seed = self.seed_offset + index % self.num_videos
        video = generate_video(seed, self.cfg)
        frames = torch.from_numpy(video.frames).permute(0, 3, 1, 2)  # (T, 3, H, W) uint8
        return ClipSample(
            frames=frames.float().div_(255.0),
            boxes_xyxy=torch.from_numpy(video.boxes_xyxy),
            masks=torch.from_numpy(video.masks).float(),
            visibility=torch.from_numpy(video.visibility),
            class_ids=torch.from_numpy(video.class_ids),
            track_ids=torch.from_numpy(video.track_ids),
            seed=seed,
        )


class MultiSizeClipDataset(Dataset):
    """Item ``i`` is the synthetic clip with seed ``seed_offset + i`` rendered at
    ``frame_sizes[i % len(frame_sizes)]`` (height, width), so consecutive items alternate sizes;
    the other arguments are :class:`SyntheticClipDataset`'s."""

    def __init__(
        self,
        num_videos: int,
        clip_len: int,
        cfg: SyntheticVideoConfig,
        seed_offset: int,
        frame_sizes: list[tuple[int, int]],
    ) -> None:
        if not frame_sizes:
            raise ValueError("frame_sizes must hold at least one (height, width)")
        self.by_size = [
            SyntheticClipDataset(
                num_videos, clip_len, dataclasses.replace(cfg, height=h, width=w), seed_offset
            )
            for h, w in frame_sizes
        ]

    def __len__(self) -> int:
        return len(self.by_size[0])

    def __getitem__(self, index: int) -> ClipSample:
        return self.by_size[index % len(self.by_size)][index]


def collate_clips(samples: list[ClipSample]) -> ClipBatch:
    """Stack clips into a :class:`ClipBatch`, padding objects to the batch's largest count.

    All clips must have the same number of frames and frame size. Use as the ``collate_fn`` of
    a ``torch.utils.data.DataLoader``.
    """
    if len(samples) == 0:
        raise ValueError("collate_clips needs at least one sample, got an empty list")
    frame_shape = samples[0].frames.shape
    for sample in samples:
        if sample.frames.shape != frame_shape:
            raise ValueError(
                f"all clips in a batch must have frames of shape {tuple(frame_shape)} "
                f"(T, 3, H, W), got {tuple(sample.frames.shape)}; use one clip_len and frame size"
            )
    num_frames, _, height, width = frame_shape
    batch_size = len(samples)
    max_objects = max(sample.class_ids.shape[0] for sample in samples)
    boxes = torch.zeros(batch_size, num_frames, max_objects, 4)
    masks = torch.zeros(batch_size, num_frames, max_objects, height, width)
    visibility = torch.zeros(batch_size, num_frames, max_objects)
    class_ids = torch.full((batch_size, max_objects), CLASS_PAD, dtype=torch.int64)
    track_ids = torch.full((batch_size, max_objects), CLASS_PAD, dtype=torch.int64)
    valid = torch.zeros(batch_size, max_objects, dtype=torch.bool)
    trackable = torch.zeros(batch_size, max_objects, dtype=torch.bool)
    for b, sample in enumerate(samples):
        count = sample.class_ids.shape[0]
        boxes[b, :, :count] = sample.boxes_xyxy
        masks[b, :, :count] = sample.masks
        visibility[b, :, :count] = sample.visibility
        class_ids[b, :count] = sample.class_ids
        track_ids[b, :count] = sample.track_ids
        valid[b, :count] = True
        trackable[b, :count] = True if sample.trackable is None else sample.trackable
    return ClipBatch(
        frames=torch.stack([sample.frames for sample in samples]),  # (B, T, 3, H, W)
        boxes_xyxy=boxes,
        masks=masks,
        visibility=visibility,
        class_ids=class_ids,
        track_ids=track_ids,
        valid=valid,
        seeds=[sample.seed for sample in samples],
        trackable=trackable,
        windows_xyxy=collate_windows(samples, "windows_xyxy"),
        context_xyxy=collate_windows(samples, "context_xyxy"),
        video_hw=collate_video_sizes(samples),
        box_only=torch.tensor([sample.box_only for sample in samples]),  # (B,)
        exhaustive=torch.tensor([sample.exhaustive for sample in samples]),  # (B,)
    )


def collate_windows(samples: list[ClipSample], name: str) -> torch.Tensor | None:
    """(B, T, 4) windows (or contexts: ``name``) of search-window clips, None for whole-frame
    clips; no mixing."""
    windows = [getattr(sample, name) for sample in samples]
    if all(w is None for w in windows):
        return None
    if any(w is None for w in windows):
        raise ValueError(f"cannot batch clips with {name} and clips without it")
    return torch.stack(windows)


def collate_video_sizes(samples: list[ClipSample]) -> torch.Tensor | None:
    """(B, 2) video (H, W) of search-window clips, None when no clip names its video size."""
    sizes = [sample.video_hw for sample in samples]
    if all(s is None for s in sizes):
        return None
    if any(s is None for s in sizes):
        raise ValueError("cannot batch clips with video_hw and clips without it")
    return torch.tensor(sizes, dtype=torch.int64)
