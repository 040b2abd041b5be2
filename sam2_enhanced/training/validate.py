"""Validation on freshly generated synthetic videos (the ``val`` split of
:mod:`sam2_enhanced.data.splits` by default).

Each object is prompted with its exact GT box on the first frame where it is visible and then
tracked through the rest of the video by the memory loop. Reported:

- mean mask IoU over every (object, frame) pair from the object's prompted frame on, at video
  resolution (a frame where the object is absent and nothing is predicted counts as IoU 1), and
  split into the prompted frames and the frames tracked from memory;
- the same three numbers for two trivial baselines on the same pairs: ``empty`` (no mask on any
  frame) and ``static`` (the prompt box, filled, on the prompted frame and every later one); a
  model that does not beat them on tracked frames has not learnt to track;
- detection AP50 (COCO 101-point, all frames pooled) of the refined detections against every
  visible object, ignoring objects smaller than ``min_ap_size`` pixels (``sqrt(w * h)``), and
  the same for the tiny objects of ``TINY_AP_SIZES`` (3-8 px) alone (COCO's area-range rule:
  detections matched to objects outside the range, or unmatched and outside it, are ignored).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from sam2_enhanced.box_ops import boxes_xyxy_to_masks, denormalize_cxcywh
from sam2_enhanced.data.clip_dataset import SyntheticClipDataset
from sam2_enhanced.data.splits import split_seeds
from sam2_enhanced.data.synthetic import SyntheticVideoConfig
from sam2_enhanced.evaluation.mot import detection_ap
from sam2_enhanced.modeling.motion_branch import neighbour_index
from sam2_enhanced.modeling.sam2_base_enhanced import ObjectPrompts, SAM2EnhancedBase
from sam2_enhanced.modeling.sam_mask_head import NO_OBJ_SCORE
from sam2_enhanced.training.losses import mask_iou
from sam2_enhanced.training.memory_history import ObjectHistory, SceneHistory
from sam2_enhanced.training.prompts import box_prompts
from sam2_enhanced.training.sequence import resize_frames

logger = logging.getLogger(__name__)

MIN_AP_SIZE = 8.0  # objects below this many pixels (sqrt of box area) are ignored by AP50
TINY_AP_SIZES = (3.0, 8.0)  # [min, max) px of the objects scored by detection_ap50_tiny


@dataclass
class ValidationResult:
    """Validation numbers over all videos."""

    mean_mask_iou: float  # mean IoU over all (prompted object, frame) pairs
    mean_mask_iou_min_size: float  # the same over pairs whose GT is >= min_ap_size px (NaN: none)
    mean_mask_iou_prompted: float  # the same over the prompted (object, frame) pairs only
    mean_mask_iou_tracked: float  # the same over the pairs tracked from memory (NaN: none)
    detection_ap50: float  # AP at IoU 0.5 for objects >= min_ap_size px (NaN: none)
    detection_ap50_tiny: float  # AP at IoU 0.5 for objects of TINY_AP_SIZES px (NaN: none)
    empty_mask_iou: float  # baseline "empty" (no mask) over the same pairs as mean_mask_iou
    empty_mask_iou_prompted: float  # "empty" on the prompted pairs
    empty_mask_iou_tracked: float  # "empty" on the tracked pairs (NaN: none)
    static_mask_iou: float  # baseline "static" (prompt box filled, repeated) over all pairs
    static_mask_iou_prompted: float  # "static" on the prompted pairs
    static_mask_iou_tracked: float  # "static" on the tracked pairs (NaN: none)
    num_videos: int  # videos generated
    num_objects: int  # objects prompted and tracked
    num_object_frames: int  # (object, frame) pairs averaged into mean_mask_iou


@dataclass
class VideoPredictions:
    """One video's outputs at video resolution."""

    mask_ious: list[float]  # IoU of each tracked (object, frame) pair
    gt_sizes: list[float]  # sqrt(w * h) of the GT box of each pair, pixels (0 when absent)
    prompted: list[bool]  # whether each pair is the object's prompted frame
    det_boxes_xyxy: list[np.ndarray]  # T arrays (N, 4) pixel boxes
    det_scores: list[np.ndarray]  # T arrays (N,)
    num_objects: int  # objects prompted


