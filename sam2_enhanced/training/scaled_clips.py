"""Whole-frame training clips that show objects at more than one scale in one batch shape.

The model squeezes every frame to its square input, so a synthetic object of 3-40 px on a 128 px
training frame reaches the detector at 5-70 px, while on a detection tile (``detection_tiles``:
square crops of a large frame at native resolution) the same object stays 3-40 px. Item ``i`` of
:class:`ScaledClipDataset` is the synthetic video with seed ``seed_offset + i`` rendered as a
square frame of one of ``frame_sides`` (chosen by the index, so the sides alternate) and resized
to ``output_side``, the model input, exactly as the model resizes a frame
(:func:`sam2_enhanced.training.sequence.resize_frames`); boxes and masks follow. Every clip then
has one shape, so clips of different sides share a batch.
"""

from __future__ import annotations

import dataclasses

import torch.nn.functional as F
from torch.utils.data import Dataset

from sam2_enhanced.data.clip_dataset import ClipSample, MultiSizeClipDataset
from sam2_enhanced.data.synthetic import SyntheticVideoConfig
from sam2_enhanced.training.sequence import resize_frames


def rescale_clip(sample: ClipSample, output_side: int) -> ClipSample:
    """A whole-frame square clip resized to ``output_side``: frames as the model resizes them,
    masks bilinearly then thresholded at 0.5, boxes scaled; visibility and ids unchanged.

    ``sample.frames`` (T, 3, S, S) -> (T, 3, output_side, output_side).
    """
    height, width = sample.frames.shape[-2:]
    if height != width:
        raise ValueError(f"rescale_clip needs square frames, got {height}x{width}")
    if sample.windows_xyxy is not None:
        raise ValueError("rescale_clip takes whole-frame clips, got a search-window clip")
    if height == output_side:
        return sample
    scale = output_side / height
    num_frames, num_objects = sample.masks.shape[:2]
    if num_objects:
        masks = F.interpolate(
            sample.masks, size=(output_side, output_side), mode="bilinear", align_corners=False
        )  # (T, O, output_side, output_side)
    else:  # a video may hold no object (interpolate refuses empty tensors)
        masks = sample.masks.new_zeros(num_frames, 0, output_side, output_side)
    return dataclasses.replace(
        sample,
        frames=resize_frames(sample.frames, output_side),  # (T, 3, output_side, output_side)
        masks=(masks > 0.5).float(),
        boxes_xyxy=sample.boxes_xyxy * scale,  # (T, O, 4); hidden objects stay 0
    )


class ScaledClipDataset(Dataset):
    """Synthetic whole-frame clips rendered at square ``frame_sides`` and resized to
    ``output_side`` (see the module docstring).

    Args:
        num_videos: number of items (>= 0); item ``i`` has seed ``seed_offset + i``.
        clip_len: frames per clip (>= 1).
        cfg: generator configuration; its height and width are replaced by each side.
        seed_offset: first seed (inside one split, as :class:`SyntheticClipDataset` checks).
        frame_sides: square frame sides to render at (each >= 16), used in turn by index.
        output_side: side of every returned frame (the model's input side, >= 16).
    """

    def __init__(
        self,
        num_videos: int,
        clip_len: int,
        cfg: SyntheticVideoConfig,
        seed_offset: int,
        *,
        frame_sides: list[int],
        output_side: int,
    ) -> None:
        if not frame_sides or min(frame_sides) < 16:
            raise ValueError(f"frame_sides must hold sides >= 16 px, got {frame_sides}")
        if output_side < 16:
            raise ValueError(f"output_side must be >= 16 px, got {output_side}")
        sizes = [(side, side) for side in frame_sides]
        self.videos = MultiSizeClipDataset(num_videos, clip_len, cfg, seed_offset, sizes)
        self.output_side = output_side

    def __len__(self) -> int:
        return len(self.videos)

    def __getitem__(self, index: int) -> ClipSample:
        return rescale_clip(self.videos[index], self.output_side)
