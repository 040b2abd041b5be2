"""Re-detection of lost prompted objects: a full-frame detection re-seats the search window.

A prompted object is segmented in its own search window. When the model judges it absent, the
window grows frame by frame (``search_window.lost_growth``), too slowly for an object that
comes back far from where it vanished. The detector sees the whole frame on every frame anyway:
once an object has been judged absent for ``tracker.redetect_after`` frames, the detection that
best matches it re-centres its window (a fresh start on the detection's box: its size, no
velocity). A detection matches when its probability is at least ``tracker.redetect_threshold``,
it has the object's class, its size is within ``tracker.redetect_max_size_change`` times the
object's last size, it does not sit on another visible object, and its appearance embedding
(the detector's query state) has a cosine similarity of at least ``tracker.redetect_similarity``
with the one the object had when a detection last covered it. An object never covered by a
detection has no embedding and is not re-detected. The model's own mask and object score then
decide whether the object is there.
"""

from __future__ import annotations

import numpy as np
import torch

from sam2_enhanced.config import TrackerConfig
from sam2_enhanced.modeling.detection_head import DetectionOutput
from sam2_enhanced.modeling.search_window import ObjectMotion
from sam2_enhanced.predictor.detections import detector_rows
from sam2_enhanced.predictor.tracking import iou_matrix
from sam2_enhanced.predictor.video_state import ObjectState, VideoState

SIDE_OF_OTHERS_IOU = 0.3  # a detection overlapping a visible object this much is that object's


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=-1, keepdims=True), 1e-6)


def _sizes(boxes_xyxy: np.ndarray) -> np.ndarray:
    sides = np.clip(boxes_xyxy[..., 2:] - boxes_xyxy[..., :2], 1.0, None)
    return np.sqrt(sides[..., 0] * sides[..., 1])


def match_scores(
    embedding: np.ndarray,
    class_id: int,
    last_box_xyxy: np.ndarray,
    boxes_xyxy: np.ndarray,
    labels: np.ndarray,
    embeddings: np.ndarray,
    max_size_change: float,
) -> np.ndarray:
    """How well each detection matches a lost object: cosine similarity, -inf where gated out.

    Args:
        embedding: (D,) the object's embedding when a detection last covered it.
        class_id: the object's class (-1: unknown, any class passes).
        last_box_xyxy: (4,) the object's last box, pixels.
        boxes_xyxy: (N, 4) detection boxes, pixels.
        labels: (N,) detection classes.
        embeddings: (N, D) detection embeddings.
        max_size_change: largest ratio of sizes sqrt(w * h) either way (>= 1).

    Returns:
        (N,) float similarities in [-1, 1], or -inf for a detection of another class or size.
    """
    if len(boxes_xyxy) == 0:
        return np.zeros(0)
    similarity = _unit(embeddings) @ _unit(embedding)  # (N,)
    ratio = _sizes(boxes_xyxy) / _sizes(last_box_xyxy)
    same_size = (ratio <= max_size_change) & (ratio >= 1.0 / max_size_change)
    same_class = (labels == class_id) | (class_id < 0)
    return np.where(same_size & same_class, similarity, -np.inf)


