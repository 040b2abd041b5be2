"""Online target models of prompted objects (target_tracking.py), without a network."""

import math

import pytest
import torch
import torch.nn.functional as F

from sam2_enhanced.config import TargetModelConfig
from sam2_enhanced.predictor.target_tracking import OnlineTargets, box_mask_logits, clip_to_box

HEIGHT, WIDTH = 120, 160


def scene(seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    noise = torch.rand(3, HEIGHT, WIDTH, generator=gen) * 100 + 60
    return F.avg_pool2d(noise[None], 5, stride=1, padding=2)[0]


def frame_with(cx: float, cy: float, side: int = 6, image=None) -> torch.Tensor:
    """(3, H, W) uint8 with a red square of ``side`` px centred at (cx, cy)."""
    frame = (scene() if image is None else image).clone()
    x0, y0 = round(cx - side / 2), round(cy - side / 2)
    x0c, y0c = max(x0, 0), max(y0, 0)
    frame[:, y0c : max(y0 + side, 0), x0c : max(x0 + side, 0)] = torch.tensor([230.0, 40.0, 40.0])[
        :, None, None
    ]
    return frame.round().byte()


def box_at(cx: float, cy: float, side: float = 6.0) -> torch.Tensor:
    return torch.tensor([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2])


def run(targets_model, frames, start_box):
    """Track through frames with the target model alone: (T, 4) boxes, NaN when absent."""
    target = targets_model.start(frames[0], start_box)
    boxes = [start_box]
    for frame in frames[1:]:
        estimate = targets_model.estimate(frame, [target])
        out, _ = targets_model.choose(estimate, [None], [target])
        targets_model.observe(frame, [target], out, estimate.reliable)
        boxes.append(out[0])
    return torch.stack(boxes), target


def test_a_moving_target_is_followed():
    model = OnlineTargets(TargetModelConfig(mode="target"))
    path = [(40 + 3 * t, 50 + 1.5 * t) for t in range(20)]
    frames = [frame_with(x, y) for x, y in path]
    boxes, target = run(model, frames, box_at(*path[0]))
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    error = (centres - torch.tensor(path)).norm(dim=1)
    assert error.max() < 2.0
    assert target.motion.mean[0, 2:].tolist() == pytest.approx([3.0, 1.5], abs=0.6)


def test_an_all_black_frame_is_absent_and_teaches_nothing():
    model = OnlineTargets(TargetModelConfig(mode="target"))
    target = model.start(frame_with(80, 60), box_at(80, 60))
    before = target.filter.numerator.clone()
    black = torch.zeros(3, HEIGHT, WIDTH, dtype=torch.uint8)
    estimate = model.estimate(black, [target])
    assert not bool(estimate.present[0]) and not bool(estimate.reliable[0])
    out, _ = model.choose(estimate, [None], [target])
    assert torch.isnan(out).all()
    model.observe(black, [target], out, estimate.reliable)
    torch.testing.assert_close(target.filter.numerator, before)
    assert target.lost_frames == 1


def test_a_constant_frame_has_no_peak_and_no_crash():
    model = OnlineTargets(TargetModelConfig(mode="target"))
    flat = torch.full((3, HEIGHT, WIDTH), 128, dtype=torch.uint8)
    target = model.start(flat, box_at(80, 60))
    estimate = model.estimate(flat, [target])
    assert estimate.boxes_xyxy.isfinite().all()
    assert not bool(estimate.reliable[0])


@pytest.mark.parametrize(
    "box",
    [
        torch.tensor([80.0, 60.0, 81.0, 61.0]),  # 1 px
        torch.tensor([0.0, 0.0, 6.0, 6.0]),  # at the corner
        torch.tensor([156.0, 50.0, 162.0, 56.0]),  # leaving the frame
    ],
)
def test_tiny_and_border_boxes_start_and_track_without_error(box):
    model = OnlineTargets(TargetModelConfig(mode="target"))
    cx, cy = float((box[0] + box[2]) / 2), float((box[1] + box[3]) / 2)
    frames = [frame_with(cx, cy, side=max(int(box[2] - box[0]), 1))] * 3
    boxes, _ = run(model, frames, box)
    assert boxes.shape == (3, 4)


def test_start_rejects_a_non_finite_box():
    model = OnlineTargets(TargetModelConfig(mode="target"))
    with pytest.raises(ValueError, match="finite"):
        model.start(frame_with(80, 60), torch.tensor([math.nan, 0.0, 4.0, 4.0]))


def test_fused_keeps_an_agreeing_mask_and_refuses_a_flood():
    model = OnlineTargets(TargetModelConfig(mode="fused"))
    target = model.start(frame_with(80, 60), box_at(80, 60))
    estimate = model.estimate(frame_with(82, 60), [target])
    agreeing = box_at(82, 60, 7.0)
    flood = torch.tensor([0.0, 0.0, 150.0, 110.0])
    elsewhere = box_at(20, 20)
    boxes, use_network = model.choose(
        estimate.__class__(*(torch.cat([v, v, v]) for v in estimate.__dict__.values())),
        [agreeing, flood, elsewhere],
        [target] * 3,
    )
    assert use_network.tolist() == [True, False, False]  # the mask shapes the first only
    torch.testing.assert_close(boxes[0], estimate.boxes_xyxy[0])  # placed by the filter
    torch.testing.assert_close(boxes[1], estimate.boxes_xyxy[0])  # the filter's box instead
    torch.testing.assert_close(boxes[2], estimate.boxes_xyxy[0])


def test_target_mode_never_takes_the_mask():
    model = OnlineTargets(TargetModelConfig(mode="target"))
    target = model.start(frame_with(80, 60), box_at(80, 60))
    estimate = model.estimate(frame_with(80, 60), [target])
    _, use_network = model.choose(estimate, [box_at(80, 60)], [target])
    assert not bool(use_network[0])


def test_batched_estimates_equal_one_object_at_a_time():
    model = OnlineTargets(TargetModelConfig(mode="target"))
    first = frame_with(40, 40, image=frame_with(120, 80).float())
    moved = frame_with(43, 41, image=frame_with(118, 83).float())
    boxes = [box_at(40, 40), box_at(120, 80)]
    together = model.estimate(moved, [model.start(first, b) for b in boxes])
    apart = [model.estimate(moved, [model.start(first, b)]) for b in boxes]
    torch.testing.assert_close(together.boxes_xyxy, torch.cat([a.boxes_xyxy for a in apart]))
    torch.testing.assert_close(together.psr, torch.cat([a.psr for a in apart]))


def test_a_mask_cut_to_a_box_cannot_flood():
    window = torch.tensor([0.0, 0.0, 64.0, 64.0])
    flood = torch.full((1, 64, 64), 5.0)
    clipped = clip_to_box(flood, torch.tensor([20.0, 20.0, 30.0, 30.0]), window, 1.0)
    inside = (clipped[0] > 0).nonzero()
    assert inside[:, 0].min() == 20 and inside[:, 0].max() == 29
    assert (clipped[0, 40:] <= -10).all()


def test_a_box_drawn_as_a_mask_comes_back_as_the_box():
    window = torch.tensor([0.0, 0.0, 64.0, 64.0])
    logits = box_mask_logits(torch.tensor([10.0, 20.0, 30.0, 26.0]), window, 64)
    assert logits.shape == (1, 64, 64)
    inside = (logits[0] > 0).nonzero()
    assert inside[:, 1].min() == 10 and inside[:, 1].max() == 29  # columns: x
    assert inside[:, 0].min() == 20 and inside[:, 0].max() == 25  # rows: y


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("mode", "both"),
        ("template_side", 61),
        ("num_scales", 2),
        ("learning_rate", 1.5),
        ("max_area_ratio", 0.5),
        ("min_side", 0.0),
    ],
)
def test_config_rejects_bad_values(key, value):
    with pytest.raises(ValueError, match="target_model"):
        TargetModelConfig(**{key: value})
