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
  last decoder layer's outputs and of the refined outputs (what ``validate`` reports);
- ``top_localized``: of the objects that some refined detection overlaps (IoU >= 0.1), the share
  whose best-scoring overlapping detection covers them at IoU >= 0.5 (what AP50 rewards: a
  badly placed box that outscores the good one is a false positive above a true one);
- ``top_size_ratio``: the median ``sqrt(area)`` of that detection over the object's, among the
  objects where it misses IoU 0.5 (below 1: the detector boxes a part of the object).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from sam2_enhanced.box_ops import box_area, box_iou, denormalize_cxcywh
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
MIN_OVERLAP_IOU = 0.1  # a detection overlaps an object from this IoU on (top_localized)


@dataclass
class ProposalQuality:
    """Each step of the detector on the same frames (see the module docstring)."""

    rank_auc: float  # P(an object cell outscores a background cell), mean over frames
    proposal_recall: float  # objects covered at IoU >= 0.5 by some proposal
    selected_recall: float  # the same among the cells selected as queries
    proposal_ap50: float  # AP50 of each frame's best MAX_PROPOSALS proposals
    decoder_ap50: float  # AP50 of the last decoder layer
    refined_ap50: float  # AP50 of the refined detections
    top_localized: float  # objects whose best-scoring overlapping detection has IoU >= 0.5
    top_size_ratio: float  # median side ratio detection / object where it has IoU < 0.5
    num_frames: int  # frames scored
    num_objects: int  # (object, frame) pairs of at least min_size px


@dataclass
class _Frames:
    gt: list[np.ndarray] = field(default_factory=list)
    outputs: dict[str, tuple[list[np.ndarray], list[np.ndarray]]] = field(
        default_factory=lambda: {name: ([], []) for name in ("proposal", "decoder", "refined")}
    )  # name -> boxes, scores
    aucs: list[float] = field(default_factory=list)
    best_ious: list[float] = field(default_factory=list)
    selected_ious: list[float] = field(default_factory=list)
    top_ious: list[float] = field(default_factory=list)  # per overlapped object: IoU of its
    # best-scoring overlapping detection
    top_ratios: list[float] = field(default_factory=list)  # that detection's side / the object's


def top_overlaps(
    det_boxes_xyxy: Tensor, det_scores: Tensor, gt_boxes_xyxy: Tensor
) -> tuple[Tensor, Tensor]:
    """Each object's best-scoring detection among those overlapping it at IoU >= 0.1.

    Args:
        det_boxes_xyxy: (D, 4) detections, pixels.
        det_scores: (D,) their scores.
        gt_boxes_xyxy: (G, 4) objects, pixels.

    Returns:
        (G',) IoU of that detection with the object and (G',) its ``sqrt(area)`` over the
        object's, for the G' objects that some detection overlaps.
    """
    if det_boxes_xyxy.shape[0] == 0 or gt_boxes_xyxy.shape[0] == 0:
        empty = det_boxes_xyxy.new_zeros(0)
        return empty, empty
    ious = box_iou(det_boxes_xyxy, gt_boxes_xyxy)[0]  # (D, G)
    overlapping = ious >= MIN_OVERLAP_IOU
    ranked = torch.where(overlapping, det_scores[:, None], det_scores.new_tensor(-math.inf))
    top = ranked.argmax(dim=0)  # (G,) best-scoring overlapping detection of each object
    found = overlapping.any(dim=0)  # (G,)
    ratio = box_area(det_boxes_xyxy)[top].sqrt() / box_area(gt_boxes_xyxy).clamp(min=1e-9).sqrt()
    return ious[top, torch.arange(ious.shape[1])][found], ratio[found]


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
        refined_boxes, refined_scores = named["refined"]
        top_ious, top_ratios = top_overlaps(
            refined_boxes, refined_scores, boxes_xyxy[counted].float()
        )
        acc.top_ious += top_ious.tolist()
        acc.top_ratios += top_ratios.tolist()


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
    acc = _Frames()
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
    top_ious, top_ratios = np.asarray(acc.top_ious), np.asarray(acc.top_ratios)
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
        top_localized=float((top_ious >= 0.5).mean()) if top_ious.size else float("nan"),
        top_size_ratio=(
            float(np.median(top_ratios[top_ious < 0.5])) if (top_ious < 0.5).any() else float("nan")
        ),
        num_frames=len(acc.gt),
        num_objects=int(best.size),
    )
