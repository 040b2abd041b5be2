"""Drift training: clips cut with context, windows cut during the step, windows that follow the
model (training/clip_frames.py, training/drift_windows.py)."""

import dataclasses

import pytest
import torch

from sam2_enhanced import build_model, load_config
from sam2_enhanced.config import SearchWindowConfig
from sam2_enhanced.data.clip_dataset import collate_clips
from sam2_enhanced.data.synthetic import SyntheticVideoConfig
from sam2_enhanced.modeling.sam_mask_head import NO_OBJ_SCORE, MaskHeadOutput
from sam2_enhanced.predictor.object_windows import WindowPlanner
from sam2_enhanced.training.clip_frames import ContextFrames, EncodedFrames
from sam2_enhanced.training.config import TrainConfig
from sam2_enhanced.training.drift_windows import DriftWindows
from sam2_enhanced.training.sequence import SequenceLoss
from sam2_enhanced.training.window_clips import WindowClipDataset

S = 112  # the tiny model's input side


def window_data(context_scale: float) -> WindowClipDataset:
    return WindowClipDataset(
        2,
        3,
        SyntheticVideoConfig(num_frames=3, max_objects=2),
        0,
        image_size=S,
        window=SearchWindowConfig(),
        frame_sizes=[(240, 320)],
        centre_jitter=0.3,
        scale_jitter=0.1,
        context_scale=context_scale,
    )


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_model(load_config("tiny")).eval()


def test_context_clips_are_cut_larger_around_the_same_windows():
    plain, wide = window_data(1.0)[0], window_data(2.0)[0]
    assert plain.context_xyxy is None and plain.frames.shape[-1] == S
    assert wide.frames.shape[-1] == 2 * S and wide.masks.shape[-1] == 2 * S
    torch.testing.assert_close(wide.windows_xyxy, plain.windows_xyxy)
    sides = wide.context_xyxy[:, 2:] - wide.context_xyxy[:, :2]
    torch.testing.assert_close(sides, 2 * (plain.windows_xyxy[:, 2:] - plain.windows_xyxy[:, :2]))
    assert wide.video_hw == (240, 320)
    batch = collate_clips([wide, window_data(2.0)[1]])
    assert batch.context_xyxy.shape == (2, 3, 4) and batch.video_hw.tolist() == [[240, 320]] * 2


@pytest.mark.parametrize("scale", [0.5, 0.0])
def test_context_scale_below_one_is_refused(scale):
    with pytest.raises(ValueError, match="context_scale must be >= 1"):
        window_data(scale)


def test_mixing_clips_with_and_without_context_is_refused():
    data = window_data(2.0)
    with pytest.raises(ValueError, match="context_xyxy"):
        collate_clips([dataclasses.replace(data[0], context_xyxy=None), data[1]])


def test_context_frames_cut_the_datasets_windows_like_the_dataset(model):
    wide = collate_clips([window_data(2.0)[0]])
    plain = collate_clips([window_data(1.0)[0]])
    frames = ContextFrames(model, wide, 0)
    for t in range(3):
        frame = frames(t)
        # rounded to whole context pixels (under one video pixel here)
        torch.testing.assert_close(frame.window_xyxy, plain.windows_xyxy[0, t], atol=1.0, rtol=0)
        # cut from a 2x context then resized: the same window content as the direct crop
        overlap = (frame.truth.masks * plain.masks[0, t]).sum()
        union = ((frame.truth.masks + plain.masks[0, t]) > 0).sum()
        assert overlap / union.clamp(min=1) > 0.8
        assert frame.encoded.features.shape[0] == 1
    # a window of the step's own, half a window to the right: the target moves left in it
    shifted = plain.windows_xyxy[0, 1] + torch.tensor([1.0, 0.0, 1.0, 0.0]) * S / 4
    moved = frames(1, shifted)
    torch.testing.assert_close(moved.window_xyxy, shifted.round(), atol=2.0, rtol=0)
    target = int(wide.trackable[0].nonzero()[0])
    if frame.truth.visibility[target] > 0 and moved.truth.visibility[target] > 0:
        before = frames(1).truth.boxes_xyxy[target]
        after = moved.truth.boxes_xyxy[target]
        assert after[0] < before[0]


def test_encoded_frames_refuse_a_window_of_their_own(model):
    batch = collate_clips([window_data(1.0)[0]])
    frames = EncodedFrames([None] * 3, batch, 0)
    with pytest.raises(ValueError, match="cannot be cut to another window"):
        frames(1, torch.tensor([0.0, 0.0, 10.0, 10.0]))


def mask_output(square: tuple[int, int, int, int] | None, visible: bool) -> MaskHeadOutput:
    """One object's (1, 1, 32, 32) logits: positive on ``square`` (x0, y0, x1, y1 in cells)."""
    logits = torch.full((1, 1, 32, 32), NO_OBJ_SCORE)
    if square is not None:
        x0, y0, x1, y1 = square
        logits[0, 0, y0:y1, x0:x1] = 5.0
    score = torch.tensor([[3.0 if visible else -3.0]])
    return MaskHeadOutput(
        mask_logits=logits,
        multimask_logits=logits,
        iou_preds=torch.zeros(1, 1),
        object_score_logits=score,
        obj_ptr=torch.zeros(1, 8),
    )


