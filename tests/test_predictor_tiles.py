"""The predictor with detection tiles: same API, boxes in video pixels, memory unchanged, odd
frames, config validation and old checkpoints (tiny untrained model, CPU)."""

import dataclasses

import numpy as np
import pytest
import supervision as sv
import torch
import yaml

from sam2_enhanced import SAM2EnhancedVideoPredictor, build_predictor, load_config
from sam2_enhanced.config import DetectionTilesConfig, ModelConfig, from_dict
from sam2_enhanced.predictor.tiled_detection import TiledDetector

H, W, T = 48, 80, 4
TILE = 32


@pytest.fixture(scope="module")
def predictor():
    torch.manual_seed(0)
    cfg = load_config("tiny")
    cfg.tracker.det_threshold = 0.0  # untrained: report every query
    cfg.tracker.min_hits = 1
    cfg.detection_tiles = DetectionTilesConfig(use_tiles=True, tile_side=TILE, max_tiles=8)
    return build_predictor(cfg, device="cpu")


@pytest.fixture(scope="module")
def video():
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, size=(T, H, W, 3), dtype=np.uint8)
    frames[:, 10:16, 50:56] = 255  # a small bright square
    return frames


def with_tiles(predictor, use_tiles: bool) -> SAM2EnhancedVideoPredictor:
    predictor.tiles = TiledDetector(
        dataclasses.replace(predictor.config.detection_tiles, use_tiles=use_tiles),
        predictor.model,
    )
    return predictor


def check_detections(dets, height, width):
    assert isinstance(dets, sv.Detections)
    assert dets.xyxy.dtype == np.float32 and dets.xyxy.shape == (len(dets), 4)
    assert dets.confidence.shape == dets.class_id.shape == dets.tracker_id.shape == (len(dets),)
    assert (dets.xyxy[:, :2] >= 0).all() and (dets.xyxy[:, 2:] >= dets.xyxy[:, :2]).all()
    assert (dets.xyxy[:, 2] <= width).all() and (dets.xyxy[:, 3] <= height).all()


def test_tiles_add_detections_in_video_pixels(predictor, video):
    with_tiles(predictor, True)
    state = predictor.init_state(video)
    outputs = list(predictor.propagate_in_video(state))
    with_tiles(predictor, False)
    plain = list(predictor.propagate_in_video(predictor.init_state(video)))
    with_tiles(predictor, True)
    num_queries = predictor.config.decoder.num_queries
    for (frame_idx, obj_ids, masks, dets), base in zip(outputs, plain, strict=True):
        assert frame_idx == base[0] and obj_ids == [] and masks.shape == (0, 1, H, W)
        check_detections(dets, H, W)
        assert len(base[3]) <= num_queries < len(dets)  # tiles found more candidates


def test_tile_detection_lands_at_its_video_pixels(predictor, video, monkeypatch):
    """A confident box at the centre of tile 1 comes out at tile 1's centre in the frame."""
    tiles = predictor.tiles.tiles((H, W))
    detect_tiles = predictor.tiles.detect_tiles

    def one_box(frame, tiles_xyxy, scene_tokens, neighbour=None):
        logits, boxes, states = detect_tiles(frame, tiles_xyxy, scene_tokens, neighbour)
        logits = torch.full_like(logits, -20.0)
        logits[1, 0, 2] = 20.0  # class 2, tile 1, query 0
        boxes[1, 0] = torch.tensor([0.5, 0.5, 0.25, 0.25])
        return logits, boxes, states

    monkeypatch.setattr(predictor.tiles, "detect_tiles", one_box)
    cfg = predictor.config.tracker
    monkeypatch.setattr(cfg, "det_threshold", 0.99)
    state = predictor.init_state(video)
    _, _, _, dets = next(iter(predictor.propagate_in_video(state)))
    x0, y0, x1, y1 = tiles[1].tolist()
    centre = [(x0 + x1) / 2, (y0 + y1) / 2]
    expected = [
        centre[0] - TILE / 8,
        centre[1] - TILE / 8,
        centre[0] + TILE / 8,
        centre[1] + TILE / 8,
    ]
    rows = dets.class_id == 2
    assert rows.sum() == 1
    np.testing.assert_allclose(dets.xyxy[rows][0], expected, atol=1e-3)


def test_tiles_leave_the_memory_loop_unchanged(predictor, video):
    """Scene tokens and an object's masks are the same with tiles on and off."""
    runs = []
    for use_tiles in (False, True):
        with_tiles(predictor, use_tiles)
        state = predictor.init_state(video)
        predictor.add_new_points_or_box(state, frame_idx=0, obj_id=1, box=[48, 8, 58, 18])
        masks = [out[2] for out in predictor.propagate_in_video(state)]
        runs.append((masks, state.bank.read_scene()))
    with_tiles(predictor, True)
    (masks_off, scene_off), (masks_on, scene_on) = runs
    torch.testing.assert_close(scene_on, scene_off)
    for off, on in zip(masks_off, masks_on, strict=True):
        torch.testing.assert_close(on, off)


