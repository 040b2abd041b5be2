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

from sam2_enhanced.config import SearchWindowConfig
from sam2_enhanced.data.clip_dataset import ClipSample, SyntheticClipDataset
from sam2_enhanced.data.synthetic import SyntheticVideoConfig
from sam2_enhanced.modeling.search_window import crop_windows, mask_boxes, windows_around_boxes


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


def last_known_boxes(masks: torch.Tensor) -> torch.Tensor:
    """(T, H, W) target masks -> (T, 4) box on each frame, or the last box seen where hidden
    (the first box before it is first seen)."""
    boxes = mask_boxes(masks > 0.5)
    first = next(b for b in boxes if b is not None)
    out, last = [], first
    for box in boxes:
        last = box if box is not None else last
        out.append(last)
    return torch.stack(out)


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
    ) -> None:
        if not frame_sizes:
            raise ValueError("frame_sizes must hold at least one (height, width)")
        if centre_jitter < 0 or scale_jitter < 0:
            raise ValueError(
                f"jitter must be >= 0, got centre {centre_jitter} and scale {scale_jitter}"
            )
        self.videos = [
            SyntheticClipDataset(
                num_videos,
                clip_len,
                dataclasses.replace(cfg, height=height, width=width),
                seed_offset,
            )
            for height, width in frame_sizes
        ]
        self.image_size = image_size
        self.window = window
        self.centre_jitter = centre_jitter
        self.scale_jitter = scale_jitter

    def __len__(self) -> int:
        return len(self.videos[0])

    def __getitem__(self, index: int) -> ClipSample:
        sizes = len(self.videos)
        video = self.videos[index % sizes if sizes > 1 else 0][index]
        rng = np.random.default_rng(video.seed)
        visible = (video.masks[0].flatten(1) > 0.5).any(dim=1)  # (O,)
        candidates = torch.nonzero(visible).flatten().tolist()
        if not candidates:  # nothing to prompt on: the clip trains detection only
            return self.crop(video, torch.zeros(len(video.frames), 4), target=None)
        target = int(rng.choice(candidates))
        known = last_known_boxes(video.masks[:, target])  # (T, 4)
        anchors = torch.cat([known[:1], known[:-1]])  # frame t's window follows frame t-1
        anchors = jitter_boxes(anchors, self.centre_jitter, self.scale_jitter, rng)
        frame_hw = tuple(video.frames.shape[-2:])
        windows = windows_around_boxes(
            anchors,
            frame_hw,
            search_scale=self.window.search_scale,
            min_side=self.window.min_side,
            max_side_frac=self.window.max_side_frac,
        )
        return self.crop(video, windows, target)

    def crop(self, video: ClipSample, windows: torch.Tensor, target: int | None) -> ClipSample:
        """Cut each frame (and every object's mask) to its window (T, 4) at S x S."""
        side = self.image_size
        height, width = video.frames.shape[-2:]
        if target is None:
            windows = torch.tensor([[0.0, 0.0, float(width), float(height)]]).repeat(
                len(video.frames), 1
            )
        frames = torch.cat(
            [crop_windows(f, w[None], side) for f, w in zip(video.frames, windows, strict=True)]
        )  # (T, 3, S, S)
        masks = torch.cat(
            [crop_windows(m, w[None], side) for m, w in zip(video.masks, windows, strict=True)]
        )  # (T, O, S, S)
        masks = (masks > 0.5).float()
        num_objects = masks.shape[1]
        boxes = torch.zeros(len(frames), num_objects, 4)
        for t in range(len(frames)):
            for o, box in enumerate(mask_boxes(masks[t] > 0)):
                if box is not None:
                    boxes[t, o] = box
        in_window = (masks.flatten(2) > 0).any(dim=2).float()  # (T, O)
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
        )


def window_frame_sizes(sides: list[int]) -> list[tuple[int, int]]:
    """Frame sizes from longer sides: 4:3 below 400 px, 16:9 from there (as real footage)."""
    sizes = []
    for side in sides:
        ratio = 3 / 4 if side < 400 else 9 / 16
        sizes.append((max(16, int(math.ceil(side * ratio / 8) * 8)), int(side)))
    return sizes