class Redetector:
    """Re-seats the windows of lost objects on matching detections (module docstring).

    Args:
        after_frames: frames judged absent before re-detection is tried (0: never).
        min_similarity: smallest cosine similarity of a match, in [-1, 1].
        max_size_change: largest size ratio of a match (>= 1).
        min_score: smallest detection probability of a match, in [0, 1].
    """

    def __init__(
        self,
        *,
        after_frames: int,
        min_similarity: float,
        max_size_change: float,
        min_score: float = 0.0,
    ):
        if after_frames < 0:
            raise ValueError(f"after_frames must be >= 0, got {after_frames}")
        if not -1.0 <= min_similarity <= 1.0:
            raise ValueError(f"min_similarity must be in [-1, 1], got {min_similarity}")
        if max_size_change < 1.0:
            raise ValueError(f"max_size_change must be >= 1, got {max_size_change}")
        if not 0.0 <= min_score <= 1.0:
            raise ValueError(f"min_score must be in [0, 1], got {min_score}")
        self.after_frames = after_frames
        self.min_similarity = min_similarity
        self.max_size_change = max_size_change
        self.min_score = min_score
        self.num_reseated = 0  # windows re-seated so far (every video this re-detector ran on)

    @classmethod
    def from_config(cls, cfg: TrackerConfig) -> Redetector:
        return cls(
            after_frames=cfg.redetect_after,
            min_similarity=cfg.redetect_similarity,
            max_size_change=cfg.redetect_max_size_change,
            min_score=cfg.redetect_threshold,
        )

    @property
    def enabled(self) -> bool:
        return self.after_frames > 0

    def is_lost(self, obj: ObjectState) -> bool:
        """Whether ``obj`` may be re-detected: absent for ``after_frames`` frames, with an
        embedding to match."""
        motion = obj.motion
        return (
            motion is not None
            and motion.lost_frames >= self.after_frames
            and obj.embedding is not None
        )

    def apply(self, state: VideoState, detections: DetectionOutput) -> list[int]:
        """Re-seat the lost objects of ``state`` on the frame's ``detections`` (B = 1); the new
        windows take effect on the next frame. Returns the re-seated ids."""
        if not any(self.is_lost(obj) for obj in state.objects.values()):
            return []  # the usual frame: nothing to re-detect, no rows to read
        video_hw = (state.video_height, state.video_width)
        boxes, _, labels, embeddings = detector_rows(detections, self.min_score, video_hw)
        seen = [
            obj.motion.box_xyxy.numpy()
            for obj in state.objects.values()
            if obj.motion is not None and obj.motion.lost_frames == 0
        ]
        visible = np.array(seen, dtype=np.float32).reshape(-1, 4)  # (V, 4)
        return self.reseat(state.objects, boxes, labels, embeddings, visible)

    def reseat(
        self,
        objects: dict[int, ObjectState],
        boxes_xyxy: np.ndarray,
        labels: np.ndarray,
        embeddings: np.ndarray,
        visible_boxes_xyxy: np.ndarray,
    ) -> list[int]:
        """Re-centre each lost object's window on its best matching detection.

        Args:
            objects: obj_id -> their state (``motion`` is replaced when re-detected).
            boxes_xyxy, labels, embeddings: (N, 4), (N,), (N, D) the frame's detections above
                the re-detection threshold.
            visible_boxes_xyxy: (V, 4) boxes of the objects seen on this frame.

        Returns:
            ids of the re-seated objects (each detection re-seats one object at most).
        """
        if not self.enabled or len(boxes_xyxy) == 0:
            return []
        free = np.ones(len(boxes_xyxy), dtype=bool)
        if len(visible_boxes_xyxy):
            overlap = iou_matrix(visible_boxes_xyxy.astype(np.float32), boxes_xyxy)  # (V, N)
            free &= overlap.max(axis=0) < SIDE_OF_OTHERS_IOU
        reseated = []
        for obj_id, obj in objects.items():
            if not self.is_lost(obj):
                continue
            scores = match_scores(
                obj.embedding, obj.class_id, obj.motion.box_xyxy.numpy(), boxes_xyxy, labels,
                embeddings, self.max_size_change,
            )  # fmt: skip
            scores = np.where(free, scores, -np.inf)
            best = int(np.argmax(scores))
            if scores[best] < self.min_similarity:
                continue
            side_factor = obj.motion.side_factor
            obj.motion = ObjectMotion.start(torch.as_tensor(boxes_xyxy[best], dtype=torch.float32))
            obj.motion.side_factor = side_factor
            free[best] = False
            reseated.append(obj_id)
        self.num_reseated += len(reseated)
        return reseated