def _prompts_for_frame(
    starts: list[int], active: list[int], t: int, boxes_xyxy: Tensor, frame_hw, image_size: int
) -> ObjectPrompts:
    """Box prompts for objects starting on frame ``t``, padding rows for the others."""
    prompts = box_prompts(boxes_xyxy[active], frame_hw, image_size)
    starting = torch.tensor([starts[o] == t for o in active], device=boxes_xyxy.device)
    prompts.point_labels = torch.where(
        starting[:, None], prompts.point_labels, torch.full_like(prompts.point_labels, -1)
    )
    return prompts


@torch.no_grad()
def track_video(model: SAM2EnhancedBase, sample) -> VideoPredictions:
    """Box-prompt every object on its first visible frame and track it to the end."""
    device = next(model.parameters()).device
    frames = sample.frames.to(device)  # (T, 3, H, W)
    num_frames, _, height, width = frames.shape
    masks, boxes = sample.masks.to(device), sample.boxes_xyxy.to(device)
    images = resize_frames(frames, model.image_size)  # (T, 3, S, S)
    encoded = model.encode_image(images, images[neighbour_index(num_frames)])
    visible = (masks.flatten(2) > 0.5).any(dim=2)  # (T, O)
    starts = [int(torch.nonzero(visible[:, o])[0]) for o in range(masks.shape[1])]
    histories = [ObjectHistory.from_config(model.config.memory_bank) for _ in starts]
    scene = SceneHistory(model.config.memory_bank.num_scene_frames)
    result = VideoPredictions([], [], [], [], [], num_objects=len(starts))
    size = model.mask_size
    previous = torch.full((len(starts), 1, size, size), NO_OBJ_SCORE, device=device)  # (O, 1, m, m)
    for t in range(num_frames):
        active = [o for o, start in enumerate(starts) if start <= t]
        prompts = _prompts_for_frame(starts, active, t, boxes[t], (height, width), model.image_size)
        out = model.track_step(
            encoded.select(slice(t, t + 1)),
            prompts if active else None,
            [histories[o].readout(t) for o in active],
            scene.read(),
            previous_logits=previous[active],
        )
        if out.masks is not None:
            logits = F.interpolate(
                out.masks.mask_logits.float(), size=(height, width), mode="bilinear"
            )  # (O_active, 1, H, W)
            result.mask_ious += mask_iou(logits[:, 0], masks[t, active]).tolist()
            sides = boxes[t, active, 2:] - boxes[t, active, :2]  # (O_active, 2)
            result.gt_sizes += sides.prod(-1).clamp(min=0).sqrt().tolist()
            prompted = prompts.is_prompted
            result.prompted += prompted.tolist()
            previous[active] = out.masks.mask_logits.float()
            for row, o in enumerate(active):
                histories[o].add(t, out.memory, row, bool(prompted[row]))
        scene.add(out.memory.scene_tokens)
        det = out.detections
        result.det_boxes_xyxy.append(
            denormalize_cxcywh(det.refined_boxes_cxcywh[0].float(), width, height).cpu().numpy()
        )
        result.det_scores.append(det.scores[0].float().cpu().numpy())
    return result


def baseline_ious(sample) -> tuple[list[float], list[float]]:
    """Mask IoU of the two trivial baselines on the (object, frame) pairs of :func:`track_video`,
    in its order: frame by frame, each object from its first visible frame on.

    Returns ``(empty, static)``: ``empty`` predicts no mask (IoU 1 where the object is absent,
    else 0); ``static`` predicts the prompt box (the GT box on the object's first visible frame)
    filled, on that frame and every later one.
    """
    masks = sample.masks  # (T, O, H, W)
    num_frames, num_objects, height, width = masks.shape
    visible = (masks.flatten(2) > 0.5).any(dim=2)  # (T, O)
    starts = [int(torch.nonzero(visible[:, o])[0]) for o in range(num_objects)]
    prompt_boxes = torch.stack([sample.boxes_xyxy[starts[o], o] for o in range(num_objects)])
    static = boxes_xyxy_to_masks(prompt_boxes, height, width).float()  # (O, H, W)
    empty_ious: list[float] = []
    static_ious: list[float] = []
    for t in range(num_frames):
        active = [o for o, start in enumerate(starts) if start <= t]
        empty_ious += (~visible[t, active]).float().tolist()
        static_logits = static[active] * 2 - 1  # (O_active, H, W), > 0 inside the box
        static_ious += mask_iou(static_logits, masks[t, active]).tolist()
    return empty_ious, static_ious


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else float("nan")


