"""The per-frame model on the tiny config: shapes, memory loop, gradients, save/reload."""

from dataclasses import dataclass

import pytest
import torch
from torch import Tensor

from sam2_enhanced import build_model
from sam2_enhanced.modeling.sam2_base_enhanced import ObjectPrompts
from sam2_enhanced.weights.checkpoint import load_pretrained, save_pretrained

S, G = 112, 8  # tiny: image size and token grid


@dataclass
class InGraphMemory:
    """Memory readout kept in the autograd graph (as training does)."""

    features: Tensor
    frame_offsets: Tensor
    is_cond: Tensor
    obj_ptrs: Tensor
    ptr_offsets: Tensor
    det_tokens: Tensor


def readout(history, obj, frame_idx):
    """Readout of object ``obj`` from a list of (frame_idx, FrameMemory, prompted)."""
    offsets = torch.tensor([frame_idx - t for t, _, _ in history])
    return InGraphMemory(
        features=torch.stack([m.mask_features[obj] for _, m, _ in history]),
        frame_offsets=offsets,
        is_cond=torch.tensor([p for _, _, p in history]),
        obj_ptrs=torch.stack([m.obj_ptrs[obj] for _, m, _ in history]),
        ptr_offsets=offsets,
        det_tokens=torch.cat([m.object_tokens[obj] for _, m, _ in history]),
    )


def all_prompt_kinds(model):
    """Object 0: box; object 1: positive + negative clicks; object 2: mask prompt."""
    mask = torch.zeros(3, 1, model.mask_size, model.mask_size)
    mask[2, 0, 8:16, 8:16] = 1.0
    return ObjectPrompts(
        point_coords=torch.tensor(
            [[[10.0, 12.0], [40.0, 44.0]], [[60.0, 60.0], [20.0, 90.0]], [[0.0, 0.0], [0.0, 0.0]]]
        ),
        point_labels=torch.tensor([[2, 3], [1, 0], [-1, -1]], dtype=torch.int32),
        mask_inputs=mask,
        has_mask=torch.tensor([False, False, True]),
    )


