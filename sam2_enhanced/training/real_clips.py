"""Training clips of search windows cut from real single-object sequences.

The folder ``root`` holds one sequence per subfolder in the layout of
:mod:`sam2_enhanced.data.readers_sot` (``img/000001.jpg, ...`` and ``groundtruth_rect.txt``,
``x, y, w, h`` per frame, ``NaN`` rows where the target is absent); a sequence with an
``Annotations/`` folder (DAVIS style, one PNG per frame in the same order, 0-based names) has true
masks, the others only boxes, whose filled rectangle stands in for the mask (``box_only``: the
mask loss is BoxInst's projection loss, :func:`sam2_enhanced.training.losses.projection_loss`).

Item ``i`` of :class:`RealWindowClipDataset` draws, from ``seed`` and ``i`` only, a sequence
(uniformly), a stride in ``1..max_stride`` and a start frame where the target is present, reads
those ``clip_len`` frames (and masks) from disk, and cuts them into the target's windows exactly
as :class:`~sam2_enhanced.training.window_clips.WindowClipDataset` does
(:func:`~sam2_enhanced.training.window_clips.follow_windows`, then
:func:`~sam2_enhanced.training.window_clips.crop_clip`). The ground truth of every sequence is
parsed once, when the dataset is built; frames are read per item.

Only the target is labelled, so its class is :data:`REAL_CLASS_ID` whatever it is (car, person,
horse) and the clip is marked not ``exhaustive``: the detection set loss would otherwise teach
the detector that every other object in the window is background. Such clips get no detection
loss, or with ``train.partial_label_detection`` a positives-only, class-agnostic one
(:class:`~sam2_enhanced.training.losses.SetCriterion`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from sam2_enhanced.config import SearchWindowConfig
from sam2_enhanced.data.clip_dataset import ClipSample
from sam2_enhanced.data.frames import list_image_files, read_image_rgb
from sam2_enhanced.data.readers_davis import read_label_map
from sam2_enhanced.data.readers_sot import read_sot_sequence
from sam2_enhanced.data.real_val import real_val_names
from sam2_enhanced.training.window_clips import (
    check_context_scale,
    context_of,
    crop_clip,
    fill_missing_boxes,
    follow_windows,
)

REAL_CLASS_ID = 0  # class id of every real target; no loss reads it (class-agnostic or none)
LAYOUT = (
    "<root>/<sequence>/img/000001.jpg, ... + <root>/<sequence>/groundtruth_rect.txt (x,y,w,h per "
    "frame), optional <root>/<sequence>/Annotations/00000.png, ... (masks)"
)


@dataclass
class RealSequence:
    """One sequence's frame files and parsed ground truth (kept for the dataset's lifetime)."""

    name: str  # folder name
    frame_files: list[Path]  # T frame images in order
    mask_files: list[Path] | None  # T mask PNGs in order, None for box-only sequences
    boxes_xyxy: np.ndarray  # (T, 4) float64 pixels, NaN rows where absent
    present: np.ndarray  # (T,) bool


def read_real_sequence(seq_dir: Path) -> RealSequence:
    """Parse one sequence folder (frames listed, not read)."""
    sequence = read_sot_sequence(seq_dir)
    frame_files = list_image_files(sequence.frames)
    mask_dir = seq_dir / "Annotations"
    mask_files = None
    if mask_dir.is_dir():
        mask_files = [p for p in list_image_files(mask_dir) if p.suffix.lower() == ".png"]
        if len(mask_files) != len(frame_files):
            raise ValueError(
                f"{mask_dir} has {len(mask_files)} PNG masks but {sequence.frames} has "
                f"{len(frame_files)} frames; a mask folder needs one mask per frame"
            )
    return RealSequence(
        seq_dir.name, frame_files, mask_files, sequence.boxes_xyxy, sequence.present
    )


def find_real_sequences(
    root: str | Path, exclude: tuple[str, ...] | None = None
) -> list[RealSequence]:
    """Every sequence under ``root`` (subfolders with a ground-truth file), sorted by name,
    except those named in ``exclude`` (default: the real-val list,
    :func:`sam2_enhanced.data.real_val.real_val_names`, never trained on)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"real training data folder not found: {root}; expected {LAYOUT}")
    exclude = real_val_names() if exclude is None else exclude
    folders = sorted(
        p
        for p in root.iterdir()
        if p.is_dir() and (p / "groundtruth_rect.txt").is_file() and p.name not in exclude
    )
    if not folders:
        raise FileNotFoundError(f"no sequences found in {root}; expected {LAYOUT}")
    return [read_real_sequence(p) for p in folders]


def clip_starts(present: np.ndarray, clip_len: int, stride: int) -> np.ndarray:
    """Start frames (K,) of clips of ``clip_len`` frames ``stride`` apart that fit in the
    sequence and whose first frame shows the target (``present`` (T,) bool)."""
    span = (clip_len - 1) * stride
    return np.flatnonzero(present[: max(len(present) - span, 0)])