def _split_means(values: list[float], prompted: np.ndarray) -> tuple[float, float, float]:
    """Mean over all pairs, the prompted pairs and the tracked pairs."""
    array = np.asarray(values)
    return _mean(array), _mean(array[prompted]), _mean(array[~prompted])


def validate(
    model: SAM2EnhancedBase,
    data_cfg: SyntheticVideoConfig,
    num_videos: int = 20,
    split: str = "val",
    min_ap_size: float = MIN_AP_SIZE,
) -> ValidationResult:
    """Track the first ``num_videos`` videos of ``split`` and score them (model and baselines).

    ``split`` is "val" for training-time validation and checkpoint selection, "test" for a
    final measurement (see :mod:`sam2_enhanced.data.splits`). The model is put in eval mode for
    the run and restored afterwards.
    """
    if num_videos < 1:
        raise ValueError(f"num_videos must be >= 1, got {num_videos}")
    seeds = split_seeds(split, num_videos)
    dataset = SyntheticClipDataset(num_videos, data_cfg.num_frames, data_cfg, seeds.start)
    was_training = model.training
    model.eval()
    ious: list[float] = []
    sizes: list[float] = []
    prompted: list[bool] = []
    empty: list[float] = []
    static: list[float] = []
    gt_boxes, det_boxes, det_scores, num_objects = [], [], [], 0
    try:
        for i in range(num_videos):
            sample = dataset[i]
            video = track_video(model, sample)
            video_empty, video_static = baseline_ious(sample)
            assert len(video_empty) == len(video.mask_ious), "baselines and model pair up"
            empty += video_empty
            static += video_static
            ious += video.mask_ious
            sizes += video.gt_sizes
            prompted += video.prompted
            num_objects += video.num_objects
            visible = sample.visibility > 0  # (T, O)
            gt_boxes += [sample.boxes_xyxy[t][visible[t]].numpy() for t in range(len(visible))]
            det_boxes += video.det_boxes_xyxy
            det_scores += video.det_scores
    finally:
        model.train(was_training)
    ious_array, sizes_array = np.asarray(ious), np.asarray(sizes)
    prompted_array = np.asarray(prompted, dtype=bool)
    empty_all, empty_prompted, empty_tracked = _split_means(empty, prompted_array)
    static_all, static_prompted, static_tracked = _split_means(static, prompted_array)
    result = ValidationResult(
        mean_mask_iou=_mean(ious_array),
        mean_mask_iou_min_size=_mean(ious_array[sizes_array >= min_ap_size]),
        mean_mask_iou_prompted=_mean(ious_array[prompted_array]),
        mean_mask_iou_tracked=_mean(ious_array[~prompted_array]),
        detection_ap50=detection_ap(gt_boxes, det_boxes, det_scores, 0.5, min_size=min_ap_size),
        detection_ap50_tiny=detection_ap(
            gt_boxes,
            det_boxes,
            det_scores,
            0.5,
            min_size=TINY_AP_SIZES[0],
            max_size=TINY_AP_SIZES[1],
        ),
        empty_mask_iou=empty_all,
        empty_mask_iou_prompted=empty_prompted,
        empty_mask_iou_tracked=empty_tracked,
        static_mask_iou=static_all,
        static_mask_iou_prompted=static_prompted,
        static_mask_iou_tracked=static_tracked,
        num_videos=num_videos,
        num_objects=num_objects,
        num_object_frames=len(ious),
    )
    logger.info("validation: %s", result)
    return result