def test_encoder_shapes_and_batching(tiny_model):
    images = torch.rand(2, 3, S, S)
    out = tiny_model.encode_image(images)
    assert out.features.shape == (2, 32, G, G) and out.pos.shape == (2, 32, G, G)
    assert out.fpn_s1.shape == (2, 32, 2 * G, 2 * G) and out.fpn_s0.shape == (2, 32, 4 * G, 4 * G)
    single = tiny_model.encode_image(images[1:])
    torch.testing.assert_close(out.features[1:], single.features, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(out.fpn_s0[1:], single.fpn_s0, atol=1e-5, rtol=1e-5)


def test_highres_branch_sees_a_single_pixel(tiny_model):
    images = torch.zeros(1, 3, S, S)
    dotted = images.clone()
    dotted[0, :, 50, 50] = 1.0  # a 1-px object, far smaller than a 14-px patch
    delta = tiny_model.encode_image(dotted).fpn_s0 - tiny_model.encode_image(images).fpn_s0
    change = delta.abs().sum(dim=1)[0]  # (4g, 4g)
    peak = torch.nonzero(change == change.max())[0].tolist()
    assert abs(peak[0] - 50 * 4 * G / S) <= 2 and abs(peak[1] - 50 * 4 * G / S) <= 2


@pytest.mark.parametrize("size", [(1, 3, 100, 100), (1, 1, S, S), (3, S, S)])
def test_wrong_input_size_is_a_clear_error(tiny_model, size):
    with pytest.raises(ValueError, match="images must be"):
        tiny_model.encode_image(torch.rand(*size))


def test_first_frame_with_prompts_and_no_memory(tiny_model):
    frame = tiny_model.encode_image(torch.rand(1, 3, S, S))
    out = tiny_model.track_step(frame, all_prompt_kinds(tiny_model), [None] * 3, None)
    assert out.masks.mask_logits.shape == (3, 1, 4 * G, 4 * G)
    assert out.masks.obj_ptr.shape == (3, 32) and out.masks.object_score_logits.shape == (3, 1)
    num_layers, num_queries = 2, 10
    assert out.detections.class_logits.shape == (num_layers, 1, num_queries, 4)
    assert out.detections.boxes_cxcywh.shape == (num_layers, 1, num_queries, 4)
    assert out.detections.refined_boxes_cxcywh.shape == (1, num_queries, 4)
    boxes = out.detections.refined_boxes_cxcywh
    assert bool(((boxes >= 0) & (boxes <= 1)).all())
    assert out.memory.mask_features.shape == (3, 16, G, G)
    assert out.memory.object_tokens.shape == (3, 1, 16)
    # the mask prompt is the output mask of its frame, as SAM 2 does
    expected = all_prompt_kinds(tiny_model).mask_inputs[2] * 20 - 10
    torch.testing.assert_close(out.masks.mask_logits[2], expected)


def test_multimask_output_gives_three_candidates(tiny_model):
    frame = tiny_model.encode_image(torch.rand(1, 3, S, S))
    prompts = ObjectPrompts(
        point_coords=torch.tensor([[[30.0, 30.0]]]), point_labels=torch.tensor([[1]]).int()
    )
    out = tiny_model.track_step(frame, prompts, [None], None, multimask_output=True)
    assert out.masks.multimask_logits.shape == (1, 3, 4 * G, 4 * G)
    assert out.masks.iou_preds.shape == (1, 3)
    best = out.masks.iou_preds.argmax()
    torch.testing.assert_close(out.masks.mask_logits[0, 0], out.masks.multimask_logits[0, best])


def test_zero_objects_and_zero_detections(tiny_model):
    frame = tiny_model.encode_image(torch.rand(1, 3, S, S))
    tiny_model.det_token_threshold = 1.1  # no detection can reach it: zero scene tokens
    out = tiny_model.track_step(frame, None, [], None)
    assert out.masks is None
    assert out.memory.scene_tokens.shape == (0, 16)
    assert out.memory.mask_features.shape == (0, 16, G, G)
    again = tiny_model.track_step(frame, None, [], out.memory.scene_tokens)  # empty scene memory
    torch.testing.assert_close(again.detections.refined_logits, out.detections.refined_logits)


def test_scene_memory_changes_detections(tiny_model):
    frame = tiny_model.encode_image(torch.rand(1, 3, S, S))
    plain = tiny_model.track_step(frame, None, [], None).detections.refined_boxes_cxcywh
    with_memory = tiny_model.track_step(frame, None, [], torch.randn(3, 16))
    assert not torch.allclose(plain, with_memory.detections.refined_boxes_cxcywh)


def test_track_step_rejects_mismatched_inputs(tiny_model):
    frames = tiny_model.encode_image(torch.rand(2, 3, S, S))
    with pytest.raises(ValueError, match="one frame"):
        tiny_model.track_step(frames, None, [], None)
    frame = frames.select(slice(0, 1))
    with pytest.raises(ValueError, match="prompts for 3 objects but 1"):
        tiny_model.track_step(frame, all_prompt_kinds(tiny_model), [None], None)
    with pytest.raises(ValueError, match="previous masks for 2 objects but 1"):
        tiny_model.track_step(frame, None, [None], None, previous_logits=torch.zeros(2, 1, 32, 32))


def test_refinement_leaves_large_boxes_alone(tiny_model):
    head = tiny_model.refinement_head
    torch.nn.init.normal_(head.mlp.layers[-1].weight)  # non-zero deltas
    boxes = torch.tensor([[[0.5, 0.5, 0.9, 0.9], [0.5, 0.5, 0.05, 0.05]]])  # large, tiny
    logits = torch.zeros(1, 2, 4)
    states = torch.randn(1, 2, 32)
    high_res = torch.randn(1, 32, 4 * G, 4 * G)
    refined_logits, refined_boxes = head(states, logits, boxes, high_res)
    torch.testing.assert_close(refined_boxes[0, 0], boxes[0, 0], atol=1e-3, rtol=0)
    assert not torch.allclose(refined_boxes[0, 1], boxes[0, 1], atol=1e-3)
    assert head.gate(boxes)[0, 0] < 0.01 < 0.9 < head.gate(boxes)[0, 1]


def run_clip(model, clip):
    """Frame 0 prompted (all prompt kinds), frames 1-2 from memory; returns a scalar loss."""
    history, scene, loss = [], None, 0.0
    for t in range(clip.shape[0]):
        frame = model.encode_image(clip[t : t + 1])
        prompts = all_prompt_kinds(model) if t == 0 else None
        memories = [None] * 3 if t == 0 else [readout(history, o, t) for o in range(3)]
        out = model.track_step(frame, prompts, memories, scene)
        history.append((t, out.memory, t == 0))
        scene = torch.cat([m.scene_tokens for _, m, _ in history])
        det = out.detections
        loss = loss + out.masks.mask_logits.sigmoid().mean() + out.masks.iou_preds.mean()
        loss = loss + out.masks.object_score_logits.mean() + det.class_logits.mean()
        loss = loss + det.boxes_cxcywh.mean() + det.refined_logits.mean()
        loss = loss + det.refined_boxes_cxcywh.mean()
        loss = loss + det.proposal_logits.mean() + det.proposal_boxes_cxcywh.mean()
    return loss, history


def test_three_frame_clip_uses_memory_and_trains_every_parameter(tiny_cfg):
    torch.manual_seed(0)
    model = build_model(tiny_cfg).train()
    model.det_token_threshold = 0.0  # every frame makes scene tokens, so they are trained too
    clip = torch.rand(3, 3, S, S)
    loss, history = run_clip(model, clip)
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert missing == []
    # frame 2's masks depend on frame 0's memory: perturbing frame 0 changes frame 2's output
    model.eval()
    with torch.no_grad():
        _, base = run_clip(model, clip)
        other = clip.clone()
        other[0] = torch.rand(3, S, S)
        _, changed = run_clip(model, other)
    assert not torch.allclose(base[2][1].mask_features, changed[2][1].mask_features)


def test_save_and_reload_give_identical_outputs(tiny_model, tmp_path):
    save_pretrained(tiny_model, tmp_path / "ckpt")
    reloaded = load_pretrained(tmp_path / "ckpt")
    frame_images = torch.rand(1, 3, S, S)
    a = tiny_model.track_step(
        tiny_model.encode_image(frame_images), all_prompt_kinds(tiny_model), [None] * 3, None
    )
    b = reloaded.track_step(
        reloaded.encode_image(frame_images), all_prompt_kinds(reloaded), [None] * 3, None
    )
    assert torch.equal(a.masks.mask_logits, b.masks.mask_logits)
    assert torch.equal(a.detections.refined_boxes_cxcywh, b.detections.refined_boxes_cxcywh)
    assert torch.equal(a.memory.mask_features, b.memory.mask_features)


def test_reload_rejects_bad_folders(tmp_path, tiny_model):
    with pytest.raises(FileNotFoundError, match="not a sam2-enhanced checkpoint"):
        load_pretrained(tmp_path)
    save_pretrained(tiny_model, tmp_path / "ckpt")
    (tmp_path / "ckpt" / "config.yaml").write_text("decoder:\n  num_queries: 3\n")
    with pytest.raises(ValueError, match="does not match its config"):
        load_pretrained(tmp_path / "ckpt")


def test_build_is_deterministic_under_seed(tiny_cfg):
    torch.manual_seed(1)
    a = build_model(tiny_cfg)
    torch.manual_seed(1)
    b = build_model(tiny_cfg)
    assert all(
        torch.equal(x, y)
        for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    )
