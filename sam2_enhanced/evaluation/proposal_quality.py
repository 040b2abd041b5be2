"""Where a detector's failure lies: its proposals, its query selection or its decoder.

Two-stage DETR detects in three steps: every cell proposes a scored box, the best-scoring cells
become queries, the decoder and the refinement head turn queries into detections. AP50 of the
final detections alone cannot tell which step fails. On whole frames of synthetic videos (each
frame alone, no scene memory) this measures, over the objects of at least ``min_size`` px:

- ``rank_auc``: how often a cell that the dense assignment gives an object
  (``training/dense_proposals.py``) outscores a cell it does not (0.5: scores ignore objects;
  1: every object cell above every other);
- ``proposal_recall``: share of objects that some proposal, of all cells, covers at IoU >= 0.5
  (the best the boxes can do);
- ``selected_recall``: the same over the cells chosen as queries (what selection keeps);
- ``proposal_ap50``, ``decoder_ap50``, ``refined_ap50``: AP50 of the 100 best proposals, of the
  last decoder layer's outputs and of the refined outputs (what ``validate`` reports).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from sam2_enhanced.box_ops import box_iou, denormalize_cxcywh
from sam2_enhanced.data.clip_dataset import SyntheticClipDataset
from sam2_enhanced.data.splits import split_seeds
from sam2_enhanced.data.synthetic import SyntheticVideoConfig
from sam2_enhanced.evaluation.mot import detection_ap
from sam2_enhanced.modeling.motion_branch import neighbour_index
from sam2_enhanced.modeling.sam2_base_enhanced import SAM2EnhancedBase
from sam2_enhanced.training.dense_proposals import dense_assignment
from sam2_enhanced.training.detection_targets import detection_targets
from sam2_enhanced.training.sequence import resize_frames

MAX_PROPOSALS = 100  # proposals per frame scored by proposal_ap50 (COCO's max detections)
CENTRE_RADIUS = 1.5  # cells, as train.proposal_radius's default


@dataclass
class ProposalQuality:
    """Each step of the detector on the same frames (see the module docstring)."""

    rank_auc: float  # P(an object cell outscores a background cell), mean over frames
    proposal_recall: float  # objects covered at IoU >= 0.5 by some proposal
    selected_recall: float  # the same among the cells selected as queries
    proposal_ap50: float  # AP50 of each frame's best MAX_PROPOSALS proposals
    decoder_ap50: float  # AP50 of the last decoder layer
    refined_ap50: float  # AP50 of the refined detections
    num_frames: int  # frames scored
    num_objects: int  # (object, frame) pairs of at least min_size px


@dataclass
class _Frames:
    gt: list[np.ndarray]
    outputs: dict[str, tuple[list[np.ndarray], list[np.ndarray]]]  # name -> boxes, scores
    aucs: list[float]
    best_ious: list[float]
    selected_ious: list[float]


def _frame(model: SAM2EnhancedBase, encoded, sample, t: int, min_size: float, acc: _Frames) -> None:
    """Score frame ``t`` of ``sample``, encoded (B = 1), against its ground truth."""
    hw = sample.frames.shape[-2:]
    height, width = hw
    boxes_xyxy, visibility = sample.boxes_xyxy[t], sample.visibility[t]  # (O, 4), (O,)
    det = model.detect(encoded, None)
    scores = det.proposal_logits[0].sigmoid().amax(-1)  # (P,)
    boxes = denormalize_cxcywh(det.proposal_boxes_cxcywh[0], width, height)  # (P, 4)
    top = scores.topk(min(MAX_PROPOSALS, scores.numel())).indices
    named = {
        "proposal": (boxes[top], scores[top]),
        "decoder": (
            denormalize_cxcywh(det.boxes_cxcywh[-1, 0], width, height),
            det.class_logits[-1, 0].sigmoid().amax(-1),
        ),
        "refined": (denormalize_cxcywh(det.refined_boxes_cxcywh[0], width, height), det.scores[0]),
    }
    for name, (frame_boxes, frame_scores) in named.items():
        acc.outputs[name][0].append(frame_boxes.float().numpy())
        acc.outputs[name][1].append(frame_scores.float().numpy())
    visible = visibility > 0
    acc.gt.append(boxes_xyxy[visible].numpy())
    _, targets = detection_targets(boxes_xyxy, visibility, sample.class_ids, hw)
    grid = round(scores.numel() ** 0.5)
    positive = dense_assignment(targets, grid, CENTRE_RADIUS) >= 0  # (P,)
    if positive.any() and not positive.all():
        acc.aucs.append(float((scores[positive][:, None] > scores[~positive][None]).float().mean()))
    sides = (boxes_xyxy[:, 2:] - boxes_xyxy[:, :2]).prod(-1).clamp(min=0).sqrt()  # (O,)
    counted = visible & (sides >= min_size)
    if counted.any():
        ious = box_iou(boxes, boxes_xyxy[counted].float())[0]  # (P, G)
        selector = model.detr_decoder.select_queries
        chosen = selector(det.proposal_logits, det.proposal_boxes_cxcywh)  # (1, N)
        acc.best_ious += ious.amax(0).tolist()
        acc.selected_ious += ious[chosen[0]].amax(0).tolist()


@torch.no_grad()
def proposal_quality(
    model: SAM2EnhancedBase,
    data_cfg: SyntheticVideoConfig,
    num_videos: int = 10,
    split: str = "val",
    min_size: float = 8.0,
    frame_stride: int = 1,
) -> ProposalQuality:
    """Score the first ``num_videos`` videos of ``split``, every ``frame_stride``-th frame."""
    if num_videos < 1 or frame_stride < 1:
        raise ValueError(
            f"num_videos and frame_stride must be >= 1, got {num_videos} and {frame_stride}"
        )
    seeds = split_seeds(split, num_videos)
    dataset = SyntheticClipDataset(num_videos, data_cfg.num_frames, data_cfg, seeds.start)
    acc = _Frames([], {name: ([], []) for name in ("proposal", "decoder", "refined")}, [], [], [])
    was_training = model.training
    model.eval()
    try:
        for i in range(num_videos):
            sample = dataset[i]
            frames = sample.frames[::frame_stride]  # (T', 3, H, W)
            neighbours = None
            if model.uses_motion:  # each kept frame's neighbour in the whole video
                index = neighbour_index(sample.frames.shape[0])[::frame_stride]
                neighbours = resize_frames(sample.frames[index], model.image_size)
            encoded = model.encode_image(resize_frames(frames, model.image_size), neighbours)
            for k in range(frames.shape[0]):
                _frame(
                    model, encoded.select(slice(k, k + 1)), sample, k * frame_stride, min_size, acc
                )
    finally:
        model.train(was_training)
    best, selected = np.asarray(acc.best_ious), np.asarray(acc.selected_ious)
    ap = {
        name: detection_ap(acc.gt, boxes, scores, 0.5, min_size=min_size)
        for name, (boxes, scores) in acc.outputs.items()
    }
    return ProposalQuality(
        rank_auc=float(np.mean(acc.aucs)) if acc.aucs else float("nan"),
        proposal_recall=float((best >= 0.5).mean()) if best.size else float("nan"),
        selected_recall=float((selected >= 0.5).mean()) if selected.size else float("nan"),
        proposal_ap50=ap["proposal"],
        decoder_ap50=ap["decoder"],
        refined_ap50=ap["refined"],
        num_frames=len(acc.gt),
        num_objects=int(best.size),
    )
