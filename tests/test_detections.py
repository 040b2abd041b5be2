"""DetectionBuilder: one frame's detections and object masks -> supervision.Detections rows."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from sam2_enhanced.box_ops import xyxy_to_cxcywh
from sam2_enhanced.modeling.detection_head import DetectionOutput
from sam2_enhanced.predictor.detections import DetectionBuilder
from sam2_enhanced.predictor.tracking import DetectionTracker

H, W = 40, 80


def detection_output(boxes_xyxy, scores):
    """A DetectionOutput (B = 1, one class) with these pixel boxes and probabilities."""
    boxes = torch.tensor(boxes_xyxy, dtype=torch.float32) / torch.tensor([W, H, W, H])
    logits = torch.logit(torch.tensor(scores, dtype=torch.float32))[None, :, None]  # (1, N, 1)
    cxcywh = xyxy_to_cxcywh(boxes)[None]  # (1, N, 4)
    num = len(scores)
    return DetectionOutput(
        class_logits=logits[None],
        boxes_cxcywh=cxcywh[None],
        refined_logits=logits,
        refined_boxes_cxcywh=cxcywh,
        query_states=torch.eye(num, 4)[None],
    )


def prompted_state(mask_xyxy):
    """A video state with one visible prompted object (id 1) whose mask fills ``mask_xyxy``."""
    masks = torch.full((1, 1, H, W), -10.0)
    x0, y0, x1, y1 = mask_xyxy
    masks[0, 0, y0:y1, x0:x1] = 10.0
    state = SimpleNamespace(
        obj_ids=[1],
        objects={1: SimpleNamespace(class_id=-1, embedding=None)},
        tracker=DetectionTracker(
            match_iou=0.2, embedding_weight=0.3, max_lost_frames=5, min_hits=1
        ),
    )
    results = [SimpleNamespace(object_score_logits=torch.tensor(2.0), reported_box_xyxy=None)]
    return state, masks, results


@pytest.mark.parametrize(
    ("second_box", "second_kept"),
    [([11, 10, 31, 30], False), ([50, 10, 70, 30], True)],  # on the object / elsewhere
)
def test_a_second_box_on_a_prompted_object_is_not_a_new_track(second_box, second_kept):
    state, masks, results = prompted_state((10, 10, 30, 30))
    builder = DetectionBuilder(det_threshold=0.5, match_iou=0.2, video_hw=(H, W))
    output = detection_output([[10, 10, 30, 30], second_box], [0.9, 0.8])
    rows = builder.build(state, output, masks, results, update_tracks=True)
    assert 1 in rows.tracker_id.tolist()  # the object's row
    assert (len(rows) == 2) is second_kept
    if second_kept:
        assert sorted(rows.tracker_id.tolist()) == [1, 2]
        np.testing.assert_allclose(rows.xyxy[rows.tracker_id == 2][0], second_box, atol=1e-4)


def test_low_score_rows_never_take_a_prompted_object():
    state, masks, results = prompted_state((10, 10, 30, 30))
    builder = DetectionBuilder(det_threshold=0.5, match_iou=0.2, video_hw=(H, W), low_threshold=0.1)
    output = detection_output([[10, 10, 30, 30], [50, 10, 70, 30]], [0.3, 0.3])  # both low
    rows = builder.build(state, output, masks, results, update_tracks=True)
    assert rows.tracker_id.tolist() == [1]  # the object's own row (from its mask) only
    assert rows.confidence[0] == pytest.approx(torch.tensor(2.0).sigmoid().item())
