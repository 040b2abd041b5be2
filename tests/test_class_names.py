"""A prompted object's class_id is documented (-1, UNKNOWN_CLASS_ID) and ``predictor.names`` reads
it as "object", never as the last class of the detector's list."""

import numpy as np
import pytest
import torch

from sam2_enhanced import build_predictor, load_config
from sam2_enhanced.data.synthetic import CLASS_NAMES
from sam2_enhanced.predictor.class_names import UNKNOWN_CLASS, class_names_map
from sam2_enhanced.predictor.video_state import UNKNOWN_CLASS_ID


@pytest.mark.parametrize(
    ("num_classes", "expected"),
    [
        (4, {-1: "object", 0: "drone", 1: "bird", 2: "vehicle", 3: "balloon"}),
        (2, {-1: "object", 0: "class 0", 1: "class 1"}),
        (0, {-1: "object"}),
    ],
)
def test_names_map_includes_the_unknown_class(num_classes, expected):
    names = class_names_map(num_classes)
    assert names == expected
    with pytest.raises(KeyError):
        names[num_classes]  # an id the model cannot report is not silently named


def test_prompted_object_without_a_detection_is_the_unknown_class():
    torch.manual_seed(0)
    cfg = load_config("tiny")
    cfg.tracker.det_threshold = 1.0  # no detection passes: the prompted object's own row only
    predictor = build_predictor(cfg, device="cpu")
    video = np.full((2, 48, 64, 3), 60, dtype=np.uint8)
    video[:, 10:20, 10:20] = 255
    state = predictor.init_state(video)
    _, _, _, detections = predictor.add_new_points_or_box(state, 0, 1, box=[8, 8, 22, 22])
    assert detections.tracker_id.tolist() == [1]
    assert detections.class_id.tolist() == [UNKNOWN_CLASS_ID] == [-1]
    names = predictor.names
    assert names[detections.class_id[0]] == UNKNOWN_CLASS == "object"
    assert names[-1] != names[max(names)]  # not the last class, as a list's [-1] would be
    assert set(names) == {-1, *range(cfg.heads.num_classes)}
    if cfg.heads.num_classes == len(CLASS_NAMES):
        assert names[0] == CLASS_NAMES[0]
