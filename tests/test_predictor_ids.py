"""One number names one object: removed objects' ids do not come back, prompted objects' ids never
collide with detection-driven tracks' ids."""

import numpy as np
import pytest
import torch

from sam2_enhanced import build_predictor, load_config
from sam2_enhanced.predictor.tracking import DetectionTracker

H, W, T = 48, 64, 6


@pytest.fixture(scope="module")
def predictor():
    torch.manual_seed(0)
    cfg = load_config("tiny")
    cfg.tracker.det_threshold = 0.0  # untrained: every query is a detection, ids run past 6
    cfg.tracker.min_hits = 1
    return build_predictor(cfg, device="cpu")


@pytest.fixture(scope="module")
def video():
    frames = np.random.default_rng(0).integers(0, 255, size=(T, H, W, 3), dtype=np.uint8)
    frames[:, 10:20, 10:20] = 255
    return frames


def tracker_ids(output) -> list[int]:
    return output[3].tracker_id.tolist()


def test_removed_object_id_leaves_every_later_output(predictor, video):
    state = predictor.init_state(video)
    predictor.add_new_points_or_box(state, 0, 1, box=[8, 8, 22, 22])
    _, _, _, detections = predictor.add_new_points_or_box(state, 0, 6, box=[30, 20, 50, 40])
    assert 6 in detections.tracker_id
    remaining, updated = predictor.remove_object(state, 6)
    assert remaining == [1] and [tracker_ids(o) for o in updated] != []
    assert all(6 not in tracker_ids(o) for o in updated)
    outputs = list(predictor.propagate_in_video(state))
    assert len(outputs) == T and max(len(tracker_ids(o)) for o in outputs) > 6
    assert all(6 not in tracker_ids(o) for o in outputs)
    predictor.reset_state(state)  # a reset forgets: the number is free again
    assert state.tracker.retired_ids == set()


def test_cleared_prompt_leaves_the_frames_kept_detections(predictor, video):
    state = predictor.init_state(video)
    predictor.add_new_points_or_box(state, 0, 1, box=[8, 8, 22, 22])
    predictor.add_new_points_or_box(state, 2, 2, box=[30, 20, 50, 40])
    _, _, _, detections = predictor.clear_all_prompts_in_frame(state, 2, 2)
    assert len(detections) == 0 and 2 not in state.cond_detections  # nothing prompted there
    predictor.add_new_points_or_box(state, 0, 3, box=[30, 20, 50, 40])
    _, _, _, detections = predictor.clear_all_prompts_in_frame(state, 0, 3)
    assert 3 not in detections.tracker_id and 1 in detections.tracker_id


def test_prompted_id_taken_from_a_live_track_is_not_shared(predictor, video):
    state = predictor.init_state(iter(list(video)))  # live: prompts arrive while tracking
    taken = None
    outputs = []
    for output in predictor.propagate_in_video(state):
        outputs.append(output)
        if output[0] == 2:
            taken = tracker_ids(output)[0]  # a detection track's number, chosen by the user
            predictor.add_new_points_or_box(state, 2, taken, box=[8, 8, 22, 22])
    assert taken is not None and state.obj_ids == [taken]
    for output in outputs[3:]:
        ids = tracker_ids(output)
        assert len(ids) == len(set(ids)), ids  # no number on two rows
        assert len(ids) > 1


@pytest.mark.parametrize(
    ("released", "reserved", "expected_new_id"),
    [
        (1, set(), 3),  # track 1 renumbered to the next free id (1, 2 exist)
        (2, {3}, 4),  # 3 is reserved by a prompted object
        (9, set(), None),  # no track holds 9: nothing renumbered, 9 still retired
    ],
)
def test_release_renumbers_the_track_and_retires_the_id(released, reserved, expected_new_id):
    tracker = DetectionTracker(match_iou=0.3, embedding_weight=0.0, max_lost_frames=5, min_hits=1)
    boxes = np.array([[0, 0, 10, 10], [30, 30, 40, 40]], np.float32)
    assert tracker.update(boxes, np.eye(2, 4), np.zeros(2)).tolist() == [1, 2]
    tracker.release(released, reserved)
    ids = sorted(track.track_id for track in tracker.tracks)
    assert released not in ids
    if expected_new_id is not None:
        assert expected_new_id in ids
    tracker.reset()
    new_boxes = np.array([[0, 0, 5, 5]] * 12, np.float32)
    assert released not in tracker.update(new_boxes, np.eye(12, 4), np.zeros(12)).tolist()
    tracker.reset(forget_retired=True)
    assert tracker.update(boxes[:1], np.eye(1, 4), np.zeros(1)).tolist() == [1]
