"""Motion branch: neighbours, the zero start, what the detector reads, the predictor and tiles,
training's whole-frame rule, save / reload and bad input (tiny untrained model, CPU)."""

import numpy as np
import pytest
import torch

from sam2_enhanced import build_model, build_predictor, load_config
from sam2_enhanced.config import DecoderConfig, DetectionTilesConfig, SearchWindowConfig
from sam2_enhanced.data.clip_dataset import SyntheticClipDataset, collate_clips
from sam2_enhanced.data.synthetic import SyntheticVideoConfig
from sam2_enhanced.modeling.motion_branch import MotionBranch, neighbour_index
from sam2_enhanced.training.config import TrainConfig
from sam2_enhanced.training.sequence import SequenceLoss
from sam2_enhanced.training.window_clips import WindowClipDataset
from sam2_enhanced.weights.checkpoint import load_pretrained, save_pretrained

S = 112  # the tiny model's input side


def motion_cfg(use_tiles: bool = False):
    cfg = load_config("tiny")
    cfg.decoder.motion_dim = 8
    cfg.decoder.proposal_level = "highres"  # stride-4 proposals: what the branch feeds
    cfg.tracker.det_threshold = 0.0  # untrained: report every query
    cfg.tracker.min_hits = 1
    cfg.detection_tiles = DetectionTilesConfig(use_tiles=use_tiles, tile_side=32, max_tiles=8)
    return cfg


def awake(model):
    """The branch as after some training: its zero-initialised projection moved."""
    torch.manual_seed(1)
    torch.nn.init.normal_(model.motion_branch.net[-1].weight, std=0.5)
    return model


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return awake(build_model(motion_cfg())).eval()


@pytest.mark.parametrize(
    ("num_frames", "expected"),
    [(1, [0]), (2, [1, 0]), (4, [1, 0, 1, 2])],
)
def test_each_frame_is_compared_with_the_one_before_and_frame_0_with_frame_1(num_frames, expected):
    assert neighbour_index(num_frames) == expected


def test_no_frames_have_no_neighbours():
    with pytest.raises(ValueError, match="num_frames must be >= 1"):
        neighbour_index(0)


def test_branch_starts_at_zero_and_a_still_frame_has_no_motion():
    branch = MotionBranch(hidden_dim=4, d_model=8)
    difference = torch.randn(2, 3, S, S)
    assert branch(difference, (16, 16)).abs().max() == 0  # zero projection: no change at first
    torch.nn.init.normal_(branch.net[-1].weight)
    out = branch(difference, (16, 16))
    assert out.shape == (2, 8, 16, 16) and out.abs().max() > 0
    torch.testing.assert_close(out[1:], branch(difference[1:], (16, 16)))  # batched = unbatched
    assert branch(torch.zeros(1, 3, S, S), (16, 16)).abs().max() == 0  # bias-free


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: MotionBranch(hidden_dim=0, d_model=8), ValueError, "hidden_dim must be >= 1"),
        (
            lambda: MotionBranch(hidden_dim=4, d_model=8)(torch.zeros(3, S, S), (4, 4)),
            ValueError,
            "difference must be",
        ),
        (lambda: DecoderConfig(motion_dim=-1), ValueError, "decoder.motion_dim must be >= 0"),
    ],
)
def test_bad_input_raises(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_the_detector_reads_motion_and_the_masks_do_not(model):
    torch.manual_seed(2)
    frame, before = torch.rand(1, 3, S, S), torch.rand(1, 3, S, S)
    plain = model.encode_image(frame)
    assert plain.motion is None
    still = model.encode_image(frame, frame.clone())
    assert still.motion.abs().max() == 0
    moving = model.encode_image(frame, before)
    assert moving.motion.shape == moving.fpn_s0.shape
    torch.testing.assert_close(moving.fpn_s0, plain.fpn_s0)  # the masks' maps are unchanged
    with torch.no_grad():
        ref = model.detect(plain, None).refined_logits
        torch.testing.assert_close(model.detect(still, None).refined_logits, ref)
        assert (model.detect(moving, None).refined_logits - ref).abs().max() > 1e-4
    with pytest.raises(ValueError, match="neighbours must have the frames' shape"):
        model.encode_image(frame, torch.rand(2, 3, S, S))


def test_detection_losses_reach_the_branch():
    torch.manual_seed(0)
    model = awake(build_model(motion_cfg())).train()
    frames = torch.rand(2, 3, S, S)
    encoded = model.encode_image(frames[:1], frames[1:])
    out = model.detect(encoded, None)
    out.proposal_logits.sigmoid().sum().backward()  # the stride-4 proposals' class loss
    for name, param in model.motion_branch.named_parameters():
        assert param.grad is not None and param.grad.abs().sum() > 0, name


def clip_loss_grads(batch) -> torch.Tensor:
    """Summed gradient magnitude that one clip loss gives the motion branch."""
    torch.manual_seed(0)
    model = awake(build_model(motion_cfg())).train()
    SequenceLoss(model, TrainConfig())(batch, torch.Generator().manual_seed(0)).total.backward()
    grads = [p.grad for p in model.motion_branch.parameters()]
    return sum(0.0 if g is None else float(g.abs().sum()) for g in grads)


def test_whole_frame_clips_train_the_branch_and_window_clips_leave_it_alone():
    cfg = SyntheticVideoConfig(
        height=56, width=56, num_frames=3, max_objects=2, min_object_size=6, max_object_size=20
    )
    frames = SyntheticClipDataset(2, 3, cfg)
    assert clip_loss_grads(collate_clips([frames[0], frames[1]])) > 0
    windows = WindowClipDataset(
        2,
        3,
        SyntheticVideoConfig(num_frames=3),
        0,
        image_size=S,
        window=SearchWindowConfig(),
        frame_sizes=[(96, 128)],
        centre_jitter=0.0,
        scale_jitter=0.0,
    )
    assert clip_loss_grads(collate_clips([windows[0], windows[1]])) == 0


def test_save_and_reload_keep_the_branch(model, tmp_path):
    save_pretrained(model, tmp_path)
    loaded = load_pretrained(tmp_path).eval()
    assert loaded.config.decoder.motion_dim == 8
    frames = torch.rand(2, 3, S, S)
    with torch.no_grad():
        a = model.detect(model.encode_image(frames[:1], frames[1:]), None).refined_logits
        b = loaded.detect(loaded.encode_image(frames[:1], frames[1:]), None).refined_logits
    torch.testing.assert_close(a, b)


def video(num_frames: int, height: int = 48, width: int = 80) -> np.ndarray:
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, size=(num_frames, height, width, 3), dtype=np.uint8)
    for t in range(num_frames):  # a bright square moving 3 px a frame
        frames[t, 10:16, 20 + 3 * t : 26 + 3 * t] = 255
    return frames


