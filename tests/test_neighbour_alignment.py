"""Neighbour alignment for the motion branch: the camera shift is found and undone, untrusted
shifts are dropped, bad input is refused, and a model built with it reads no motion from a pan."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sam2_enhanced import build_model, load_config
from sam2_enhanced.config import DecoderConfig
from sam2_enhanced.modeling import neighbour_alignment
from sam2_enhanced.modeling.neighbour_alignment import (
    align_neighbours,
    estimate_shifts,
    shift_onto,
)

S = 64  # frame side


def scene(side: int = S + 16, seed: int = 0) -> torch.Tensor:
    """(3, side, side) smooth random texture in [0, 1]: plenty of corners to track."""
    generator = torch.Generator().manual_seed(seed)
    noise = torch.rand(1, 3, side // 4, side // 4, generator=generator)
    return F.interpolate(noise, size=(side, side), mode="bicubic", align_corners=False)[0].clamp(
        0, 1
    )


def panned_pair(dx: int, dy: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(1, 3, S, S) frame and neighbour of one scene: a scene point at ``p`` in the neighbour is
    at ``p + (dx, dy)`` in the frame (the camera moved by ``-(dx, dy)``)."""
    world = scene(seed=seed)
    x, y = 8, 8
    neighbour = world[:, y : y + S, x : x + S]
    frame = world[:, y - dy : y - dy + S, x - dx : x - dx + S]
    return frame[None], neighbour[None]


@pytest.mark.parametrize(("dx", "dy"), [(0, 0), (3, 0), (-2, 4), (5, -5)])
def test_the_camera_shift_is_found(dx, dy):
    frame, neighbour = panned_pair(dx, dy)
    shift = estimate_shifts(frame, neighbour)[0]
    assert torch.allclose(shift, torch.tensor([dx, dy], dtype=shift.dtype), atol=0.25)


def test_aligning_cancels_a_pan_away_from_the_strip_that_entered_the_view():
    frame, neighbour = panned_pair(3, -2)
    aligned = align_neighbours(frame, neighbour)
    inner = (slice(None), slice(None), slice(4, S - 4), slice(4, S - 4))
    assert (frame - neighbour)[inner].abs().mean() > 0.02
    assert (frame - aligned)[inner].abs().mean() < 0.1 * (frame - neighbour)[inner].abs().mean()


def test_frames_are_aligned_one_by_one():
    pairs = [panned_pair(2, 1, seed=1), panned_pair(0, -3, seed=2)]
    frames = torch.cat([p[0] for p in pairs])
    neighbours = torch.cat([p[1] for p in pairs])
    batched = align_neighbours(frames, neighbours)
    alone = torch.cat([align_neighbours(f, n) for f, n in pairs])
    assert torch.allclose(batched, alone, atol=1e-6)


def test_shift_onto_moves_content_and_fills_the_entered_strip():
    image = torch.arange(8.0).repeat(1, 1, 4, 1)  # (1, 1, 4, 8) columns 0..7
    fill = torch.full_like(image, -1.0)
    moved = shift_onto(image, torch.tensor([[2.0, 0.0]]), fill)
    assert torch.equal(moved[..., 2:], image[..., :-2])  # content moved right by 2
    assert torch.equal(moved[..., :2], fill[..., :2])  # no source there: the fill


def test_a_frame_that_is_its_own_neighbour_is_left_alone():
    frame, _ = panned_pair(0, 0)
    assert torch.equal(estimate_shifts(frame, frame), torch.zeros(1, 2))
    assert align_neighbours(frame, frame) is frame


@pytest.mark.parametrize("frame_value", [0.0, 1.0])
def test_flat_frames_give_no_shift_and_no_crash(frame_value):
    frame = torch.full((2, 3, S, S), frame_value)
    neighbour = torch.zeros_like(frame)
    assert torch.equal(align_neighbours(frame, neighbour), neighbour)


@pytest.mark.parametrize(
    "estimate",
    [np.array([np.nan, 0.0]), np.array([0.0, np.inf]), np.array([S * 0.3, 0.0])],
    ids=["nan", "inf", "beyond a quarter of the side"],
)
def test_untrusted_estimates_are_dropped(monkeypatch, estimate):
    frame, neighbour = panned_pair(2, 2)
    monkeypatch.setattr(neighbour_alignment, "camera_shift", lambda prev, cur: estimate)
    assert torch.equal(estimate_shifts(frame, neighbour), torch.zeros(1, 2))
    assert torch.equal(align_neighbours(frame, neighbour), neighbour)


def test_a_shift_that_matches_worse_than_none_is_not_applied(monkeypatch):
    frame, neighbour = panned_pair(0, 0, seed=3)
    frame = frame.clone()
    frame[..., 20:30, 20:30] = 1.0  # something moved; the background did not
    monkeypatch.setattr(neighbour_alignment, "camera_shift", lambda prev, cur: np.array([4.0, 0]))
    assert torch.equal(align_neighbours(frame, neighbour), neighbour)


@pytest.mark.parametrize(
    ("frames", "neighbours", "fraction", "match"),
    [
        ((1, 3, S, S), (1, 3, S, S - 1), 0.25, "images and neighbours must both be"),
        ((1, 1, S, S), (1, 1, S, S), 0.25, "images and neighbours must both be"),
        ((3, S, S), (3, S, S), 0.25, "images and neighbours must both be"),
        ((1, 3, S, S), (1, 3, S, S), 0.0, "max_shift_fraction must be in"),
    ],
)
def test_bad_input_raises(frames, neighbours, fraction, match):
    with pytest.raises(ValueError, match=match):
        estimate_shifts(torch.rand(frames), torch.rand(neighbours), fraction)


def test_alignment_needs_a_motion_branch():
    with pytest.raises(ValueError, match="use_motion_alignment needs a motion branch"):
        DecoderConfig(motion_dim=0, use_motion_alignment=True)


def test_a_model_with_alignment_reads_no_motion_from_a_camera_pan():
    cfg = load_config("tiny")
    cfg.decoder.motion_dim = 8
    side = cfg.encoder.image_size
    world = F.interpolate(scene(seed=4)[None], size=(side + 16, side + 16), mode="bilinear")[0]
    neighbour = world[None, :, 8 : 8 + side, 8 : 8 + side]
    frame = world[None, :, 5 : 5 + side, 8 : 8 + side]  # the camera moved 3 px down
    maps = {}
    for use_alignment in (False, True):
        cfg.decoder.use_motion_alignment = use_alignment
        torch.manual_seed(0)
        model = build_model(cfg).eval()
        assert model.motion_branch.use_alignment is use_alignment
        torch.nn.init.normal_(model.motion_branch.net[-1].weight, std=0.5)  # as if trained
        with torch.no_grad():
            maps[use_alignment] = model.encode_image(frame, neighbour).motion.abs().mean()
    assert maps[True] < 0.2 * maps[False]
