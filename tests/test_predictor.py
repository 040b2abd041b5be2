"""SAM2EnhancedVideoPredictor: SAM 2 notebook calls, every input kind, bad input, bounded state."""

import dataclasses

import numpy as np
import pytest
import supervision as sv
import torch

from sam2_enhanced import SAM2EnhancedVideoPredictor, build_predictor, load_config
from sam2_enhanced.data.writers import write_frames, write_video_file
from sam2_enhanced.modeling.sam_mask_head import NO_OBJ_SCORE

H, W, T = 48, 64, 6


@pytest.fixture(scope="module")
def predictor():
    torch.manual_seed(0)
    cfg = load_config("tiny")
    cfg.tracker.det_threshold = 0.0  # untrained: report every query so association is exercised
    cfg.tracker.min_hits = 1
    return build_predictor(cfg, device="cpu")


@pytest.fixture(scope="module")
def video():
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, size=(T, H, W, 3), dtype=np.uint8)
    frames[:, 10:20, 10:20] = 255  # a bright square
    return frames


def check_output(output, state, frame_idx):
    out_frame, obj_ids, masks, dets = output
    assert out_frame == frame_idx and obj_ids == state.obj_ids
    assert masks.dtype == torch.float32 and masks.shape == (len(obj_ids), 1, H, W)
    assert isinstance(dets, sv.Detections)
    assert dets.tracker_id is not None and dets.confidence is not None
    if len(dets):
        assert (dets.xyxy[:, 2] <= W).all() and (dets.xyxy[:, 3] <= H).all()
        assert len(set(dets.tracker_id.tolist())) == len(dets)  # one row per id per frame


def test_box_prompt_then_propagate_forward(predictor, video):
    state = predictor.init_state(video)
    output = predictor.add_new_points_or_box(state, frame_idx=0, obj_id=1, box=[8, 8, 22, 22])
    check_output(output, state, 0)
    frames = []
    for output in predictor.propagate_in_video(state):
        check_output(output, state, output[0])
        frames.append(output[0])
    assert frames == list(range(T))
    counts = predictor.memory_footprint(state)["objects"][1]
    assert counts["cond"] == 1 and counts["recent"] == 2  # tiny: 2 recent frames


def test_prompted_frame_output_is_reused_during_propagation(predictor, video):
    state = predictor.init_state(video)
    _, _, prompted_masks, _ = predictor.add_new_points_or_box(state, 2, 1, box=[8, 8, 22, 22])
    outputs = {o[0]: o for o in predictor.propagate_in_video(state)}
    assert sorted(outputs) == list(range(2, T))  # starts at the first prompted frame
    torch.testing.assert_close(outputs[2][2], prompted_masks)


def test_points_refinement_and_multimask_single_click(predictor, video):
    state = predictor.init_state(video)
    _, _, first, _ = predictor.add_new_points_or_box(state, 0, 1, points=[[15, 15]], labels=[1])
    _, _, refined, _ = predictor.add_new_points_or_box(
        state, 0, 1, points=[[40, 30]], labels=[0], clear_old_points=False
    )
    prompt = state.objects[1].prompts[0]
    assert prompt.point_labels.tolist() == [1, 0]  # the old click was kept
    assert not torch.equal(first, refined)


def test_normalized_points_equal_pixel_points(predictor, video):
    state = predictor.init_state(video)
    _, _, pixel_masks, _ = predictor.add_new_points_or_box(
        state, 0, 1, points=[[32, 24]], labels=[1]
    )
    _, _, norm_masks, _ = predictor.add_new_points_or_box(
        state, 0, 1, points=[[0.5, 0.5]], labels=[1], normalize_coords=False
    )
    torch.testing.assert_close(pixel_masks, norm_masks)