@pytest.mark.parametrize(
    ("num_frames", "frame_idx", "expected"),
    [(5, 3, 2), (5, 0, 1), (1, 0, None)],
)
def test_the_predictor_compares_each_frame_with_its_neighbour(num_frames, frame_idx, expected):
    torch.manual_seed(0)
    predictor = build_predictor(motion_cfg(), device="cpu")
    awake(predictor.model)
    state = predictor.init_state(video(num_frames))
    assert state.neighbour_frame(frame_idx) == expected
    encoded = predictor.encode(state, frame_idx, state.loader.get(frame_idx))
    assert (encoded.motion is None) == (expected is None)
    if expected is not None:
        ref = predictor.model.encode_image(state.loader.get(frame_idx), state.loader.get(expected))
        torch.testing.assert_close(encoded.motion, ref.motion)


def test_a_live_stream_has_no_neighbour_for_its_first_frame():
    torch.manual_seed(0)
    predictor = build_predictor(motion_cfg(), device="cpu")
    awake(predictor.model)
    state = predictor.init_state(iter(video(4)))
    assert state.neighbour_frame(0) is None and state.neighbour_frame(3) == 2
    outputs = list(predictor.propagate_in_video(state))
    assert [out[0] for out in outputs] == [0, 1, 2, 3]
    assert state.features[0] == 3 and state.features[1].motion is not None


@pytest.mark.parametrize("use_tiles", [False, True])
def test_propagation_with_motion_gives_detections_in_video_pixels(use_tiles):
    torch.manual_seed(0)
    predictor = build_predictor(motion_cfg(use_tiles), device="cpu")
    awake(predictor.model)
    outputs = list(predictor.propagate_in_video(predictor.init_state(video(3))))
    assert [out[0] for out in outputs] == [0, 1, 2]
    for *_, dets in outputs:
        assert len(dets) > 0
        assert (dets.xyxy[:, 2] <= 80).all() and (dets.xyxy[:, 3] <= 48).all()


def test_tiles_see_the_same_tiles_of_the_neighbour(monkeypatch):
    torch.manual_seed(0)
    predictor = build_predictor(motion_cfg(use_tiles=True), device="cpu")
    awake(predictor.model)
    seen = []
    detect_tiles = predictor.tiles.detect_tiles

    def record(frame, tiles_xyxy, scene_tokens, neighbour=None):
        seen.append(neighbour)
        return detect_tiles(frame, tiles_xyxy, scene_tokens, neighbour)

    monkeypatch.setattr(predictor.tiles, "detect_tiles", record)
    frames = video(2)
    list(predictor.propagate_in_video(predictor.init_state(frames)))
    assert len(seen) == 2
    np.testing.assert_array_equal(seen[0].permute(1, 2, 0).numpy(), frames[1])  # frame 0's
    np.testing.assert_array_equal(seen[1].permute(1, 2, 0).numpy(), frames[0])
