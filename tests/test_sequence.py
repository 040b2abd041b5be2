"""Sequence training: memory readouts as the bank keeps them, targets, and the in-graph loop."""

import dataclasses

import pytest
import torch

from sam2_enhanced import build_model, load_config
from sam2_enhanced.data.clip_dataset import SyntheticClipDataset, collate_clips
from sam2_enhanced.data.synthetic import SyntheticVideoConfig
from sam2_enhanced.modeling.sam2_base_enhanced import FrameMemory
from sam2_enhanced.modeling.sam_mask_head import NO_OBJ_SCORE
from sam2_enhanced.training.config import TrainConfig
from sam2_enhanced.training.sequence import (
    DET_TERMS,
    LOSS_TERMS,
    ObjectHistory,
    SceneHistory,
    SequenceLoss,
    detection_targets,
    resize_frames,
    split_frames,
)

MEM_DIM, D, G = 4, 8, 2


def frame_memory(value: float, visible: bool = True) -> FrameMemory:
    """Memory of one object whose every tensor is filled with ``value``."""
    return FrameMemory(
        mask_features=torch.full((1, MEM_DIM, G, G), value),
        obj_ptrs=torch.full((1, D), value),
        object_tokens=torch.full((1, 1, MEM_DIM), value),
        object_visible=torch.tensor([visible]),
        scene_tokens=torch.full((2, MEM_DIM), value),
    )


def history_of(frames, max_cond=2, max_recent=2, max_ptrs=3):
    """frames: list of (frame_idx, is_cond, visible)."""
    history = ObjectHistory(
        max_cond_frames=max_cond, max_recent_frames=max_recent, max_obj_ptrs=max_ptrs
    )
    for t, is_cond, visible in frames:
        history.add(t, frame_memory(float(t), visible), 0, is_cond)
    return history


def test_readout_keeps_cond_recent_and_pointers_like_the_bank():
    frames = [
        (0, True, True),
        (1, False, True),
        (2, False, True),
        (3, False, False),
        (4, True, True),
        (5, False, True),
    ]
    view = history_of(frames).readout(6)
    assert view.features[:, 0, 0, 0].tolist() == [0.0, 4.0, 3.0, 5.0]  # cond 0, 4; recent 3, 5
    assert view.frame_offsets.tolist() == [6, 2, 3, 1]
    assert view.is_cond.tolist() == [True, True, False, False]
    assert view.obj_ptrs[:, 0].tolist() == [0.0, 4.0, 5.0]  # both cond + 1 most recent other
    assert view.ptr_offsets.tolist() == [6, 2, 1]
    assert view.det_tokens[:, 0].tolist() == [0.0, 4.0, 5.0]  # frame 3 was not visible


def test_single_cond_slot_keeps_the_newest_prompt():
    view = history_of([(0, True, True), (1, True, True), (2, False, True)], max_cond=1).readout(3)
    assert view.features[:, 0, 0, 0].tolist() == [1.0, 2.0]


def test_no_memory_before_the_first_frame():
    assert history_of([]).readout(0) is None


def test_scene_history_keeps_the_last_frames():
    scene = SceneHistory(2)
    assert scene.read() is None
    for t in range(3):
        scene.add(torch.full((t + 1, MEM_DIM), float(t)))
    assert scene.read()[:, 0].tolist() == [1.0, 1.0, 2.0, 2.0, 2.0]


def test_detection_targets_drop_hidden_degenerate_and_padded_objects():
    boxes = torch.tensor([[10.0, 20.0, 30.0, 60.0], [0, 0, 0, 0], [5, 5, 5, 9], [0, 0, 8, 8]])
    labels, targets = detection_targets(
        boxes, torch.tensor([1.0, 0.0, 0.5, 1.0]), torch.tensor([2, 1, 0, -1]), (80, 40)
    )
    assert labels.tolist() == [2]
    torch.testing.assert_close(targets, torch.tensor([[0.5, 0.5, 0.5, 0.5]]))


def test_resize_and_split_frames(tiny_model):
    frames = torch.rand(3, 3, 56, 56)
    assert resize_frames(frames, 112).shape == (3, 3, 112, 112)
    assert resize_frames(frames, 56) is frames
    encoded = tiny_model.encode_image(torch.rand(2, 3, 112, 112))
    parts = split_frames(encoded)
    assert len(parts) == 2
    torch.testing.assert_close(parts[1].fpn_s0, encoded.select(slice(1, 2)).fpn_s0)