def test_mask_prompt_is_returned_at_video_resolution(predictor, video):
    state = predictor.init_state(video)
    mask = np.zeros((H, W), bool)
    mask[10:30, 20:50] = True
    _, _, masks, dets = predictor.add_new_mask(state, 0, 5, mask)
    predicted = (masks[0, 0] > 0).numpy()
    iou = (predicted & mask).sum() / (predicted | mask).sum()
    assert iou > 0.8
    assert 5 in dets.tracker_id.tolist()  # the object appears among the detections
    row = dets.tracker_id.tolist().index(5)
    assert dets.mask[row].sum() > 0


def test_reverse_propagation_and_mid_video_object(predictor, video):
    state = predictor.init_state(video)
    predictor.add_new_points_or_box(state, 0, 1, box=[8, 8, 22, 22])
    predictor.add_new_points_or_box(state, 3, 2, points=[[40, 30]], labels=[1])
    forward = {o[0]: o for o in predictor.propagate_in_video(state)}
    assert (forward[1][2][1] == NO_OBJ_SCORE).all()  # object 2 starts at frame 3
    assert not (forward[4][2][1] == NO_OBJ_SCORE).all()
    backward = [o[0] for o in predictor.propagate_in_video(state, start_frame_idx=4, reverse=True)]
    assert backward == [4, 3, 2, 1, 0]
    limited = [o[0] for o in predictor.propagate_in_video(state, 1, max_frame_num_to_track=2)]
    assert limited == [1, 2, 3]


def test_object_added_while_iterating_is_tracked_next_frame(predictor, video):
    state = predictor.init_state(iter(list(video)))  # a live stream
    seen = {}
    for frame_idx, obj_ids, _, _ in predictor.propagate_in_video(state):
        seen[frame_idx] = obj_ids
        if frame_idx == 2:
            predictor.add_new_points_or_box(state, 2, 7, box=[8, 8, 22, 22])
    assert seen[1] == [] and seen[3] == [7] and max(seen) == T - 1


def test_clear_prompts_remove_object_and_reset(predictor, video):
    state = predictor.init_state(video)
    predictor.add_new_points_or_box(state, 0, 1, box=[8, 8, 22, 22])
    predictor.add_new_points_or_box(state, 1, 2, box=[30, 20, 50, 40])
    frame_idx, obj_ids, masks, _ = predictor.clear_all_prompts_in_frame(state, 1, 2)
    assert frame_idx == 1 and obj_ids == [1, 2] and (masks[1] == NO_OBJ_SCORE).all()
    assert predictor.memory_footprint(state)["objects"][2]["cond"] == 0
    remaining, updated = predictor.remove_object(state, 2)
    assert remaining == [1] and [u[0] for u in updated] == [0]
    assert predictor.remove_object(state, 99) == ([1], [])
    with pytest.raises(ValueError, match="does not exist"):
        predictor.remove_object(state, 99, strict=True)
    predictor.reset_state(state)
    assert state.obj_ids == [] and predictor.memory_footprint(state)["bank_bytes"] == 0


def test_no_prompt_tracker_gives_persistent_ids(predictor, video):
    state = predictor.init_state(video)
    outputs = list(predictor.propagate_in_video(state))
    assert [o[0] for o in outputs] == list(range(T)) and all(o[1] == [] for o in outputs)
    assert all(o[3].mask is None for o in outputs)
    ids = [set(o[3].tracker_id.tolist()) for o in outputs]
    assert all(ids) and len(ids[0] & ids[-1]) > 0  # some tracks persist across the clip


@pytest.mark.parametrize(("low_threshold", "continued"), [(0.0, True), (None, False)])
def test_low_score_detections_continue_tracks_only_with_a_low_threshold(
    video, low_threshold, continued
):
    torch.manual_seed(0)
    cfg = load_config("tiny")
    cfg.tracker.det_threshold, cfg.tracker.min_hits = 0.0, 1  # frame 0: every query a track
    predictor = build_predictor(cfg, device="cpu")
    state = predictor.init_state(video)
    run = predictor.propagate_in_video(state)
    started = set(next(run)[3].tracker_id.tolist())
    tracker_cfg = predictor.config.tracker
    tracker_cfg.det_threshold, tracker_cfg.low_threshold = 0.99, low_threshold  # all low now
    later = next(run)[3]
    if continued:
        assert len(later) and set(later.tracker_id.tolist()) <= started  # no new track
    else:
        assert len(later) == 0


