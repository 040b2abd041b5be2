"""Motion classes acting on memory refresh and window size (motion_policy.py, predictor)."""

import dataclasses

import numpy as np
import pytest
import supervision as sv
import torch

from sam2_enhanced import build_predictor, load_config
from sam2_enhanced.modeling.search_window import ObjectMotion
from sam2_enhanced.predictor.motion_policy import MotionPolicy
from sam2_enhanced.predictor.video_state import ObjectState


def obj(motion_class: str, memory_frame: int | None) -> ObjectState:
    return ObjectState(obj_id=1, motion_class=motion_class, memory_frame=memory_frame)


@pytest.mark.parametrize(
    ("motion_class", "memory_frame", "frame_idx", "stores"),
    [
        ("unknown", 9, 10, True),
        ("dynamic", 9, 10, True),
        ("static", None, 10, True),  # nothing stored yet
        ("static", 9, 10, False),
        ("static", 8, 10, False),
        ("static", 7, 10, True),  # three frames on: stride 3 reached
        ("static", 13, 10, True),  # reverse tracking counts frames backwards
    ],
)
def test_a_static_object_stores_every_stride_frames(motion_class, memory_frame, frame_idx, stores):
    policy = MotionPolicy(static_memory_stride=3, static_side_factor=1.0)
    assert policy.stores_memory(obj(motion_class, memory_frame), frame_idx) == stores


class FakeState:
    def __init__(self, objects):
        self.objects = objects


def test_observe_takes_classes_of_prompted_rows_and_sizes_their_windows():
    objects = {1: obj("unknown", None), 2: obj("static", None)}
    for o in objects.values():
        o.motion = ObjectMotion.start(torch.tensor([0.0, 0.0, 10.0, 10.0]))
    detections = sv.Detections(
        xyxy=np.zeros((3, 4)), tracker_id=np.array([1, 2, 7]), confidence=np.ones(3)
    )
    detections.data["motion_class"] = np.array(["static", "dynamic", "static"])
    MotionPolicy(1, 0.5).observe(FakeState(objects), detections)  # id 7: a detection track
    assert (objects[1].motion_class, objects[1].motion.side_factor) == ("static", 0.5)
    assert (objects[2].motion_class, objects[2].motion.side_factor) == ("dynamic", 1.0)
    unlabelled = sv.Detections(xyxy=np.zeros((1, 4)), tracker_id=np.array([1]))
    MotionPolicy(1, 0.5).observe(FakeState(objects), unlabelled)  # classification off: no change
    assert objects[1].motion_class == "static"


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: MotionPolicy(0, 1.0), "static_memory_stride must be >= 1"),
        (lambda: MotionPolicy(2, 0.0), r"static_side_factor must be in \(0, 1\]"),
        (lambda: MotionPolicy(2, 1.5), r"static_side_factor must be in \(0, 1\]"),
        (
            lambda: dataclasses.replace(
                load_config("tiny"),
                memory_bank=dataclasses.replace(
                    load_config("tiny").memory_bank, static_memory_stride=4
                ),
            ),
            "set tracker.classify_motion: true",
        ),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def stored_tracked_frames(stride: int) -> tuple[list[int], str]:
    """Frames whose memory went to the bank on a still video (the object turns static)."""
    torch.manual_seed(0)
    cfg = load_config("tiny")
    cfg.tracker.classify_motion = True
    predictor = build_predictor(cfg, device="cpu")
    bank = dataclasses.replace(cfg.memory_bank, static_memory_stride=stride)
    predictor = type(predictor)(predictor.model, device="cpu", memory_bank=bank)
    frame = np.random.default_rng(0).integers(0, 80, (64, 64, 3), dtype=np.uint8)
    frame[20:30, 20:30] = 255
    state = predictor.init_state(np.stack([frame] * 12))
    predictor.add_new_points_or_box(state, 0, 1, box=[20, 20, 30, 30])
    added = []
    add = state.bank.add
    state.bank.add = lambda obj_id, item: (added.append(item.frame_idx), add(obj_id, item))
    for _ in predictor.propagate_in_video(state):
        pass
    return added, state.objects[1].motion_class


def test_a_static_object_refreshes_its_memory_less_often_in_the_predictor():
    every, motion_class = stored_tracked_frames(1)
    assert motion_class == "static" and every == list(range(1, 12))
    strided, _ = stored_tracked_frames(3)
    assert len(strided) < len(every)
    gaps = np.diff(strided)
    assert gaps.max() >= 3 and set(gaps.tolist()) <= {1, 3}  # every frame until static


@pytest.mark.parametrize(
    ("overrides", "error", "match"),
    [
        (dict(memory_bank={"max_recent_frames": 2}), TypeError, "must be a MemoryBankConfig"),
        (dict(tracker="static"), TypeError, "must be a TrackerConfig"),
        (dict(search_window=1.0), TypeError, "must be a SearchWindowConfig"),
        (
            dict(search_window=load_config("tiny").search_window.__class__(static_side_factor=0.5)),
            ValueError,
            "classify_motion",
        ),
    ],
)
def test_predictor_overrides_are_checked(overrides, error, match):
    predictor = build_predictor(load_config("tiny"), device="cpu")
    with pytest.raises(error, match=match):
        type(predictor)(predictor.model, device="cpu", **overrides)