@pytest.fixture(scope="module")
def clip_batch():
    cfg = SyntheticVideoConfig(
        height=56, width=56, num_frames=3, max_objects=2, min_object_size=6, max_object_size=20
    )
    dataset = SyntheticClipDataset(2, 3, cfg)
    return collate_clips([dataset[0], dataset[1]])


def test_losses_of_later_frames_reach_the_memory_encoder(clip_batch):
    torch.manual_seed(0)
    model = build_model(load_config("tiny")).train()
    loss_module = SequenceLoss(
        model, TrainConfig(prob_mask_prompt=0.0, prob_box_prompt=1.0, prob_corrective=1.0)
    )
    out = loss_module(clip_batch, torch.Generator().manual_seed(0))
    assert torch.isfinite(out.total) and out.total > 0
    assert {"mask_dice", "det_class_loss", "det_refine_box"} <= set(out.terms)
    out.total.backward()
    # mask memories only influence the loss through later frames' memory attention
    fuser = model.memory_encoder.mask_memory.fuser.layers[0].dwconv.weight.grad
    assert fuser is not None and fuser.abs().sum() > 0
    assert model.mask_head.obj_ptr_proj.layers[0].weight.grad.abs().sum() > 0
    assert model.memory_attention.time_embed.grad.abs().sum() > 0


def test_same_generator_gives_the_same_loss(clip_batch):
    torch.manual_seed(0)
    model = build_model(load_config("tiny")).eval()
    loss_module = SequenceLoss(model, TrainConfig())
    with torch.no_grad():
        first = loss_module(clip_batch, torch.Generator().manual_seed(3)).total
        second = loss_module(clip_batch, torch.Generator().manual_seed(3)).total
    assert first.item() == second.item()


def test_clip_without_prompted_objects_still_reports_every_term(clip_batch):
    hidden = clip_batch.masks.clone()
    hidden[:, 0] = 0  # nothing visible on the first frame: detection-only clip
    batch = dataclasses.replace(clip_batch, masks=hidden)
    torch.manual_seed(0)
    loss_module = SequenceLoss(build_model(load_config("tiny")).eval(), TrainConfig())
    with torch.no_grad():
        out = loss_module(batch, torch.Generator().manual_seed(0))
    assert set(out.terms) == set(LOSS_TERMS)
    assert out.terms["mask_dice"] == 0.0 and out.terms["det_class_loss"] > 0


def spied_model(monkeypatch, calls: list):
    """A tiny model with the previous-centre prompt whose ``track_step`` appends
    (previous_logits, masks) of every call to ``calls``."""
    torch.manual_seed(0)
    cfg = load_config("tiny")
    cfg.mask_decoder.previous_centre_prompt = True
    model = build_model(cfg)
    track_step = model.track_step

    def spy(*args, **kwargs):
        out = track_step(*args, **kwargs)
        calls.append((kwargs["previous_logits"], out.masks))
        return out

    monkeypatch.setattr(model, "track_step", spy)
    return model


MASK_PROMPTS = TrainConfig(prob_mask_prompt=1.0, prob_box_prompt=0.0, prob_corrective=0.0)


def test_each_frame_gets_the_previous_frames_masks_detached(clip_batch, monkeypatch):
    calls = []
    model = spied_model(monkeypatch, calls).train()
    SequenceLoss(model, MASK_PROMPTS)(clip_batch, torch.Generator().manual_seed(0)).total.backward()
    assert len(calls) == 2 * 3  # two clips of three frames
    for clip in (calls[:3], calls[3:]):
        assert clip[0][0] is None  # the prompted first frame has no previous frame
        for (previous, _), (_, masks_before) in zip(clip[1:], clip[:2], strict=True):
            assert not previous.requires_grad
            torch.testing.assert_close(previous, masks_before.mask_logits.detach())


def test_withheld_previous_masks_reach_no_frame(clip_batch, monkeypatch):
    calls = []
    model = spied_model(monkeypatch, calls).eval()
    withheld = dataclasses.replace(MASK_PROMPTS, prob_drop_previous=1.0)
    with torch.no_grad():
        SequenceLoss(model, withheld)(clip_batch, torch.Generator().manual_seed(0))
    later = [previous for previous, _ in calls if previous is not None]
    assert len(later) == 2 * 2  # frames 1 and 2 of both clips
    assert all(bool((p == NO_OBJ_SCORE).all()) for p in later)
    calls.clear()
    with torch.no_grad():
        SequenceLoss(model, MASK_PROMPTS)(clip_batch, torch.Generator().manual_seed(0))
    assert any(bool((p > NO_OBJ_SCORE).any()) for p, _ in calls if p is not None)