@pytest.mark.parametrize("kind", ["jpg_folder", "png_folder", "mp4", "array", "list", "generator"])
def test_every_input_kind(predictor, video, tmp_path, kind):
    if kind.endswith("folder"):
        source = tmp_path / "frames"
        write_frames(video, source, ext=kind[:3])
    elif kind == "mp4":
        source = write_video_file(video, tmp_path / "clip.mp4")
    else:
        source = {"array": video, "list": list(video), "generator": (f for f in video)}[kind]
    state = predictor.init_state(source)
    predictor.add_new_points_or_box(state, 0, 1, box=[8, 8, 22, 22])
    frames = [o[0] for o in predictor.propagate_in_video(state)]
    assert frames == list(range(T))
    assert (state.video_height, state.video_width) == (H, W)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda p, s: p.add_new_points_or_box(s, 0, 1, box=[1, 2, 3]), ValueError, "4 values"),
        (lambda p, s: p.add_new_points_or_box(s, 0, 1, box=[9, 2, 3, 8]), ValueError, "x1 > x0"),
        (lambda p, s: p.add_new_points_or_box(s, 0, 1, points=[[1, 2]]), ValueError, "together"),
        (
            lambda p, s: p.add_new_points_or_box(s, 0, 1, points=[[1, 2], [3, 4]], labels=[1]),
            ValueError,
            "2 points but 1 labels",
        ),
        (
            lambda p, s: p.add_new_points_or_box(s, 0, 1, points=[[1, 2]], labels=[2]),
            ValueError,
            "1 \\(positive\\) or 0",
        ),
        (
            lambda p, s: p.add_new_points_or_box(s, T, 1, box=[1, 1, 5, 5]),
            ValueError,
            "out of range",
        ),
        (lambda p, s: p.add_new_points_or_box(s, 0, "a", box=[1, 1, 5, 5]), TypeError, "obj_id"),
        (lambda p, s: p.add_new_points_or_box(s, 0, 1.5, box=[1, 1, 5, 5]), TypeError, "obj_id"),
        (lambda p, s: p.add_new_points_or_box(s, 0, 1), ValueError, "at least one"),
        (
            lambda p, s: p.add_new_points_or_box(s, 0, 1, box=[1, 1, 5, 5], clear_old_points=False),
            ValueError,
            "clear_old_points",
        ),
        (lambda p, s: p.add_new_mask(s, 0, 1, np.zeros((5, 5))), ValueError, "video's size"),
        (lambda p, s: p.add_new_mask(s, 0, 1, np.zeros((2, H, W))), ValueError, "2-D"),
        (lambda p, s: p.clear_all_prompts_in_frame(s, 0, 42), ValueError, "unknown obj_id"),
        (
            lambda p, s: list(p.propagate_in_video(s, start_frame_idx=-1)),
            ValueError,
            "out of range",
        ),
    ],
)
def test_bad_input_is_rejected_and_nothing_is_lost(predictor, video, call, error, match):
    state = predictor.init_state(video)
    predictor.add_new_points_or_box(state, 0, 1, box=[8, 8, 22, 22])
    before = predictor.memory_footprint(state)
    prompts_before = {k: v.point_coords.clone() for k, v in state.objects[1].prompts.items()}
    with pytest.raises(error, match=match):
        call(predictor, state)
    assert predictor.memory_footprint(state) == before
    assert state.obj_ids == [1]
    assert {
        k: v.point_coords for k, v in state.objects[1].prompts.items()
    }.keys() == prompts_before.keys()


