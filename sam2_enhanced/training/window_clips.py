"""Training clips of object-centred search windows, cut the way the predictor cuts them.

Item ``i`` of :class:`WindowClipDataset` is the synthetic video with seed ``seed_offset + i``,
rendered at one of ``frame_sizes`` (chosen by the seed), with one of its objects (visible on the
first frame) as the *target*. Each frame's window is placed as the predictor places it: on the
first frame around the target's box (the prompt), on later frames around the target's box on the
frame before (its last known place), both with SOT-style jitter of the centre and the side, so
the model learns to find a target that is off-centre or drifted. Windows come from
:func:`sam2_enhanced.modeling.search_window.windows_around_boxes`, the predictor's own geometry.

Every object inside a window keeps its cropped mask and box (detection targets); only the target
is prompted and tracked (``ClipSample.trackable``).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch
from torch.utils.data import Dataset

from sam2_enhanced.box_ops import masks_to_boxes_xyxy
from sam2_enhanced.config import SearchWindowConfig
from sam2_enhanced.data.clip_dataset import ClipSample, MultiSizeClipDataset
from sam2_enhanced.data.synthetic import SyntheticVideoConfig
from sam2_enhanced.modeling.search_window import (
    crop_windows,
    grow_windows,
    mask_boxes,
    windows_around_boxes,
)


def jitter_boxes(
    boxes_xyxy: torch.Tensor, centre_jitter: float, scale_jitter: float, rng: np.random.Generator
) -> torch.Tensor:
    """Shift each box's centre by up to ``centre_jitter`` of its size and scale its sides by
    ``exp(N(0, scale_jitter))``: (T, 4) -> (T, 4)."""
    sizes = (boxes_xyxy[:, 2:] - boxes_xyxy[:, :2]).clamp(min=1.0)  # (T, 2)
    side = sizes.prod(dim=1, keepdim=True).sqrt()  # (T, 1)
    shift = torch.from_numpy(rng.uniform(-1, 1, size=(len(boxes_xyxy), 2))).float()
    centres = (boxes_xyxy[:, :2] + boxes_xyxy[:, 2:]) / 2 + shift * centre_jitter * side
    scale = torch.from_numpy(np.exp(rng.normal(0, scale_jitter, size=(len(boxes_xyxy), 1))))
    half = sizes * scale.float() / 2
    return torch.cat([centres - half, centres + half], dim=1)


def fill_missing_boxes(boxes: list[torch.Tensor | None]) -> torch.Tensor:
    """Per frame a box (4,) or None where the target is hidden -> (T, 4): the last box seen
    where hidden (the first box before it is first seen). At least one box must be given."""
    first = next(b for b in boxes if b is not None)
    out, last = [], first
    for box in boxes:
        last = box if box is not None else last
        out.append(last)
    return torch.stack(out)


def last_known_boxes(masks: torch.Tensor) -> torch.Tensor:
    """(T, H, W) target masks -> (T, 4) box on each frame, or the last box seen where hidden
    (the first box before it is first seen)."""
    return fill_missing_boxes(mask_boxes(masks > 0.5))


def follow_windows(
    known_xyxy: torch.Tensor,
    frame_hw: tuple[int, int],
    window: SearchWindowConfig,
    *,
    centre_jitter: float,
    scale_jitter: float,
    rng: np.random.Generator,
) -> torch.Tensor:
    """The predictor's windows (T, 4) for a target whose box on each frame is ``known_xyxy``
    (T, 4): frame 0's around its own box (the prompt), frame t's around the box of frame t - 1,
    each anchor jittered (:func:`jitter_boxes`)."""
    anchors = torch.cat([known_xyxy[:1], known_xyxy[:-1]])  # frame t's window follows frame t-1
    anchors = jitter_boxes(anchors, centre_jitter, scale_jitter, rng)
    return windows_around_boxes(
        anchors,
        frame_hw,
        search_scale=window.search_scale,
        min_side=window.min_side,
        max_side_frac=window.max_side_frac,
    )


def crop_clip(
    frames: torch.Tensor, masks: torch.Tensor, windows_xyxy: torch.Tensor, side: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Cut each frame and its object masks to its window at ``side x side``.

    Args:
        frames: (T, 3, H, W) any dtype (uint8 stays in 0-255, float in its range).
        masks: (T, O, H, W) {0, 1} object masks (any dtype).
        windows_xyxy: (T, 4) video pixels.
        side: S.

    Returns:
        frames (T, 3, S, S) float32, masks (T, O, S, S) float32 {0, 1}, boxes_xyxy (T, O, 4)
        window pixels (0 where an object is outside the window), in_window (T, O) float32.
    """
    crops = torch.cat(
        [crop_windows(f, w[None], side) for f, w in zip(frames, windows_xyxy, strict=True)]
    )  # (T, 3, S, S)
    masks = torch.cat(
        [crop_windows(m, w[None], side) for m, w in zip(masks, windows_xyxy, strict=True)]
    )  # (T, O, S, S)
    masks = (masks > 0.5).float()
    boxes = masks_to_boxes_xyxy(masks > 0).nan_to_num(0.0)  # (T, O, 4)
    in_window = (masks.flatten(2) > 0).any(dim=2).float()  # (T, O)
    return crops, masks, boxes, in_window


