"""Duplicate suppression (``heads.nms_iou``): box NMS that keeps the query set's shape."""

import dataclasses

import pytest
import torch

from sam2_enhanced import build_model
from sam2_enhanced.modeling.duplicate_suppression import SUPPRESSED_LOGIT, DuplicateSuppression

WHOLE = [0.5, 0.5, 0.2, 0.2]  # normalized cxcywh
PART = [0.52, 0.5, 0.18, 0.2]  # IoU 0.9 with WHOLE
HALF = [0.45, 0.5, 0.1, 0.2]  # inside WHOLE, IoU 0.5 with it
ELSEWHERE = [0.1, 0.1, 0.05, 0.05]


@pytest.mark.parametrize(
    ("boxes", "scores", "iou", "suppressed"),
    [
        ([WHOLE, PART], [2.0, 1.0], 0.5, [False, True]),  # the lower of a duplicate pair
        ([WHOLE, PART], [1.0, 2.0], 0.5, [True, False]),  # whichever scores lower
        ([WHOLE, PART], [2.0, 1.0], 0.95, [False, False]),  # overlap under the threshold
        ([WHOLE, HALF], [2.0, 1.0], 0.4, [False, True]),
        ([WHOLE, HALF], [2.0, 1.0], 0.6, [False, False]),
        ([WHOLE, ELSEWHERE, PART], [0.0, -1.0, 3.0], 0.5, [True, False, False]),
    ],
)
def test_lower_scoring_overlaps_are_scored_down_and_nothing_else(boxes, scores, iou, suppressed):
    logits = torch.tensor(scores)[None, :, None].repeat(1, 1, 3)  # (1, N, 3)
    out = DuplicateSuppression(iou_threshold=iou)(logits, torch.tensor([boxes]))
    assert out.shape == logits.shape
    expected = torch.where(torch.tensor(suppressed)[None, :, None], SUPPRESSED_LOGIT, logits)
    torch.testing.assert_close(out, expected)


def test_frames_of_a_batch_do_not_suppress_each_other_and_empty_sets_pass():
    suppression = DuplicateSuppression(iou_threshold=0.5)
    boxes = torch.tensor([[WHOLE], [PART]])  # (2, 1, 4): one box per frame, overlapping
    logits = torch.tensor([[[2.0]], [[1.0]]])
    torch.testing.assert_close(suppression(logits, boxes), logits)
    assert suppression(torch.zeros(2, 0, 4), torch.zeros(2, 0, 4)).shape == (2, 0, 4)


@pytest.mark.parametrize("iou", [0.0, -0.5, 1.5])
def test_threshold_outside_0_1_is_rejected(iou):
    with pytest.raises(ValueError, match="iou_threshold"):
        DuplicateSuppression(iou_threshold=iou)


class WideBoxes(torch.nn.Module):
    """Stub refinement head: the real one's boxes made 4x wider and taller, so queries overlap."""

    def __init__(self, head):
        super().__init__()
        self.head = head

    def forward(self, *args):
        logits, boxes = self.head(*args)
        return logits, boxes * boxes.new_tensor([1, 1, 4, 4])


def test_model_suppresses_at_inference_only(tiny_cfg):
    heads = dataclasses.replace(tiny_cfg.heads, nms_iou=0.3)
    torch.manual_seed(0)
    model = build_model(dataclasses.replace(tiny_cfg, heads=heads))
    model.refinement_head = WideBoxes(model.refinement_head)
    frame = torch.rand(1, 3, tiny_cfg.encoder.image_size, tiny_cfg.encoder.image_size)
    with torch.no_grad():
        trained = model.train().detect(model.encode_image(frame), None)
        inferred = model.eval().detect(model.encode_image(frame), None)
    assert (trained.refined_logits > SUPPRESSED_LOGIT).all()
    kept = inferred.refined_logits[0, :, 0] > SUPPRESSED_LOGIT  # (N,)
    assert 0 < kept.sum() < kept.numel()
    torch.testing.assert_close(inferred.refined_boxes_cxcywh, trained.refined_boxes_cxcywh)
    expected = DuplicateSuppression(iou_threshold=0.3)(
        trained.refined_logits, trained.refined_boxes_cxcywh
    )
    torch.testing.assert_close(inferred.refined_logits, expected)
