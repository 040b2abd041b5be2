"""Tests of the synthetic clip dataset and its collate function."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from sam2_enhanced.data.clip_dataset import (
    CLASS_PAD,
    ClipBatch,
    MultiSizeClipDataset,
    SyntheticClipDataset,
    collate_clips,
)
from sam2_enhanced.data.splits import SPLIT_SEEDS
from sam2_enhanced.data.synthetic import SyntheticVideoConfig, generate_video

VAL_START = SPLIT_SEEDS["val"].start

CFG = SyntheticVideoConfig(height=32, width=48, num_frames=9, max_objects=3, max_object_size=12)


def test_the_whole_training_split_is_allowed_and_its_last_seed_is_reachable():
    dataset = SyntheticClipDataset(VAL_START, 2, CFG)
    assert dataset[VAL_START - 1].seed == VAL_START - 1


def test_item_is_the_video_of_seed_offset_plus_index():
    dataset = SyntheticClipDataset(num_videos=3, clip_len=4, cfg=CFG, seed_offset=100)
    assert len(dataset) == 3
    sample = dataset[2]
    video = generate_video(102, SyntheticVideoConfig(**{**CFG.__dict__, "num_frames": 4}))
    num_objects = video.num_objects
    assert sample.seed == 102
    assert sample.frames.shape == (4, 3, 32, 48) and sample.frames.dtype == torch.float32
    assert sample.frames.min() >= 0.0 and sample.frames.max() <= 1.0
    expected_frames = (
        torch.from_numpy(video.frames).permute(0, 3, 1, 2).float() / 255
    )  # (T, 3, H, W)
    torch.testing.assert_close(sample.frames, expected_frames)
    assert sample.boxes_xyxy.shape == (4, num_objects, 4)
    assert sample.masks.shape == (4, num_objects, 32, 48) and sample.masks.dtype == torch.float32
    assert set(sample.masks.unique().tolist()) <= {0.0, 1.0}
    np.testing.assert_array_equal(sample.masks.numpy().astype(bool), video.masks)
    np.testing.assert_array_equal(sample.boxes_xyxy.numpy(), video.boxes_xyxy)
    assert sample.visibility.shape == (4, num_objects)
    assert sample.class_ids.dtype == torch.int64 and sample.track_ids.tolist() == list(
        range(1, num_objects + 1)
    )
    assert dataset[-1].seed == 102


def _seeds_with_object_counts(count_a: int, count_b: int) -> tuple[int, int]:
    counts: dict[int, int] = {}
    for seed in range(50):
        counts.setdefault(generate_video(seed, CFG).num_objects, seed)
        if count_a in counts and count_b in counts:
            break
    return counts[count_a], counts[count_b]


def test_collate_pads_objects_and_marks_valid():
    seed_one, seed_three = _seeds_with_object_counts(1, 3)
    dataset = SyntheticClipDataset(50, CFG.num_frames, CFG)
    batch = collate_clips([dataset[seed_one], dataset[seed_three]])
    assert batch.frames.shape == (2, 9, 3, 32, 48)
    assert batch.boxes_xyxy.shape == (2, 9, 3, 4)
    assert batch.masks.shape == (2, 9, 3, 32, 48)
    assert batch.visibility.shape == (2, 9, 3)
    assert batch.valid.tolist() == [[True, False, False], [True, True, True]]
    assert batch.class_ids[0, 1:].tolist() == [CLASS_PAD, CLASS_PAD]
    assert batch.track_ids.tolist() == [[1, CLASS_PAD, CLASS_PAD], [1, 2, 3]]
    assert batch.masks[0, :, 1:].abs().sum() == 0 and batch.boxes_xyxy[0, :, 1:].abs().sum() == 0
    assert batch.visibility[0, :, 1:].abs().sum() == 0
    torch.testing.assert_close(batch.masks[1], dataset[seed_three].masks)
    assert batch.seeds == [seed_one, seed_three]


def test_collate_batch_of_one_and_dataloader():
    dataset = SyntheticClipDataset(3, 2, CFG, seed_offset=VAL_START)
    single = collate_clips([dataset[0]])
    assert single.frames.shape == (1, 2, 3, 32, 48) and bool(single.valid.all())
    batches = list(DataLoader(dataset, batch_size=2, collate_fn=collate_clips))
    assert [b.frames.shape[0] for b in batches] == [2, 1]
    assert batches[1].seeds == [VAL_START + 2]
    moved = batches[0].to("cpu")
    assert isinstance(moved, ClipBatch) and moved.seeds == batches[0].seeds


def test_collate_rejects_empty_and_mismatched_clips():
    with pytest.raises(ValueError, match="at least one"):
        collate_clips([])
    short = SyntheticClipDataset(1, 2, CFG)[0]
    long = SyntheticClipDataset(1, 3, CFG)[0]
    with pytest.raises(ValueError, match="same number of frames|shape"):
        collate_clips([short, long])


@pytest.mark.parametrize(
    "kwargs,error,field",
    [
        ({"num_videos": -1, "clip_len": 2}, ValueError, "num_videos"),
        ({"num_videos": 2, "clip_len": 0}, ValueError, "clip_len"),
        ({"num_videos": 2, "clip_len": 2, "seed_offset": -5}, ValueError, "seed_offset"),
        ({"num_videos": VAL_START + 1, "clip_len": 2}, ValueError, "not inside one split"),
        ({"num_videos": 2, "clip_len": 2, "seed_offset": VAL_START - 1}, ValueError, "one split"),
        ({"num_videos": 1, "clip_len": 2, "seed_offset": 30_000_000}, ValueError, "one split"),
        ({"num_videos": 2, "clip_len": 2, "cfg": {"height": 32}}, TypeError, "cfg"),
    ],
)
def test_bad_arguments_raise(kwargs, error, field):
    with pytest.raises(error, match=field):
        SyntheticClipDataset(**kwargs)


def test_index_out_of_range_raises_index_error():
    dataset = SyntheticClipDataset(2, 2, CFG)
    with pytest.raises(IndexError):
        dataset[2]


def test_multi_size_clips_alternate_sizes_by_index():
    start = SPLIT_SEEDS["train"].start
    data = MultiSizeClipDataset(
        4, 2, SyntheticVideoConfig(max_object_size=12), start, [(32, 48), (64, 64)]
    )
    assert len(data) == 4
    shapes = [tuple(data[i].frames.shape[-2:]) for i in range(4)]
    assert shapes == [(32, 48), (64, 64), (32, 48), (64, 64)]
    assert [data[i].seed for i in range(4)] == [start + i for i in range(4)]
    with pytest.raises(ValueError, match="frame_sizes must hold at least one"):
        MultiSizeClipDataset(4, 2, SyntheticVideoConfig(), start, [])