def check_context_scale(context_scale: float) -> float:
    """``context_scale`` if it is >= 1 (frames cut at least as large as their windows)."""
    if context_scale < 1:
        raise ValueError(f"context_scale must be >= 1, got {context_scale}")
    return context_scale


def context_of(windows_xyxy: torch.Tensor, side: int, context_scale: float):
    """Where a clip's frames are cut from: (T, 4) regions ``context_scale`` times its windows
    (T, 4) (the windows themselves at 1) and their side in pixels, ``side * context_scale``."""
    if check_context_scale(context_scale) == 1:
        return windows_xyxy, side
    return grow_windows(windows_xyxy, context_scale), int(round(side * context_scale))


class WindowClipDataset(Dataset):
    """Synthetic clips cut into one target's search windows (see the module docstring).

    Args:
        num_videos: number of items.
        clip_len: frames per clip.
        cfg: generator configuration; its height and width are replaced by ``frame_sizes``.
        seed_offset: first seed (a training or validation range, as for
            :class:`SyntheticClipDataset`).
        image_size: side S of the window images (the model input).
        window: the predictor's search-window settings (scale, minimum side).
        frame_sizes: (height, width) choices of the rendered video.
        centre_jitter: largest window-centre shift, a fraction of the target's size.
        scale_jitter: std of the log window-side scale.
        context_scale: frames are cut ``context_scale`` times larger than their windows (at
            ``S * context_scale`` px), so the training step can place a window of its own (from
            the model's previous prediction) around them; 1: frames are the windows.
    """

    def __init__(
        self,
        num_videos: int,
        clip_len: int,
        cfg: SyntheticVideoConfig,
        seed_offset: int,
        *,
        image_size: int,
        window: SearchWindowConfig,
        frame_sizes: list[tuple[int, int]],
        centre_jitter: float,
        scale_jitter: float,
        context_scale: float = 1.0,
    ) -> None:
        if centre_jitter < 0 or scale_jitter < 0:
            raise ValueError(
                f"jitter must be >= 0, got centre {centre_jitter} and scale {scale_jitter}"
            )
        self.videos = MultiSizeClipDataset(num_videos, clip_len, cfg, seed_offset, frame_sizes)
        self.image_size = image_size
        self.window = window
        self.centre_jitter = centre_jitter
        self.scale_jitter = scale_jitter
        self.context_scale = check_context_scale(context_scale)

    def __len__(self) -> int:
        return len(self.videos)

    def __getitem__(self, index: int) -> ClipSample:
        video = self.videos[index]
        rng = np.random.default_rng(video.seed)
        visible = (video.masks[0].flatten(1) > 0.5).any(dim=1)  # (O,)
        candidates = torch.nonzero(visible).flatten().tolist()
        if not candidates:  # nothing to prompt on: the clip trains detection only
            return self.crop(video, torch.zeros(len(video.frames), 4), target=None)
        target = int(rng.choice(candidates))
        windows = follow_windows(
            last_known_boxes(video.masks[:, target]),
            tuple(video.frames.shape[-2:]),
            self.window,
            centre_jitter=self.centre_jitter,
            scale_jitter=self.scale_jitter,
            rng=rng,
        )
        return self.crop(video, windows, target)

    def crop(self, video: ClipSample, windows: torch.Tensor, target: int | None) -> ClipSample:
        """Cut each frame (and every object's mask) to its window (T, 4) at S x S, or to the
        window's context (``context_scale``)."""
        height, width = video.frames.shape[-2:]
        if target is None:
            windows = torch.tensor([[0.0, 0.0, float(width), float(height)]]).repeat(
                len(video.frames), 1
            )
        contexts, side = context_of(windows, self.image_size, self.context_scale)
        if target is None:
            contexts = windows  # detection-only clip: the whole frame, no context to add
        frames, masks, boxes, in_window = crop_clip(video.frames, video.masks, contexts, side)
        num_objects = masks.shape[1]
        trackable = torch.zeros(num_objects, dtype=torch.bool)
        if target is not None:
            trackable[target] = True
        return dataclasses.replace(
            video,
            frames=frames.clamp(0, 1),
            boxes_xyxy=boxes,
            masks=masks,
            visibility=video.visibility * in_window,
            trackable=trackable,
            windows_xyxy=windows,
            context_xyxy=None if self.context_scale == 1 else contexts,
            video_hw=(height, width),
        )


def window_frame_sizes(sides: list[int]) -> list[tuple[int, int]]:
    """Frame sizes from longer sides: 4:3 below 400 px, 16:9 from there (as real footage)."""
    sizes = []
    for side in sides:
        ratio = 3 / 4 if side < 400 else 9 / 16
        sizes.append((max(16, int(math.ceil(side * ratio / 8) * 8)), int(side)))
    return sizes