def test_reverse_on_live_stream_is_refused(predictor, video):
    state = predictor.init_state(f for f in video)
    with pytest.raises(ValueError, match="live stream"):
        next(predictor.propagate_in_video(state, start_frame_idx=0, reverse=True))


@pytest.mark.parametrize(
    ("video_input", "error"),
    [
        ("/no/such/video.mp4", FileNotFoundError),
        (np.zeros((3, 8, 8, 3), np.float32), (TypeError, ValueError)),
        (42, TypeError),
    ],
)
def test_bad_video_inputs(predictor, video_input, error):
    with pytest.raises(error):
        predictor.init_state(video_input)


def test_empty_folder_and_unreadable_frame(predictor, tmp_path):
    with pytest.raises(ValueError):
        predictor.init_state(tmp_path)
    (tmp_path / "000.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(ValueError, match="000.jpg"):
        predictor.init_state(tmp_path)


def test_memory_is_bounded_on_a_long_stream(predictor):
    rng = np.random.default_rng(1)

    def stream():
        for t in range(40):
            frame = rng.integers(0, 80, size=(H, W, 3), dtype=np.uint8)
            frame[10 + t % 20 : 18 + t % 20, 10:18] = 255
            yield frame

    state = predictor.init_state(stream())
    predictor.add_new_points_or_box(state, 0, 1, box=[10, 10, 18, 18])
    totals = {}
    for frame_idx, *_ in predictor.propagate_in_video(state):
        totals[frame_idx] = predictor.memory_footprint(state)["total_bytes"]
    assert abs(totals[39] - totals[20]) <= 0.05 * totals[20]  # live window (16) full by 20
    assert state.frames.num_frames_read == 40


def test_longterm_memory_keeps_the_newest_visible_frames_that_left_the_fifo(video):
    torch.manual_seed(0)
    cfg = load_config("tiny")
    cfg.memory_bank.max_longterm_frames = 2
    cfg.memory_bank.max_keyframes = 0
    predictor = build_predictor(cfg, device="cpu")
    state = predictor.init_state(np.concatenate([video] * 3))  # 18 frames
    predictor.add_new_points_or_box(state, 0, 1, box=[8, 8, 22, 22])
    added = []
    add = state.bank.add
    state.bank.add = lambda obj_id, item: (added.append(item), add(obj_id, item))
    for _ in predictor.propagate_in_video(state):
        pass
    tracked = [item for item in added if not item.is_cond]
    left_fifo = tracked[: -cfg.memory_bank.max_recent_frames]
    expected = [item.frame_idx for item in left_fifo if item.visible][-2:]
    assert len(expected) == 2, "the untrained tiny model should see the object on some frames"
    kept = state.bank.read(1, 18).frame_indices.tolist()
    assert kept == [0, *expected, 16, 17]
    assert predictor.memory_footprint(state)["objects"][1]["longterm"] == len(expected)


def test_save_and_from_pretrained_round_trip(predictor, video, tmp_path):
    predictor.save_pretrained(tmp_path / "ckpt")
    loaded = SAM2EnhancedVideoPredictor.from_pretrained(tmp_path / "ckpt", device="cpu")
    outputs = []
    for p in (predictor, loaded):
        state = p.init_state(video)
        outputs.append(p.add_new_points_or_box(state, 0, 1, box=[8, 8, 22, 22])[2])
    assert torch.equal(outputs[0], outputs[1])


def test_from_pretrained_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a sam2-enhanced checkpoint"):
        SAM2EnhancedVideoPredictor.from_pretrained(tmp_path)
    with pytest.raises(FileNotFoundError, match="Hugging Face Hub"):
        SAM2EnhancedVideoPredictor.from_pretrained("not-a-folder-or-repo")


def test_memory_footprint_counts_decoded_frame_caches_and_kept_detections(
    predictor, video, tmp_path
):
    write_frames(video, tmp_path / "frames", ext="png")
    state = predictor.init_state(tmp_path / "frames")
    before = predictor.memory_footprint(state)
    predictor.add_new_points_or_box(state, 0, 1, box=[8, 8, 22, 22])
    after = predictor.memory_footprint(state)
    decoded = state.frames.cached_bytes()
    assert decoded >= H * W * 3  # frame 0 decoded at video resolution and cached
    assert after["frame_cache_bytes"] >= decoded + state.loader.num_bytes()
    kept_mask_bytes = state.cond_detections[0].mask.nbytes
    assert after["prompt_bytes"] >= kept_mask_bytes > 0
    assert after["total_bytes"] > before["total_bytes"]
    obj = state.objects[1]
    without = obj.num_bytes()
    obj.embedding = np.ones(8, dtype=np.float32)  # re-detection's appearance memory
    assert obj.num_bytes() == without + 32


def test_tracked_frames_get_each_objects_mask_of_the_previous_frame(video, monkeypatch):
    torch.manual_seed(0)
    cfg = load_config("tiny")
    cfg.mask_decoder.previous_centre_prompt = True
    cfg.search_window.use_search_window = False  # windows: test_predictor_windows.py
    cfg.search_window.keep_main_component = False  # compare with the raw decoder output
    predictor = build_predictor(cfg, device="cpu")
    seen = []
    track_step = predictor.model.track_step

    def spy(*args, **kwargs):
        out = track_step(*args, **kwargs)
        seen.append((kwargs.get("previous_logits"), out.masks))
        return out

    monkeypatch.setattr(predictor.model, "track_step", spy)
    state = predictor.init_state(video)
    mask = np.zeros((H, W), dtype=bool)
    mask[10:20, 10:20] = True
    predictor.add_new_mask(state, frame_idx=2, obj_id=1, mask=mask)
    predictor.add_new_points_or_box(state, frame_idx=3, obj_id=2, box=[30, 5, 50, 25])
    seen.clear()
    list(predictor.propagate_in_video(state, start_frame_idx=2, max_frame_num_to_track=2))
    # frame 2: object 2 starts on frame 3; frame 3: object 2 is prompted there, object 1 tracked
    prompted_mask = state.objects[1].cond_results[2].mask_logits
    (previous3, masks3), (previous4, _) = seen[1], seen[2]
    torch.testing.assert_close(previous3[0], prompted_mask)  # object 1: its mask prompt
    assert previous3.shape[0] == 1  # object 2 is prompted on frame 3, not tracked
    torch.testing.assert_close(previous4[0], masks3.mask_logits[0])
    torch.testing.assert_close(previous4[1], state.objects[2].cond_results[3].mask_logits)
    # reverse: the previous frame is the next one (object 2 is tracked back from frame 3)
    seen.clear()
    list(predictor.propagate_in_video(state, start_frame_idx=2, reverse=True))
    (previous2, masks2), (previous1, _) = seen[0], seen[1]
    torch.testing.assert_close(previous2[0], state.objects[2].cond_results[3].mask_logits)
    torch.testing.assert_close(previous1[0], prompted_mask)
    torch.testing.assert_close(previous1[1], masks2.mask_logits[0])
    # an object without output on the previous frame gets -1024 (no prompt from it)
    assert (predictor.previous_logits(state, [1, 2], 5, torch.zeros(2, 4)) == NO_OBJ_SCORE).all()


def test_with_settings_replaces_sections_and_keeps_the_rest(predictor):
    tracker_cfg = dataclasses.replace(predictor.config.tracker, min_hits=4)
    changed = predictor.with_settings(tracker=tracker_cfg)
    assert changed.model is predictor.model and changed.config.tracker.min_hits == 4
    assert changed.config.memory_bank == predictor.config.memory_bank
    assert predictor.config.tracker.min_hits == 1  # the original predictor is unchanged
    with pytest.raises(TypeError, match="with_settings takes the sections"):
        predictor.with_settings(encoder=predictor.config.encoder)
    with pytest.raises(TypeError, match="tracker must be a TrackerConfig"):
        predictor.with_settings(tracker={"min_hits": 4})
