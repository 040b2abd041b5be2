"""Turn one frame's model detections and object masks into a ``supervision.Detections``.

Rows are (1) detector outputs above the threshold, each with the ``tracker_id`` of the prompted
object it overlaps (and that object's mask) or else of a detection-driven track (a detection
that overlaps a visible prompted object by ``match_iou`` but lost the one-to-one match to
another detection is dropped, not tracked: it is a second box on that object), (2) with a
``low_threshold``, detector outputs between it and the threshold that continued a confirmed
detection track (:mod:`sam2_enhanced.predictor.tracking`), and (3) visible prompted objects that no
detection covered (box from the mask, confidence from the occlusion score). Coordinates are video
pixels.
"""

from __future__ import annotations

import numpy as np
import supervision as sv
import torch
from torch import Tensor

from sam2_enhanced.box_ops import denormalize_cxcywh, masks_to_boxes_xyxy
from sam2_enhanced.modeling.detection_head import DetectionOutput
from sam2_enhanced.modeling.motion_class import MotionClassifier
from sam2_enhanced.predictor.tracking import INVALID, centre_gate, iou_matrix, match_boxes
from sam2_enhanced.predictor.video_state import FrameResult, VideoState


def detections_bytes(detections: sv.Detections) -> int:
    """Bytes of the arrays a ``supervision.Detections`` holds (masks included)."""
    arrays = [detections.xyxy, detections.mask, detections.confidence, detections.class_id]
    arrays += [detections.tracker_id, *detections.data.values()]
    return sum(a.nbytes for a in arrays if isinstance(a, np.ndarray))


def add_motion_classes(
    classifier: MotionClassifier,
    frame: Tensor,
    detections: sv.Detections,
    video_hw: tuple[int, int],
) -> None:
    """Set ``detections.data["motion_class"]`` (N,) to each row's class: "static" / "dynamic"
    relative to the scene, or "unknown" while a track is new (:mod:`.modeling.motion_class`).

    Args:
        classifier: the video's classifier (fed every propagated frame in order).
        frame: (1, 3, S, S) the frame at model resolution, values in [0, 1].
        detections: the frame's rows, boxes in video pixels.
        video_hw: (H, W) video size.
    """
    side = frame.shape[-1]
    grey = (frame[0].float().mean(dim=0) * 255).round().byte().cpu().numpy()  # (S, S)
    height, width = video_hw
    scale = np.array([side / width, side / height, side / width, side / height])
    boxes = detections.xyxy.reshape(-1, 4) * scale  # (N, 4) model-input pixels
    detections.data["motion_class"] = classifier.update(grey, detections.tracker_id, boxes)


def object_matches(
    object_boxes: np.ndarray, det_boxes: np.ndarray, match_iou: float
) -> list[tuple[int, int]]:
    """(object, detection) pairs by Hungarian matching on 1 - IoU, gated like the tracker."""
    if len(object_boxes) == 0 or len(det_boxes) == 0:
        return []
    iou = iou_matrix(object_boxes, det_boxes)
    gate = (iou >= match_iou) | (centre_gate(object_boxes, det_boxes, factor=0.5) & (iou > 0))
    return match_boxes(np.where(gate, 1 - iou, INVALID))


def detector_rows(
    detections: DetectionOutput, det_threshold: float, video_hw: tuple[int, int]
) -> tuple[np.ndarray, ...]:
    """A frame's detections (B = 1) scoring at least ``det_threshold``: boxes (N, 4) in video
    pixels of a (H, W) ``video_hw`` frame, scores (N,), classes (N,), embeddings (N, d)."""
    probs = detections.refined_logits[0].float().sigmoid()  # (Q, C)
    scores, labels = probs.max(dim=-1)
    keep = scores >= det_threshold
    height, width = video_hw
    boxes = denormalize_cxcywh(detections.refined_boxes_cxcywh[0][keep].float(), width, height)
    boxes = boxes.clamp(min=0).minimum(boxes.new_tensor([width, height, width, height]))
    return (
        boxes.cpu().numpy(),
        scores[keep].cpu().numpy(),
        labels[keep].cpu().numpy().astype(np.int64),
        detections.query_states[0][keep].float().cpu().numpy(),
    )


