"""Training clips cut into search windows (training/window_clips.py)."""

import numpy as np
import pytest
import torch

from sam2_enhanced.config import SearchWindowConfig
from sam2_enhanced.data.clip_dataset import collate_clips
from sam2_enhanced.data.synthetic import SyntheticVideoConfig
from sam2_enhanced.modeling.search_window import mask_boxes
from sam2_enhanced.training.window_clips import (
    WindowClipDataset,
    jitter_boxes,
    last_known_boxes,
    window_frame_sizes,
)

S = 56


def dataset(**kwargs):
    args = dict(
        image_size=S,
        window=SearchWindowConfig(),
        frame_sizes=[(96, 128), (240, 320)],
        centre_jitter=0.0,
        scale_jitter=0.0,
    )
    args.update(kwargs)
    return WindowClipDataset(4, 3, SyntheticVideoConfig(num_frames=3), 0, **args)


def test_items_are_window_clips_with_one_trackable_target():
    data = dataset()
    for i in range(len(data)):
        item = data[i]
        assert item.frames.shape == (3, 3, S, S) and item.masks.shape[-2:] == (S, S)
        assert item.windows_xyxy.shape == (3, 4)
        assert int(item.trackable.sum()) == 1
        target = int(item.trackable.nonzero())
        box = mask_boxes(item.masks[0, target : target + 1] > 0)[0]
        assert box is not None  # visible on the prompted frame
        centre = (box[:2] + box[2:]) / 2
        # no jitter: frame 0's window is centred on the target (up to the frame's edge)
        if (item.windows_xyxy[0, :2] > 0).all():
            assert (centre - S / 2).abs().max() <= S / 8
    sides = {int(data[i].windows_xyxy[0, 2] - data[i].windows_xyxy[0, 0]) for i in range(4)}
    assert len(sides) >= 1


def test_later_windows_follow_the_previous_frames_box():
    data = dataset()
    item = data[1]
    video = data.videos[1]  # item 1, rendered at the second size
    target = int(item.trackable.nonzero())
    known = last_known_boxes(video.masks[:, target])
    for t in range(1, 3):
        centre = (item.windows_xyxy[t, :2] + item.windows_xyxy[t, 2:]) / 2
        expected = (known[t - 1, :2] + known[t - 1, 2:]) / 2
        assert (centre - expected).abs().max() <= 1.0


def test_batches_keep_windows_and_trackable_objects():
    data = dataset()
    batch = collate_clips([data[0], data[1]])
    assert batch.windows_xyxy.shape == (2, 3, 4)
    assert batch.trackable.sum(dim=1).tolist() == [1, 1]


def test_jitter_moves_centres_within_the_bound():
    boxes = torch.tensor([[10.0, 10.0, 20.0, 20.0]]).repeat(200, 1)
    moved = jitter_boxes(boxes, 0.5, 0.0, np.random.default_rng(0))
    shift = (moved[:, :2] + moved[:, 2:]) / 2 - 15
    assert shift.abs().max() <= 5.0 + 1e-5 and shift.abs().max() > 2.0
    torch.testing.assert_close(moved[:, 2:] - moved[:, :2], boxes[:, 2:] - boxes[:, :2])


def test_last_known_boxes_hold_through_occlusion():
    masks = torch.zeros(4, 8, 8)
    masks[1, 2:4, 2:4] = 1
    masks[3, 5:7, 5:7] = 1
    boxes = last_known_boxes(masks)
    assert boxes[0].tolist() == boxes[1].tolist() == boxes[2].tolist() == [2, 2, 4, 4]
    assert boxes[3].tolist() == [5, 5, 7, 7]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"frame_sizes": []}, "at least one"),
        ({"centre_jitter": -0.1}, "jitter"),
        ({"scale_jitter": -1.0}, "jitter"),
    ],
)
def test_bad_arguments_raise(kwargs, error):
    with pytest.raises(ValueError, match=error):
        dataset(**kwargs)


def test_frame_sizes_from_longer_sides():
    assert window_frame_sizes([128, 640, 1280]) == [(96, 128), (360, 640), (720, 1280)]
