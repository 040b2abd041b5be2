"""Prompt sampling as SAM 2 trains: a mask, a jittered box or clicks on the first frame,
corrective clicks sampled from the error region on a few later frames, and previous masks
withheld at random (:func:`drop_previous`).

Masks and boxes come in video pixels (frames of H x W); prompts are returned in model-input
pixels (``image_size`` square) as :class:`ObjectPrompts`. Randomness comes from an explicit
``torch.Generator`` so a run is reproducible and resumable.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from sam2_enhanced.box_ops import masks_to_boxes_xyxy
from sam2_enhanced.modeling.sam2_base_enhanced import ObjectPrompts
from sam2_enhanced.modeling.sam_mask_head import BOX_LABELS, NO_OBJ_SCORE

PROMPT_KINDS = ("mask", "box", "points")


@dataclass
class PromptChoice:
    """How the first frame of a clip is prompted."""

    kind: str  # one of PROMPT_KINDS
    num_points: int  # clicks per object when kind == "points" (else 0)

    @property
    def multimask(self) -> bool:
        """SAM predicts 3 candidates for an ambiguous single click."""
        return self.kind == "points" and self.num_points == 1


def _uniform(generator: torch.Generator) -> float:
    return float(torch.rand((), generator=generator))


def choose_prompt(
    *, prob_mask: float, prob_box: float, max_points: int, generator: torch.Generator
) -> PromptChoice:
    """Draw the prompt kind of a clip (points take the remaining probability)."""
    draw = _uniform(generator)
    if draw < prob_mask:
        return PromptChoice("mask", 0)
    if draw < prob_mask + prob_box:
        return PromptChoice("box", 0)
    num_points = int(torch.randint(1, max_points + 1, (), generator=generator))
    return PromptChoice("points", num_points)


def _scale(height: int, width: int, image_size: int, device: torch.device) -> Tensor:
    """(2,) factors from video (x, y) pixels to model-input pixels."""
    return torch.tensor([image_size / width, image_size / height], device=device)


def jitter_boxes(
    boxes_xyxy: Tensor, rel_std: float, max_px: float, generator: torch.Generator
) -> Tensor:
    """(O, 4) boxes with each corner moved by N(0, rel_std * side) clipped to +-max_px."""
    sides = (boxes_xyxy[:, 2:] - boxes_xyxy[:, :2]).repeat(1, 2)  # (O, 4) w, h, w, h
    noise = torch.randn(boxes_xyxy.shape, generator=generator).to(boxes_xyxy.device)
    noise = (noise * rel_std * sides).clamp(-max_px, max_px)
    jittered = boxes_xyxy + noise
    x0y0 = torch.minimum(jittered[:, :2], jittered[:, 2:])
    x1y1 = torch.maximum(jittered[:, :2], jittered[:, 2:])
    return torch.cat([x0y0, x1y1], dim=1)


def box_prompts(boxes_xyxy: Tensor, frame_hw: tuple[int, int], image_size: int) -> ObjectPrompts:
    """(O, 4) pixel boxes of the video -> box prompts (two corner points) in model pixels."""
    if boxes_xyxy.ndim != 2 or boxes_xyxy.shape[1] != 4:
        raise ValueError(f"boxes_xyxy must be (O, 4), got shape {tuple(boxes_xyxy.shape)}")
    scale = _scale(*frame_hw, image_size, boxes_xyxy.device)
    corners = boxes_xyxy.reshape(-1, 2, 2) * scale  # (O, 2, 2)
    labels = torch.tensor(BOX_LABELS, dtype=torch.int32, device=boxes_xyxy.device)
    return ObjectPrompts(point_coords=corners, point_labels=labels.expand(len(corners), 2))


def sample_points(mask: Tensor, num_points: int, generator: torch.Generator) -> Tensor:
    """(H, W) bool mask -> (num_points, 2) xy pixel centres drawn uniformly (with repeats)."""
    ys, xs = torch.nonzero(mask, as_tuple=True)
    if ys.numel() == 0:
        raise ValueError("cannot sample points from an empty mask")
    picks = torch.randint(0, ys.numel(), (num_points,), generator=generator).to(ys.device)
    return torch.stack([xs[picks], ys[picks]], dim=1).float() + 0.5


def point_prompts(masks: Tensor, num_points: int, image_size: int, generator: torch.Generator):
    """(O, H, W) non-empty GT masks -> ``num_points`` positive clicks per object."""
    scale = _scale(masks.shape[1], masks.shape[2], image_size, masks.device)
    coords = torch.stack([sample_points(m > 0.5, num_points, generator) for m in masks]) * scale
    labels = torch.ones(masks.shape[0], num_points, dtype=torch.int32, device=masks.device)
    return ObjectPrompts(point_coords=coords, point_labels=labels)


def mask_prompts(masks: Tensor, mask_size: int) -> ObjectPrompts:
    """(O, H, W) GT masks -> binary mask prompts (O, 1, mask_size, mask_size).

    Area-downsampled masks are thresholded at 0.5; the densest cell of each object is always
    kept so that objects smaller than a mask cell do not vanish.
    """
    area = F.interpolate(masks[:, None].float(), size=(mask_size, mask_size), mode="area")
    peak = area.flatten(1).amax(dim=1).view(-1, 1, 1, 1)  # (O, 1, 1, 1)
    binary = (area >= 0.5) | ((area >= peak) & (peak > 0))  # (O, 1, m, m)
    num_objects = masks.shape[0]
    return ObjectPrompts(
        point_coords=torch.zeros(num_objects, 1, 2, device=masks.device),
        point_labels=-torch.ones(num_objects, 1, dtype=torch.int32, device=masks.device),
        mask_inputs=binary.float(),
        has_mask=torch.ones(num_objects, dtype=torch.bool, device=masks.device),
    )


def first_frame_prompts(
    masks: Tensor,
    choice: PromptChoice,
    *,
    image_size: int,
    mask_size: int,
    box_jitter: float,
    box_jitter_max_px: float,
    generator: torch.Generator,
) -> ObjectPrompts:
    """Prompts of O objects, all visible, on the first frame of a clip.

    Args:
        masks: (O, H, W) {0, 1} GT masks in video pixels, none empty.
        choice: the prompt kind of this clip (see :func:`choose_prompt`).
    """
    empty = (masks.flatten(1) <= 0.5).all(dim=1)
    if bool(empty.any()):
        raise ValueError(
            f"objects {torch.nonzero(empty).flatten().tolist()} have empty masks; prompt only "
            "objects visible on the prompted frame"
        )
    if choice.kind == "mask":
        return mask_prompts(masks, mask_size)
    if choice.kind == "box":
        boxes = jitter_boxes(
            masks_to_boxes_xyxy(masks > 0.5), box_jitter, box_jitter_max_px, generator
        )
        return box_prompts(boxes, (masks.shape[1], masks.shape[2]), image_size)
    if choice.kind == "points":
        return point_prompts(masks, choice.num_points, image_size, generator)
    raise ValueError(f"prompt kind must be one of {PROMPT_KINDS}, got {choice.kind!r}")


def corrective_clicks(
    pred_masks: Tensor, gt_masks: Tensor, image_size: int, generator: torch.Generator
) -> ObjectPrompts:
    """One click per object drawn uniformly from its error region (SAM 2's correction).

    A click in a missed pixel (GT but not predicted) is positive, one in a false-positive pixel
    negative. Objects without error get a padding point (no prompt).

    Args:
        pred_masks: (O, H, W) bool predicted masks at video resolution.
        gt_masks: (O, H, W) {0, 1} GT masks.
    """
    if pred_masks.shape != gt_masks.shape or pred_masks.ndim != 3:
        raise ValueError(
            f"pred_masks and gt_masks must both be (O, H, W), got {tuple(pred_masks.shape)} "
            f"and {tuple(gt_masks.shape)}"
        )
    num_objects, height, width = gt_masks.shape
    gt = gt_masks > 0.5
    coords = torch.zeros(num_objects, 1, 2, device=gt.device)
    labels = -torch.ones(num_objects, 1, dtype=torch.int32, device=gt.device)
    for o in range(num_objects):
        errors = gt[o] ^ pred_masks[o]
        if not bool(errors.any()):
            continue
        xy = sample_points(errors, 1, generator)[0]
        coords[o, 0] = xy
        labels[o, 0] = int(gt[o, int(xy[1]), int(xy[0])])
    coords = coords * _scale(height, width, image_size, gt.device)
    return ObjectPrompts(point_coords=coords, point_labels=labels)


def drop_previous(previous_logits: Tensor, prob: float, generator: torch.Generator) -> Tensor:
    """Withhold each object's previous mask with probability ``prob``.

    The previous mask becomes the previous-centre click of the next frame. A model that always
    gets it learns a shortcut, "a click means the object is there", and never re-finds an
    object once its mask went empty (no click: "absent" forever). A withheld row (all
    ``NO_OBJ_SCORE``, as after a loss at inference) makes the model find the target and judge
    its presence from memory and the image alone.

    Args:
        previous_logits: (O, 1, m, m) mask logits of each object on the frame before.
        prob: chance in [0, 1] that a row is withheld.

    Returns:
        (O, 1, m, m) the same logits, withheld rows filled with ``NO_OBJ_SCORE``.
    """
    if not 0.0 <= prob <= 1.0:
        raise ValueError(f"prob must be in [0, 1], got {prob}")
    if previous_logits.ndim != 4 or previous_logits.shape[1] != 1:
        raise ValueError(
            f"previous_logits must be (O, 1, m, m), got {tuple(previous_logits.shape)}"
        )
    num_objects = previous_logits.shape[0]
    drop = torch.rand(num_objects, generator=generator) < prob  # (O,)
    drop = drop.to(previous_logits.device).view(-1, 1, 1, 1)
    return previous_logits.masked_fill(drop, NO_OBJ_SCORE)