@pytest.mark.parametrize(
    "frames",
    [
        np.zeros((2, H, W, 3), np.uint8),  # all black (empty content)
        np.full((2, H, W, 3), 255, np.uint8),  # all white
        np.zeros((2, 20, 30, 3), np.uint8),  # smaller than one tile
        np.full((2, 1, 1, 3), 7, np.uint8),  # a single pixel
        np.zeros((2, 12, 200, 3), np.uint8),  # a thin strip
    ],
    ids=["black", "white", "smaller-than-tile", "one-pixel", "strip"],
)
def test_odd_frames_give_detections_of_the_right_type(predictor, frames):
    with_tiles(predictor, True)
    state = predictor.init_state(frames)
    height, width = frames.shape[1:3]
    for _, _, masks, dets in predictor.propagate_in_video(state):
        assert masks.shape == (0, 1, height, width)
        check_detections(dets, height, width)


@pytest.mark.parametrize(
    ("values", "key"),
    [
        ({"tile_side": 8}, "detection_tiles.tile_side"),
        ({"overlap": 1.0}, "detection_tiles.overlap"),
        ({"overlap": -0.5}, "detection_tiles.overlap"),
        ({"max_tiles": 0}, "detection_tiles.max_tiles"),
        ({"batch_size": 0}, "detection_tiles.batch_size"),
        ({"merge_metric": "giou"}, "detection_tiles.merge_metric"),
        ({"merge_threshold": 0.0}, "detection_tiles.merge_threshold"),
        ({"use_tiles": "yes"}, "detection_tiles.use_tiles"),
        ({"tile_size": 64}, "detection_tiles.tile_size"),
    ],
)
def test_bad_tile_config_names_the_key(values, key):
    with pytest.raises(ValueError, match=key.replace(".", r"\.")):
        from_dict(ModelConfig, {"detection_tiles": values})


def test_tile_config_is_saved_and_old_checkpoints_load(predictor, tmp_path):
    path = predictor.save_pretrained(tmp_path / "new")
    saved = yaml.safe_load((path / "config.yaml").read_text())
    assert saved["detection_tiles"]["use_tiles"] is True
    reloaded = SAM2EnhancedVideoPredictor.from_pretrained(path, device="cpu")
    assert reloaded.config.detection_tiles == predictor.config.detection_tiles
    del saved["detection_tiles"]  # a checkpoint from before tiles existed
    (path / "config.yaml").write_text(yaml.safe_dump(saved, sort_keys=False))
    old = SAM2EnhancedVideoPredictor.from_pretrained(path, device="cpu")
    assert old.config.detection_tiles == DetectionTilesConfig() and not old.tiles.enabled


def test_tiles_can_be_switched_per_predictor(predictor):
    """``detection_tiles`` replaces the model's tile settings for one predictor only."""
    off = dataclasses.replace(predictor.model.config.detection_tiles, use_tiles=False)
    other = SAM2EnhancedVideoPredictor(predictor.model, device="cpu", detection_tiles=off)
    assert not other.tiles.enabled and other.config.detection_tiles == off
    assert predictor.model.config.detection_tiles.use_tiles  # the model is unchanged
    with pytest.raises(TypeError, match="detection_tiles must be a DetectionTilesConfig"):
        SAM2EnhancedVideoPredictor(predictor.model, device="cpu", detection_tiles={"use_tiles": 1})


@pytest.mark.parametrize(
    ("use_tiles", "frame_hw", "applies"),
    [
        (True, (H, W), True),
        (True, (TILE, TILE), False),  # fits in one tile: the whole-frame pass suffices
        (True, (TILE + 1, 8), True),
        (True, (8, TILE + 1), True),
        (False, (H, W), False),
    ],
)
def test_tiles_apply_to_frames_larger_than_a_tile(predictor, use_tiles, frame_hw, applies):
    tiles = TiledDetector(
        dataclasses.replace(predictor.config.detection_tiles, use_tiles=use_tiles),
        predictor.model,
    )
    assert tiles.applies_to(frame_hw) is applies


def test_a_frame_that_fits_in_a_tile_gets_the_whole_frame_detections(predictor):
    frames = np.random.default_rng(1).integers(0, 255, size=(2, TILE, TILE - 4, 3), dtype=np.uint8)
    results = []
    for use_tiles in (False, True):
        with_tiles(predictor, use_tiles)
        state = predictor.init_state(frames)
        results.append([dets.xyxy for *_, dets in predictor.propagate_in_video(state)])
    with_tiles(predictor, True)
    for off, on in zip(*results, strict=True):
        assert len(off) and np.array_equal(off, on)


def test_with_detection_tiles_keeps_the_other_settings(predictor):
    tracker = dataclasses.replace(predictor.config.tracker, det_threshold=0.42)
    base = SAM2EnhancedVideoPredictor(predictor.model, device="cpu", tracker=tracker)
    off = base.with_detection_tiles(False)
    assert not off.tiles.enabled and off.model is base.model
    assert off.config.tracker.det_threshold == 0.42
    assert off.config.detection_tiles.tile_side == TILE  # only use_tiles changed
    assert off.with_detection_tiles(True).tiles.enabled