def box_mask(box_xyxy: np.ndarray, frame_hw: tuple[int, int]) -> torch.Tensor:
    """(4,) pixel box -> (H, W) uint8 filled rectangle (all zeros for a NaN box)."""
    mask = torch.zeros(frame_hw, dtype=torch.uint8)
    if np.isnan(box_xyxy).any():
        return mask
    x0, y0 = (int(np.floor(v)) for v in box_xyxy[:2])
    x1, y1 = (int(np.ceil(v)) for v in box_xyxy[2:])
    mask[max(y0, 0) : max(y1, 0), max(x0, 0) : max(x1, 0)] = 1
    return mask


class RealWindowClipDataset(Dataset):
    """Real sequences cut into their target's search windows (see the module docstring).

    Args:
        root: folder of sequence folders.
        num_items: number of items (clips drawn with replacement).
        clip_len: frames per clip.
        seed: item ``i`` depends on ``(seed, i)`` only.
        image_size: side S of the window images.
        window: the predictor's search-window settings.
        centre_jitter: largest window-centre shift, a fraction of the target's size.
        scale_jitter: std of the log window-side scale.
        max_stride: frame strides are drawn from 1..max_stride.
        context_scale: frames are cut this many times larger than their windows (see
            :class:`~sam2_enhanced.training.window_clips.WindowClipDataset`).
    """

    def __init__(
        self,
        root: str | Path,
        num_items: int,
        clip_len: int,
        seed: int,
        *,
        image_size: int,
        window: SearchWindowConfig,
        centre_jitter: float,
        scale_jitter: float,
        max_stride: int = 1,
        context_scale: float = 1.0,
    ) -> None:
        if num_items < 0 or clip_len < 1 or max_stride < 1:
            raise ValueError(
                f"need num_items >= 0, clip_len >= 1 and max_stride >= 1, got {num_items}, "
                f"{clip_len} and {max_stride}"
            )
        self.sequences = find_real_sequences(root)
        unusable = [s.name for s in self.sequences if len(clip_starts(s.present, clip_len, 1)) == 0]
        if unusable:
            raise ValueError(
                f"sequences {unusable} in {root} have no clip of clip_len={clip_len} frames that "
                "starts on a frame showing the target; remove them or shorten clip_len"
            )
        self.num_items = num_items
        self.clip_len = clip_len
        self.seed = seed
        self.image_size = image_size
        self.window = window
        self.centre_jitter = centre_jitter
        self.scale_jitter = scale_jitter
        self.max_stride = max_stride
        self.context_scale = check_context_scale(context_scale)

    def __len__(self) -> int:
        return self.num_items

    def pick(self, rng: np.random.Generator) -> tuple[RealSequence, np.ndarray]:
        """A sequence and the frame indices (T,) of a clip whose first frame shows the target
        (stride 1 when no start fits the drawn stride)."""
        sequence = self.sequences[int(rng.integers(len(self.sequences)))]
        stride = int(rng.integers(1, self.max_stride + 1))
        starts = clip_starts(sequence.present, self.clip_len, stride)
        if len(starts) == 0:
            stride, starts = 1, clip_starts(sequence.present, self.clip_len, 1)
        start = int(rng.choice(starts))
        return sequence, start + stride * np.arange(self.clip_len)

    def __getitem__(self, index: int) -> ClipSample:
        if not 0 <= index < self.num_items:
            raise IndexError(f"index {index} out of range for {self.num_items} items")
        rng = np.random.default_rng([self.seed, index])
        sequence, frame_ids = self.pick(rng)
        images = [read_image_rgb(sequence.frame_files[i]) for i in frame_ids]  # (H, W, 3) uint8
        frames = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2)  # (T, 3, H, W) uint8
        frame_hw = tuple(frames.shape[-2:])
        boxes = sequence.boxes_xyxy[frame_ids]  # (T, 4) NaN where absent
        if sequence.mask_files is not None:
            labels = [read_label_map(sequence.mask_files[i]) for i in frame_ids]
            masks = torch.from_numpy(np.stack(labels) == 1)  # (T, H, W) object 1 (DAVIS 2016)
        else:
            masks = torch.stack([box_mask(box, frame_hw) for box in boxes])  # (T, H, W)
        known = fill_missing_boxes(
            [None if np.isnan(b).any() else torch.from_numpy(b).float() for b in boxes]
        )  # (T, 4)
        windows = follow_windows(
            known,
            frame_hw,
            self.window,
            centre_jitter=self.centre_jitter,
            scale_jitter=self.scale_jitter,
            rng=rng,
        )
        contexts, side = context_of(windows, self.image_size, self.context_scale)
        crops, window_masks, window_boxes, in_window = crop_clip(
            frames, masks[:, None].to(torch.uint8), contexts, side
        )
        present = torch.from_numpy(sequence.present[frame_ids]).float()[:, None]  # (T, 1)
        return ClipSample(
            frames=crops.div_(255.0).clamp_(0, 1),
            boxes_xyxy=window_boxes,
            masks=window_masks,
            visibility=present * in_window,
            class_ids=torch.tensor([REAL_CLASS_ID]),
            track_ids=torch.tensor([1]),
            seed=index,
            trackable=torch.ones(1, dtype=torch.bool),
            windows_xyxy=windows,
            context_xyxy=None if self.context_scale == 1 else contexts,
            video_hw=frame_hw,
            box_only=sequence.mask_files is None,
            exhaustive=False,
        )
