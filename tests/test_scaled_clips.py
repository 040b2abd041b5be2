"""Whole-frame clips rendered at several square sides and resized to the model input."""

import dataclasses

import pytest
import torch

from sam2_enhanced.box_ops import masks_to_boxes_xyxy
from sam2_enhanced.data.clip_dataset import SyntheticClipDataset, collate_clips
from sam2_enhanced.data.splits import SPLIT_SEEDS
from sam2_enhanced.data.synthetic import SyntheticVideoConfig
from sam2_enhanced.training.config import TrainConfig, load_train_config
from sam2_enhanced.training.scaled_clips import ScaledClipDataset, rescale_clip
from sam2_enhanced.training.sequence import resize_frames
from sam2_enhanced.training.trainer import Trainer

CFG = SyntheticVideoConfig(max_object_size=12, prob_occlusion=0.0, prob_exit=0.0)
START = SPLIT_SEEDS["train"].start


def dataset(sides, output_side=64, num_videos=4):
    return ScaledClipDataset(
        num_videos, 2, CFG, START, frame_sides=sides, output_side=output_side
    )  # fmt: skip


def test_sides_alternate_and_every_clip_has_the_output_shape():
    data = dataset([32, 64])
    for index, side in [(0, 32), (1, 64), (2, 32), (3, 64)]:
        rendered = SyntheticClipDataset(
            4, 2, dataclasses.replace(CFG, height=side, width=side), START
        )
        sample = data[index]
        assert sample.seed == START + index
        assert sample.frames.shape == (2, 3, 64, 64)
        assert torch.equal(sample.frames, resize_frames(rendered[index].frames, 64))
    batch = collate_clips([data[0], data[1]])  # two sides, one batch shape
    assert batch.frames.shape == (2, 2, 3, 64, 64)


def test_rescale_scales_boxes_with_the_masks():
    sample = SyntheticClipDataset(1, 2, dataclasses.replace(CFG, height=32, width=32), START)[0]
    scaled = rescale_clip(sample, 96)  # 3x
    visible = sample.visibility > 0  # (T, O)
    assert torch.equal(scaled.boxes_xyxy[visible], sample.boxes_xyxy[visible] * 3)
    assert torch.all(scaled.boxes_xyxy[~visible] == 0)
    assert set(scaled.masks.unique().tolist()) <= {0.0, 1.0}
    mask_boxes = masks_to_boxes_xyxy(scaled.masks[visible])  # (K, 4) tight boxes of the masks
    assert torch.allclose(mask_boxes, scaled.boxes_xyxy[visible], atol=2.0)
    assert torch.equal(scaled.visibility, sample.visibility)
    assert torch.equal(scaled.class_ids, sample.class_ids)


def test_a_clip_without_objects_is_rescaled():
    sample = SyntheticClipDataset(1, 2, dataclasses.replace(CFG, height=32, width=32), START)[0]
    empty = dataclasses.replace(
        sample,
        boxes_xyxy=sample.boxes_xyxy[:, :0],
        masks=sample.masks[:, :0],
        visibility=sample.visibility[:, :0],
        class_ids=sample.class_ids[:0],
        track_ids=sample.track_ids[:0],
    )
    scaled = rescale_clip(empty, 64)
    assert scaled.masks.shape == (2, 0, 64, 64) and scaled.boxes_xyxy.shape == (2, 0, 4)
    assert scaled.frames.shape == (2, 3, 64, 64)


def test_a_clip_at_the_output_side_is_returned_unchanged():
    sample = SyntheticClipDataset(1, 2, dataclasses.replace(CFG, height=64, width=64), START)[0]
    assert rescale_clip(sample, 64) is sample


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: dataset([]), "frame_sides must hold"),
        (lambda: dataset([8, 64]), "frame_sides must hold"),
        (lambda: dataset([32], output_side=8), "output_side must be >= 16"),
        (lambda: dataset([32], num_videos=-1), "num_videos"),
    ],
)
def test_bad_arguments_raise(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_rescale_refuses_non_square_and_window_clips():
    cfg = dataclasses.replace(CFG, height=32, width=48)
    sample = SyntheticClipDataset(1, 2, cfg, START)[0]
    with pytest.raises(ValueError, match="square frames, got 32x48"):
        rescale_clip(sample, 64)
    square = SyntheticClipDataset(1, 2, dataclasses.replace(CFG, height=32, width=32), START)[0]
    window = dataclasses.replace(square, windows_xyxy=torch.zeros(2, 4))
    with pytest.raises(ValueError, match="whole-frame clips"):
        rescale_clip(window, 64)


@pytest.mark.parametrize(
    "fields", [dict(frame_sides=(8, 64)), dict(frame_sides=(128,), use_windows=True)]
)
def test_train_config_checks_frame_sides(fields):
    with pytest.raises(ValueError, match="train.frame_sides needs"):
        TrainConfig(**fields)


def test_the_trainer_uses_the_sides(tmp_path):
    overrides = [f"train.output_dir={tmp_path}", "train.frame_sides=[48,112]"]
    trainer = Trainer(load_train_config("train_tiny", overrides))
    data = trainer.train_dataset()
    assert isinstance(data, ScaledClipDataset)
    assert data[0].frames.shape[-1] == data[1].frames.shape[-1] == trainer.model.image_size
