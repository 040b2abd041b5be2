"""Detection-driven track ids: persistence, occlusion, reserved ids."""

import numpy as np
import pytest

from sam2_enhanced.predictor.tracking import DetectionTracker


def make_tracker(**kwargs):
    args = dict(match_iou=0.2, embedding_weight=0.3, max_lost_frames=2, min_hits=1)
    args.update(kwargs)
    return DetectionTracker(**args)


def box_at(x, y, size=6.0):
    return [x, y, x + size, y + size]


def emb(*values):
    return np.array(values, dtype=np.float32)


def test_moving_small_boxes_keep_their_ids():
    tracker = make_tracker()
    embeddings = np.stack([emb(1, 0), emb(0, 1)])
    ids_per_frame = []
    for t in range(6):  # two 6-px boxes moving 7 px per frame: consecutive boxes never overlap
        boxes = np.array([box_at(10 + 7 * t, 10), box_at(10 + 7 * t, 60)], np.float32)
        order = [1, 0] if t % 2 else [0, 1]  # detections come in any order
        ids = tracker.update(boxes[order], embeddings[order], np.array([0, 1]))
        ids_per_frame.append(dict(zip(order, ids.tolist(), strict=True)))
    assert all(frame == ids_per_frame[0] for frame in ids_per_frame)
    assert sorted(ids_per_frame[0].values()) == [1, 2]


def test_occluded_track_survives_max_lost_frames_then_ends():
    tracker = make_tracker(max_lost_frames=2)
    first = tracker.update(np.array([box_at(10, 10)]), np.stack([emb(1, 0)]), np.array([0]))
    for _ in range(2):  # hidden for two frames
        tracker.update(np.zeros((0, 4)), np.zeros((0, 2)), np.zeros(0))
    back = tracker.update(np.array([box_at(10, 10)]), np.stack([emb(1, 0)]), np.array([0]))
    assert back.tolist() == first.tolist()
    for _ in range(3):  # hidden longer than max_lost_frames: the track ends
        tracker.update(np.zeros((0, 4)), np.zeros((0, 2)), np.zeros(0))
    late = tracker.update(np.array([box_at(10, 10)]), np.stack([emb(1, 0)]), np.array([0]))
    assert late.tolist() != first.tolist()


@pytest.mark.parametrize(("min_hits", "expected_first"), [(1, [1]), (2, [-1])])
def test_new_tracks_are_reported_after_min_hits(min_hits, expected_first):
    tracker = make_tracker(min_hits=min_hits)
    first = tracker.update(np.array([box_at(5, 5)]), np.stack([emb(1, 0)]), np.array([0]))
    second = tracker.update(np.array([box_at(6, 5)]), np.stack([emb(1, 0)]), np.array([0]))
    assert first.tolist() == expected_first and second.tolist() == [1]


def test_new_ids_skip_reserved_object_ids():
    tracker = make_tracker()
    ids = tracker.update(
        np.array([box_at(0, 0), box_at(50, 50)]),
        np.stack([emb(1, 0), emb(0, 1)]),
        np.array([0, 0]),
        reserved_ids={1, 2},
    )
    assert sorted(ids.tolist()) == [3, 4]


def test_far_jump_starts_a_new_track():
    tracker = make_tracker()
    first = tracker.update(np.array([box_at(0, 0)]), np.stack([emb(1, 0)]), np.array([0]))
    jumped = tracker.update(np.array([box_at(90, 90)]), np.stack([emb(1, 0)]), np.array([0]))
    assert first.tolist() != jumped.tolist()


def test_low_score_row_continues_a_confirmed_track_but_starts_none():
    tracker = make_tracker(min_hits=2)
    for x in (10, 11):  # confirmed after two high-score frames
        ids = tracker.update(np.array([box_at(x, 10)]), np.stack([emb(1, 0)]), np.array([0]))
    assert ids.tolist() == [1]
    boxes = np.array([box_at(12, 10), box_at(60, 60)], np.float32)  # on the track; far away
    ids = tracker.update(
        boxes, np.stack([emb(1, 0), emb(0, 1)]), np.array([0, 0]), low_score=np.array([1, 1])
    )
    assert ids.tolist() == [1, -1]  # the track goes on, the far row starts nothing
    again = tracker.update(
        np.array([box_at(60, 60)]), np.stack([emb(0, 1)]), np.array([0]), low_score=np.array([1])
    )
    assert again.tolist() == [-1] and [t.track_id for t in tracker.tracks] == [1]
    assert tracker.tracks[0].lost == 1  # a low row far away did not continue it


def test_high_score_rows_take_tracks_before_low_score_rows():
    tracker = make_tracker(min_hits=1)
    tracker.update(np.array([box_at(10, 10)]), np.stack([emb(1, 0)]), np.array([0]))
    boxes = np.array([box_at(10, 10), box_at(11, 10)], np.float32)  # low row fits best
    ids = tracker.update(
        boxes, np.stack([emb(1, 0), emb(1, 0)]), np.array([0, 0]), low_score=np.array([1, 0])
    )
    assert ids.tolist() == [-1, 1]


def test_unconfirmed_tracks_take_no_low_score_rows():
    tracker = make_tracker(min_hits=3)
    for x in (10, 11):
        tracker.update(np.array([box_at(x, 10)]), np.stack([emb(1, 0)]), np.array([0]))
    tracker.update(
        np.array([box_at(12, 10)]), np.stack([emb(1, 0)]), np.array([0]), low_score=np.array([1])
    )
    assert tracker.tracks[0].hits == 2 and tracker.tracks[0].lost == 1


def test_low_score_of_the_wrong_length_is_refused_and_tracks_are_kept():
    tracker = make_tracker()
    tracker.update(np.array([box_at(10, 10)]), np.stack([emb(1, 0)]), np.array([0]))
    with pytest.raises(ValueError, match="low_score must be"):
        tracker.update(
            np.array([box_at(10, 10)]), np.stack([emb(1, 0)]), np.array([0]), low_score=[1, 0]
        )
    assert [(t.track_id, t.hits, t.lost) for t in tracker.tracks] == [(1, 1, 0)]
