"""Detection tiles: grid geometry, tile boxes mapped to video pixels, the NMS merge (no model)."""

import numpy as np
import pytest
import torch

from sam2_enhanced.modeling.detection_tiles import (
    merge_detections,
    tile_boxes_to_frame,
    tile_grid,
    tile_starts,
)


def coverage(tiles: torch.Tensor, frame_hw: tuple[int, int]) -> np.ndarray:
    """(H, W) count of tiles over each frame pixel."""
    count = np.zeros(frame_hw, dtype=np.int64)
    for x0, y0, x1, y1 in tiles.long().tolist():
        count[max(y0, 0) : y1, max(x0, 0) : x1] += 1
    return count


@pytest.mark.parametrize(
    ("frame_hw", "side", "overlap"),
    [((512, 640), 224, 0.25), ((720, 1280), 224, 0.2), ((100, 1000), 64, 0.5), ((333, 97), 50, 0)],
)
def test_grid_covers_the_frame_with_the_overlap(frame_hw, side, overlap):
    tiles = tile_grid(frame_hw, tile_side=side, overlap=overlap, max_tiles=1000)
    height, width = frame_hw
    assert (coverage(tiles, frame_hw) >= 1).all()
    sides = tiles[:, 2:] - tiles[:, :2]
    assert (sides == side).all()  # square tiles of the asked side
    assert (tiles[:, :2] >= 0).all()
    assert (tiles[:, 2] <= max(width, side)).all() and (tiles[:, 3] <= max(height, side)).all()
    for axis, length in ((0, width), (1, height)):
        starts = sorted(set(tiles[:, axis].long().tolist()))
        steps = np.diff(starts)
        assert (steps <= side * (1 - overlap)).all()  # neighbours overlap by >= overlap
        if length > side:
            assert starts[-1] == length - side  # the edge tile is shifted inward


def test_edge_tile_shifted_inward_example():
    assert tile_starts(100, 40, 0.25) == [0, 30, 60]
    assert tile_starts(101, 40, 0.25) == [0, 30, 60, 61]
    assert tile_starts(40, 40, 0.5) == [0]


@pytest.mark.parametrize("frame_hw", [(20, 30), (1, 1), (50, 64)])
def test_frame_smaller_than_a_tile_gives_one_padded_tile(frame_hw):
    tiles = tile_grid(frame_hw, tile_side=64, overlap=0.25, max_tiles=4)
    assert tiles.tolist() == [[0.0, 0.0, 64.0, 64.0]]


def test_non_square_frame_smaller_than_a_tile_along_one_side():
    tiles = tile_grid((40, 300), tile_side=64, overlap=0.0, max_tiles=100)
    assert set(tiles[:, 1].tolist()) == {0.0} and tiles.shape[0] == 5  # one row, padded below
    assert (coverage(tiles, (40, 300)) >= 1).all()


def test_max_tiles_grows_the_side_and_keeps_coverage():
    frame_hw = (720, 1280)
    tiles = tile_grid(frame_hw, tile_side=128, overlap=0.25, max_tiles=6)
    assert tiles.shape[0] <= 6
    sides = tiles[:, 2] - tiles[:, 0]
    assert (sides > 128).all()
    assert (coverage(tiles, frame_hw) >= 1).all()
    assert tile_grid(frame_hw, tile_side=16, overlap=0.9, max_tiles=1).shape == (1, 4)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"frame_hw": (0, 10)}, "frame_hw"),
        ({"tile_side": 0}, "tile_side"),
        ({"overlap": 1.0}, "overlap"),
        ({"overlap": -0.1}, "overlap"),
        ({"max_tiles": 0}, "max_tiles"),
    ],
)
def test_bad_grid_arguments(kwargs, match):
    args = {"frame_hw": (64, 64), "tile_side": 32, "overlap": 0.25, "max_tiles": 4} | kwargs
    with pytest.raises(ValueError, match=match):
        tile_grid(args.pop("frame_hw"), **args)


def test_box_in_a_tile_maps_to_video_pixels():
    tiles = torch.tensor([[100.0, 50.0, 300.0, 250.0], [0.0, 0.0, 64.0, 64.0]])  # sides 200, 64
    boxes = torch.tensor(
        [
            [[0.5, 0.5, 0.1, 0.2]],  # tile 0: centre (200, 150), 20 x 40 px
            [[0.25, 0.75, 0.5, 0.5]],  # tile 1: centre (16, 48), 32 x 32 px
        ]
    )
    frame = tile_boxes_to_frame(boxes, tiles, (480, 640))
    assert frame.shape == (2, 1, 4)
    torch.testing.assert_close(frame[0, 0], torch.tensor([190.0, 130.0, 210.0, 170.0]))
    torch.testing.assert_close(frame[1, 0], torch.tensor([0.0, 32.0, 32.0, 64.0]))


def test_boxes_are_clipped_and_padding_boxes_have_no_area():
    tiles = torch.tensor([[0.0, 0.0, 64.0, 64.0]])  # frame is 40 x 30: the rest is padding
    boxes = torch.tensor([[[0.9, 0.9, 0.1, 0.1], [0.5, 0.25, 0.5, 0.5]]])
    frame = tile_boxes_to_frame(boxes, tiles, (30, 40))
    wh = frame[0, :, 2:] - frame[0, :, :2]
    assert (wh[0] == 0).any()  # wholly in the padding
    torch.testing.assert_close(frame[0, 1], torch.tensor([16.0, 0.0, 40.0, 30.0]))


@pytest.mark.parametrize(
    ("boxes", "tiles", "match"),
    [
        (torch.zeros(2, 4), torch.zeros(2, 4), "boxes_cxcywh"),
        (torch.zeros(2, 3, 4), torch.zeros(3, 4), "one \\(4,\\) tile"),
    ],
)
def test_bad_box_shapes(boxes, tiles, match):
    with pytest.raises(ValueError, match=match):
        tile_boxes_to_frame(boxes, tiles, (64, 64))


def test_merge_removes_duplicates_across_overlapping_tiles():
    # one object seen by two overlapping tiles (near-identical boxes) and cut off by a third
    # tile's edge (a part inside the whole box), plus a distinct object and another class
    boxes = np.array(
        [
            [100, 100, 120, 118],  # tile A
            [101, 100, 120, 119],  # tile B, same object
            [100, 100, 108, 118],  # tile C, cut off at its edge
            [300, 300, 310, 310],  # another object
            [100, 100, 120, 118],  # same place, another class
        ],
        dtype=np.float64,
    )
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    labels = np.array([0, 0, 0, 0, 1])
    keep = merge_detections(boxes, scores, labels, metric="ios", threshold=0.6)
    assert keep.tolist() == [True, False, False, True, True]
    keep_iou = merge_detections(boxes, scores, labels, metric="iou", threshold=0.6)
    assert keep_iou.tolist() == [True, False, True, True, True]  # IoU keeps the cut-off part


def test_merge_of_nothing_and_bad_merge_input():
    assert merge_detections(np.zeros((0, 4)), np.zeros(0), np.zeros(0)).shape == (0,)
    with pytest.raises(ValueError, match="metric"):
        merge_detections(np.zeros((1, 4)), np.ones(1), np.zeros(1), metric="giou")
    with pytest.raises(ValueError, match="one score and one label"):
        merge_detections(np.zeros((2, 4)), np.ones(1), np.zeros(2))