class DetectionBuilder:
    """Builds the ``detections`` of one frame output."""

    def __init__(
        self,
        *,
        det_threshold: float,
        match_iou: float,
        video_hw: tuple[int, int],
        low_threshold: float | None = None,
    ):
        self.det_threshold = det_threshold
        self.match_iou = match_iou
        self.video_hw = video_hw
        # rows from here up to det_threshold may only continue a track (None: no such rows)
        self.low_threshold = low_threshold

    def build(
        self,
        state: VideoState,
        detections: DetectionOutput,
        masks: Tensor,
        results: list[FrameResult | None],
        update_tracks: bool,
    ) -> sv.Detections:
        """Associate and assemble.

        Args:
            state: the video state (objects, detection tracker).
            detections: the frame's model detections (B = 1).
            masks: (O, 1, H, W) object mask logits at video resolution.
            results: each object's kept output on this frame (None: no output).
            update_tracks: advance the detection tracker (False on prompted frames, which can
                come in any order).
        """
        low_threshold = self.det_threshold if self.low_threshold is None else self.low_threshold
        floor = min(low_threshold, self.det_threshold)  # the lowest score a row may have
        boxes, scores, labels, embeddings = detector_rows(detections, floor, self.video_hw)
        low = scores < self.det_threshold  # (N,) rows that may only continue a track
        high_rows = np.flatnonzero(~low)
        obj_ids = np.array(state.obj_ids, dtype=np.int64)
        binary = masks[:, 0] > 0  # (O, H, W)
        visible = (
            np.array(
                [r is not None and bool(r.object_score_logits.item() > 0) for r in results], bool
            )
            & binary.flatten(1).any(dim=1).numpy()
        )
        object_boxes = masks_to_boxes_xyxy(binary).numpy()  # (O, 4), NaN rows for empty masks
        for o, result in enumerate(results):  # the target model's box where it placed one
            if result is not None and result.reported_box_xyxy is not None and visible[o]:
                object_boxes[o] = result.reported_box_xyxy.numpy()
        visible_idx = np.flatnonzero(visible)
        track_ids = np.full(len(boxes), -1, dtype=np.int64)
        det_object = np.full(len(boxes), -1, dtype=np.int64)  # object index covering each row
        for o, h in object_matches(object_boxes[visible_idx], boxes[high_rows], self.match_iou):
            obj_index, d = visible_idx[o], high_rows[h]
            track_ids[d] = obj_ids[obj_index]
            det_object[d] = obj_index
            obj = state.objects[int(obj_ids[obj_index])]
            obj.class_id, obj.embedding = int(labels[d]), embeddings[d]
        free = track_ids < 0
        if len(visible_idx) and len(boxes):  # a second box on a prompted object is that object's
            on_object = iou_matrix(boxes, object_boxes[visible_idx]).max(axis=1) >= self.match_iou
            free &= ~on_object
        if update_tracks:
            track_ids[free] = state.tracker.update(
                boxes[free],
                embeddings[free],
                labels[free],
                reserved_ids=set(obj_ids.tolist()),
                low_score=low[free],
            )
        keep = track_ids >= 0
        uncovered = [o for o in visible_idx if o not in set(det_object[keep].tolist())]
        rows_object = np.concatenate([det_object[keep], np.array(uncovered, dtype=np.int64)])
        score_logits = [results[o].object_score_logits.item() for o in uncovered]
        kept_boxes = boxes[keep]
        on_object = det_object[keep] >= 0  # a prompted object's row: its box is its mask's
        kept_boxes[on_object] = object_boxes[det_object[keep][on_object]]
        xyxy = np.concatenate([kept_boxes, object_boxes[uncovered].reshape(-1, 4)])
        confidence = np.concatenate(
            [scores[keep], torch.tensor(score_logits).sigmoid().numpy().reshape(-1)]
        )
        class_id = np.concatenate(
            [labels[keep], [state.objects[int(obj_ids[o])].class_id for o in uncovered]]
        )
        tracker_id = np.concatenate([track_ids[keep], obj_ids[uncovered]])
        mask = None
        if len(obj_ids):
            height, width = self.video_hw
            mask = np.zeros((len(xyxy), height, width), dtype=bool)
            covered = rows_object >= 0
            mask[covered] = binary[rows_object[covered]].numpy()
        return sv.Detections(
            xyxy=xyxy.astype(np.float32).reshape(-1, 4),
            confidence=confidence.astype(np.float32),
            class_id=class_id.astype(np.int64),
            tracker_id=tracker_id.astype(np.int64),
            mask=mask,
        )
