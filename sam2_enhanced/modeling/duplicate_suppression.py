"""Inference-time suppression of duplicate detections: class-agnostic box NMS that keeps the
query set's size.

Several queries can end on one object, e.g. a query whose proposal covered part of the object
and one that covered all of it; after the refinement head's passes their boxes overlap (see
``heads.refine_steps``). A one-to-one set loss should score all but one of them down, and on
this project's CPU budget it does not fully. Box NMS (``torchvision.ops.nms``) over each frame's
refined detections finds the lower-scoring box of each overlapping pair; instead of dropping it,
its class logits are set to ``SUPPRESSED_LOGIT`` (probability ~1e-13), so every output keeps its
``(B, N, ...)`` shape and the query's state, and it falls below any detection threshold.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torchvision.ops import nms

from sam2_enhanced.box_ops import cxcywh_to_xyxy

SUPPRESSED_LOGIT = -30.0  # class logit given to a suppressed duplicate


class DuplicateSuppression(nn.Module):
    """Scores down every detection that overlaps a higher-scoring one of the same frame by more
    than ``iou_threshold`` (class-agnostic). No parameters; the model applies it at inference
    only (training losses see every query as decoded)."""

    def __init__(self, *, iou_threshold: float) -> None:
        super().__init__()
        if not 0.0 < iou_threshold <= 1.0:
            raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold}")
        self.iou_threshold = iou_threshold

    def forward(self, class_logits: Tensor, boxes_cxcywh: Tensor) -> Tensor:
        """(B, N, C) class logits and (B, N, 4) normalized boxes -> (B, N, C) class logits, those
        of suppressed duplicates set to ``SUPPRESSED_LOGIT``."""
        scores = class_logits.detach().amax(dim=-1).float()  # (B, N)
        boxes_xyxy = cxcywh_to_xyxy(boxes_cxcywh.detach().float())  # (B, N, 4)
        suppressed = torch.ones_like(scores, dtype=torch.bool)  # (B, N)
        for b in range(scores.shape[0]):
            suppressed[b, nms(boxes_xyxy[b], scores[b], self.iou_threshold)] = False
        return class_logits.masked_fill(suppressed[..., None], SUPPRESSED_LOGIT)