def test_real_box_only_clips_get_projection_loss_and_no_detection_loss(clip_batch):
    real = dataclasses.replace(
        clip_batch, box_only=torch.tensor([True, True]), exhaustive=torch.tensor([False, False])
    )
    torch.manual_seed(0)
    loss_module = SequenceLoss(
        build_model(load_config("tiny")).eval(), TrainConfig(prob_corrective=0.0)
    )
    with torch.no_grad():
        synthetic = loss_module(clip_batch, torch.Generator().manual_seed(0))
        out = loss_module(real, torch.Generator().manual_seed(0))
    assert synthetic.terms["det_class_loss"] > 0 and synthetic.terms["mask_projection"] == 0.0
    assert all(out.terms[f"det_{name}"] == 0.0 for name in DET_TERMS)
    assert out.terms["mask_projection"] > 0 and out.terms["mask_object_score"] > 0
    assert out.terms["mask_focal"] == out.terms["mask_dice"] == out.terms["mask_iou"] == 0.0


def test_partial_label_detection_trains_real_clips_positives_only(clip_batch):
    real = dataclasses.replace(
        clip_batch, box_only=torch.tensor([True, True]), exhaustive=torch.tensor([False, False])
    )
    torch.manual_seed(0)
    model = build_model(load_config("tiny")).train()
    cfg = TrainConfig(prob_corrective=0.0, partial_label_detection=True, dn_groups=0)
    out = SequenceLoss(model, cfg)(real, torch.Generator().manual_seed(0))
    assert out.terms["det_class_loss"] > 0 and out.terms["det_l1"] > 0
    assert out.terms["det_dn_class"] == 0.0
    out.total.backward()
    assert model.detection_head.box_embed.layers[0].weight.grad.abs().sum() > 0
    with torch.no_grad():  # synthetic clips keep the whole set loss
        full = SequenceLoss(model, cfg)(clip_batch, torch.Generator().manual_seed(0))
        plain = SequenceLoss(model, TrainConfig(prob_corrective=0.0))(
            clip_batch, torch.Generator().manual_seed(0)
        )
    assert full.terms["det_class_loss"] == pytest.approx(plain.terms["det_class_loss"])


def dn_model():
    cfg = load_config("tiny")
    cfg.decoder.use_denoising = True
    torch.manual_seed(0)
    return build_model(cfg).train()


def test_denoising_and_varifocal_step_trains_the_query_parameters(clip_batch, monkeypatch):
    model = dn_model()
    given = []
    detect = model.detect

    def spy(frame, scene_tokens, denoising=None):
        given.append(denoising)
        return detect(frame, scene_tokens, denoising)

    monkeypatch.setattr(model, "detect", spy)
    cfg = TrainConfig(det_class_loss="varifocal", dn_groups=2, prob_corrective=0.0)
    out = SequenceLoss(model, cfg)(clip_batch, torch.Generator().manual_seed(0))
    assert torch.isfinite(out.total)
    assert out.terms["det_dn_class"] > 0 and out.terms["det_dn_l1"] > 0
    assert any(dn is not None and dn.num_groups == 2 for dn in given)
    out.total.backward()
    decoder = model.detr_decoder
    for param in (
        decoder.denoising_label_embed.weight,
        decoder.query_pos_head.layers[0].weight,
        decoder.layers[0].self_attn.in_proj_weight,
    ):
        assert param.grad is not None and param.grad.abs().sum() > 0


def test_denoising_is_off_by_default_and_on_non_exhaustive_clips(clip_batch):
    model = dn_model().eval()
    real = dataclasses.replace(
        clip_batch, box_only=torch.tensor([True, True]), exhaustive=torch.tensor([False, False])
    )
    with torch.no_grad():
        off = SequenceLoss(model, TrainConfig())(clip_batch, torch.Generator().manual_seed(0))
        skipped = SequenceLoss(model, TrainConfig(dn_groups=2))(
            real, torch.Generator().manual_seed(0)
        )
    assert off.terms["det_dn_class"] == off.terms["det_dn_l1"] == 0.0
    assert off.terms["det_class_loss"] > 0
    assert all(skipped.terms[f"det_{name}"] == 0.0 for name in DET_TERMS)


def test_denoising_needs_a_decoder_with_its_embedding():
    with pytest.raises(ValueError, match="use_denoising"):
        SequenceLoss(build_model(load_config("tiny")), TrainConfig(dn_groups=1))