def drift(prob: float) -> DriftWindows:
    planner = WindowPlanner(SearchWindowConfig(min_side=16.0), image_size=S)
    contexts = torch.tensor([[0.0, 0.0, 256.0, 256.0]]).repeat(4, 1)
    return DriftWindows(planner, prob, contexts, video_hw=(512, 512))


def test_followed_windows_go_where_the_model_saw_the_target():
    follow = drift(1.0)
    generator = torch.Generator().manual_seed(0)
    assert follow.window(0, generator) is None  # the prompted frame keeps the dataset's window
    window = torch.tensor([0.0, 0.0, 128.0, 128.0])  # 4 video px per mask cell
    follow.follow(mask_output((14, 14, 18, 18), visible=True), window)  # box 56..72
    follow.follow(mask_output((20, 14, 24, 18), visible=True), window)  # moved right: 80..96
    placed = follow.window(2, generator)
    centre = (placed[:2] + placed[2:]) / 2
    torch.testing.assert_close(centre, torch.tensor([88.0, 64.0]), atol=1.0, rtol=0)
    assert placed[2] - placed[0] == pytest.approx(4 * 16, abs=1)  # search_scale x its size


def test_a_lost_target_grows_its_window_inside_the_context():
    follow = drift(1.0)
    generator = torch.Generator().manual_seed(0)
    window = torch.tensor([0.0, 0.0, 128.0, 128.0])
    follow.follow(mask_output((14, 14, 18, 18), visible=True), window)
    seen = follow.window(1, generator)
    follow.follow(mask_output(None, visible=False), window)
    follow.follow(mask_output(None, visible=False), window)
    lost = follow.window(3, generator)
    assert lost[2] - lost[0] > seen[2] - seen[0]  # grown while absent
    assert (lost[:2] >= 0).all() and (lost[2:] <= 256).all()  # kept inside the context


def test_no_followed_windows_at_probability_zero():
    follow = drift(0.0)
    generator = torch.Generator().manual_seed(0)
    follow.follow(mask_output((14, 14, 18, 18), visible=True), torch.tensor([0.0, 0, 128, 128]))
    assert all(follow.window(t, generator) is None for t in range(4))


@pytest.mark.parametrize("prob", [-0.1, 1.5])
def test_bad_drift_probability_raises(prob):
    with pytest.raises(ValueError, match="prob must be in"):
        drift(prob)


@pytest.mark.parametrize(
    "fields, message",
    [
        (dict(prob_drift_window=0.5), "needs train.use_windows"),
        (dict(prob_drift_window=0.5, use_windows=True), "window_context > 1"),
        (dict(window_context=0.5), "window_context must be >= 1"),
        (dict(prob_drift_window=2.0, use_windows=True, window_context=2.0), r"\[0, 1\]"),
    ],
)
def test_drift_config_is_checked(fields, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**fields)


def test_drift_training_step_cuts_windows_from_the_models_predictions(monkeypatch):
    torch.manual_seed(0)
    model = build_model(load_config("tiny")).train()
    batch = collate_clips([window_data(2.0)[0], window_data(2.0)[1]])
    cfg = TrainConfig(use_windows=True, window_context=2.0, prob_drift_window=1.0)
    cuts = []
    cut = ContextFrames.__call__

    def spy(self, t, window_xyxy=None):
        cuts.append((t, window_xyxy))
        return cut(self, t, window_xyxy)

    monkeypatch.setattr(ContextFrames, "__call__", spy)
    out = SequenceLoss(model, cfg)(batch, torch.Generator().manual_seed(0))
    assert torch.isfinite(out.total) and out.total > 0
    out.total.backward()
    assert model.memory_attention.time_embed.grad.abs().sum() > 0
    assert len(cuts) == 2 * 3
    followed = [window for t, window in cuts if t > 0]
    assert all(window is not None for window in followed)  # prob 1: every later frame
    assert all(window is None for t, window in cuts if t == 0)
    no_drift = dataclasses.replace(cfg, prob_drift_window=0.0)
    cuts.clear()
    SequenceLoss(model, no_drift)(batch, torch.Generator().manual_seed(0))
    assert all(window is None for _, window in cuts)


def test_drift_training_without_video_sizes_is_refused():
    model = build_model(load_config("tiny")).train()
    batch = collate_clips([window_data(2.0)[0]])
    cfg = TrainConfig(use_windows=True, window_context=2.0, prob_drift_window=1.0)
    with pytest.raises(ValueError, match="video_hw"):
        SequenceLoss(model, cfg)(
            dataclasses.replace(batch, video_hw=None), torch.Generator().manual_seed(0)
        )
