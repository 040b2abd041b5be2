"""Re-detection of lost prompted objects: matching, gating, re-seating, predictor glue."""

import dataclasses

import numpy as np
import pytest
import torch

from sam2_enhanced import build_predictor, load_config
from sam2_enhanced.config import TrackerConfig
from sam2_enhanced.modeling.search_window import ObjectMotion
from sam2_enhanced.predictor.redetection import Redetector, match_scores
from sam2_enhanced.predictor.video_state import ObjectState

EMB = np.array([1.0, 0.0, 0.0])


def lost_object(obj_id=1, lost_frames=5, embedding=EMB, class_id=0, box=(10, 10, 20, 20)):
    obj = ObjectState(obj_id=obj_id, class_id=class_id, embedding=embedding)
    obj.motion = ObjectMotion.start(torch.tensor(box, dtype=torch.float32))
    obj.motion.lost_frames = lost_frames
    return obj


DETS = dict(
    boxes_xyxy=np.array([[50, 50, 60, 60], [70, 70, 80, 80], [0, 0, 100, 100]], np.float32),
    labels=np.array([0, 0, 0]),
    embeddings=np.array([[0.6, 0.8, 0.0], [1.0, 0.1, 0.0], [1.0, 0.0, 0.0]]),
)


def test_match_scores_gate_class_and_size_and_rank_by_similarity():
    boxes = np.array([[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 30, 30], [0, 0, 12, 12]], np.float32)
    labels = np.array([0, 1, 0, 0])
    embeddings = np.array([[1.0, 0, 0], [1.0, 0, 0], [1.0, 0, 0], [0.0, 2.0, 0]])
    scores = match_scores(EMB, 0, np.array([0, 0, 10, 10.0]), boxes, labels, embeddings, 2.0)
    assert scores[0] == pytest.approx(1.0)
    assert scores[1] == -np.inf and scores[2] == -np.inf  # other class; 3x the size
    assert scores[3] == pytest.approx(0.0)  # orthogonal embedding, scale-free
    unknown_class = match_scores(EMB, -1, np.array([0, 0, 10, 10.0]), boxes, labels, embeddings, 2)
    assert unknown_class[1] == pytest.approx(1.0)


def test_a_lost_object_moves_to_its_best_matching_free_detection():
    objects = {1: lost_object()}
    redetector = Redetector(after_frames=3, min_similarity=0.5, max_size_change=2.0)
    reseated = redetector.reseat(objects, **DETS, visible_boxes_xyxy=np.zeros((0, 4)))
    assert reseated == [1] and redetector.num_reseated == 1
    motion = objects[1].motion
    assert motion.box_xyxy.tolist() == [70, 70, 80, 80] and motion.lost_frames == 0
    # the best detection sits on a visible object: the next best takes its place
    objects = {1: lost_object()}
    visible = np.array([[69, 69, 81, 81]], np.float32)
    assert redetector.reseat(objects, **DETS, visible_boxes_xyxy=visible) == [1]
    assert objects[1].motion.box_xyxy.tolist() == [50, 50, 60, 60]


@pytest.mark.parametrize(
    ("obj", "min_similarity"),
    [
        (lost_object(lost_frames=2), 0.5),  # not lost long enough
        (lost_object(embedding=None), 0.5),  # never covered by a detection
        (lost_object(class_id=3), 0.5),  # no detection of its class
        (lost_object(), 0.999),  # nothing similar enough
    ],
)
def test_no_reseat_without_a_match(obj, min_similarity):
    before = obj.motion.box_xyxy.clone()
    redetector = Redetector(after_frames=3, min_similarity=min_similarity, max_size_change=2.0)
    assert redetector.reseat({1: obj}, **DETS, visible_boxes_xyxy=np.zeros((0, 4))) == []
    assert torch.equal(obj.motion.box_xyxy, before) and obj.motion.lost_frames > 0


def test_each_detection_reseats_one_object_only():
    objects = {1: lost_object(1), 2: lost_object(2)}
    single = {k: v[1:2] for k, v in DETS.items()}
    redetector = Redetector(after_frames=1, min_similarity=0.0, max_size_change=2.0)
    assert redetector.reseat(objects, **single, visible_boxes_xyxy=np.zeros((0, 4))) == [1]
    assert objects[2].motion.lost_frames == 5


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: Redetector(after_frames=-1, min_similarity=0, max_size_change=2), "after_frames"),
        (lambda: Redetector(after_frames=1, min_similarity=2, max_size_change=2), "similarity"),
        (lambda: Redetector(after_frames=1, min_similarity=0, max_size_change=0.5), "size"),
        (
            lambda: Redetector(after_frames=1, min_similarity=0, max_size_change=2, min_score=2),
            "min_score",
        ),
        (lambda: TrackerConfig(redetect_after=-1), "tracker.redetect_after"),
        (lambda: TrackerConfig(redetect_threshold=1.5), "tracker.redetect_threshold"),
        (lambda: TrackerConfig(redetect_similarity=-2), "tracker.redetect_similarity"),
        (lambda: TrackerConfig(redetect_max_size_change=0.9), "redetect_max_size_change"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_predictor_reseats_a_lost_object_on_a_detection_of_the_frame():
    """The glue: the detector's own rows of a real frame re-seat a lost object's window."""
    torch.manual_seed(0)
    cfg = load_config("tiny")
    cfg.tracker = dataclasses.replace(
        cfg.tracker, redetect_after=2, redetect_threshold=0.0, redetect_similarity=-1.0,
        redetect_max_size_change=1e6,
    )  # fmt: skip
    predictor = build_predictor(cfg, device="cpu")
    frames = np.random.default_rng(0).integers(0, 255, (4, 64, 64, 3), dtype=np.uint8)
    state = predictor.init_state(frames)
    predictor.add_new_points_or_box(state, 0, 1, box=[10, 10, 20, 20])
    obj = state.objects[1]
    obj.embedding = np.ones(cfg.encoder.neck_dim, dtype=np.float32)
    obj.motion = ObjectMotion.start(torch.tensor([10.0, 10.0, 20.0, 20.0]))
    obj.motion.lost_frames = 2
    frame = state.loader.get(1)
    with torch.no_grad():
        features = predictor.model.encode_image(frame)
        detections = predictor.model.track_step(features, None, [], None).detections
    assert predictor.redetector.apply(state, detections) == [1]
    assert obj.motion.lost_frames == 0  # re-seated on one of the frame's detections
    box = obj.motion.box_xyxy
    assert ((box >= 0) & (box <= 64)).all()
    assert not torch.equal(box, torch.tensor([10.0, 10.0, 20.0, 20.0]))
