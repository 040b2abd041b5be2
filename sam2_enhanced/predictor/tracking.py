"""Association of per-frame detections with persistent track ids.

Two stages, both Hungarian (``scipy.optimize.linear_sum_assignment``):

1. detections <-> prompted objects (their mask boxes): a matched detection carries the ``obj_id``;
2. remaining detections <-> free tracks by a cost mixing box distance (1 - GIoU, on boxes moved
   by each track's velocity) and appearance distance (cosine of the decoder's query states), gated
   by IoU or a centre distance relative to the box size (small fast objects rarely overlap their
   previous box). Unmatched tracks stay alive for ``max_lost_frames`` frames (occlusion); a new
   track is reported once it has been matched ``min_hits`` times.

Rows marked low-score (ByteTrack's second association, Zhang et al., ECCV 2022) are matched, by
the same cost, only to confirmed tracks that were matched on the previous frame and that no other
row continued, gated by IoU alone (no centre gate), and never start a track: a small object whose
score dips below the threshold for a few frames keeps its track and its box is reported, while
low-score clutter away from tracks is not.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from sam2_enhanced.box_ops import box_iou, generalized_box_iou

INVALID = 1e6  # cost of a gated-out pair


@dataclass
class Track:
    """One detection-driven track."""

    track_id: int
    box_xyxy: np.ndarray  # (4,) last matched box, pixels
    velocity: np.ndarray  # (2,) pixels per frame, smoothed
    embedding: np.ndarray  # (D,) unit-norm appearance embedding, smoothed
    class_id: int
    hits: int = 1
    lost: int = 0

    def predicted_box(self) -> np.ndarray:
        """Box moved by the velocity over the frames since the last match."""
        shift = self.velocity * (self.lost + 1)
        return self.box_xyxy + np.concatenate([shift, shift])


def match_boxes(cost: np.ndarray) -> list[tuple[int, int]]:
    """Minimum-cost pairs (row, col) of a cost matrix, ignoring gated-out pairs."""
    if cost.size == 0:
        return []
    rows, cols = linear_sum_assignment(cost)
    return [(r, c) for r, c in zip(rows, cols, strict=True) if cost[r, c] < INVALID]


def iou_matrix(boxes_a: np.ndarray, boxes_b: np.ndarray) -> np.ndarray:
    """(A, 4), (B, 4) pixel boxes -> (A, B) IoU."""
    return box_iou(torch.from_numpy(boxes_a).float(), torch.from_numpy(boxes_b).float())[0].numpy()


def centre_gate(boxes_a: np.ndarray, boxes_b: np.ndarray, factor: float = 2.0) -> np.ndarray:
    """(A, B) bool: centres closer than ``factor`` x the larger box side (plus 4 px)."""
    centre_a = (boxes_a[:, :2] + boxes_a[:, 2:]) / 2
    centre_b = (boxes_b[:, :2] + boxes_b[:, 2:]) / 2
    dist = np.linalg.norm(centre_a[:, None] - centre_b[None], axis=-1)
    side_a = (boxes_a[:, 2:] - boxes_a[:, :2]).max(axis=1)
    side_b = (boxes_b[:, 2:] - boxes_b[:, :2]).max(axis=1)
    return dist < factor * np.maximum(side_a[:, None], side_b[None]) + 4.0


class DetectionTracker:
    """Keeps track ids of detections across frames (see the module docstring)."""

    def __init__(
        self,
        *,
        match_iou: float,
        embedding_weight: float,
        max_lost_frames: int,
        min_hits: int,
    ) -> None:
        self.match_iou = match_iou
        self.embedding_weight = embedding_weight
        self.max_lost_frames = max_lost_frames
        self.min_hits = min_hits
        self.tracks: list[Track] = []
        self.next_id = 1
        # ids of prompted objects, present or removed: a new track never takes one
        self.retired_ids: set[int] = set()

    def reset(self, *, forget_retired: bool = False) -> None:
        """Forget every track (ids restart at 1); the retired ids stay unless ``forget_retired``."""
        self.tracks = []
        self.next_id = 1
        if forget_retired:
            self.retired_ids = set()

    def release(self, track_id: int, reserved_ids: set[int] = frozenset()) -> None:
        """Hand ``track_id`` to a prompted object (added or removed): a live track holding it gets
        a new id (not in ``reserved_ids``), and no new track takes it until a reset that forgets
        retired ids. So one number never names two objects of a video, and an id the user
        removed does not come back on another object."""
        self.retired_ids.add(track_id)
        for track in self.tracks:
            if track.track_id == track_id:
                track.track_id = self.take_id(reserved_ids)

    def take_id(self, reserved_ids: set[int] = frozenset()) -> int:
        """The next id that is neither reserved nor retired."""
        while self.next_id in reserved_ids or self.next_id in self.retired_ids:
            self.next_id += 1
        self.next_id += 1
        return self.next_id - 1

    def cost(self, boxes_xyxy: np.ndarray, embeddings: np.ndarray) -> np.ndarray:
        """(T, N) association cost of live tracks against detections."""
        if not self.tracks or len(boxes_xyxy) == 0:
            return np.zeros((len(self.tracks), len(boxes_xyxy)))
        predicted = np.stack([t.predicted_box() for t in self.tracks])
        giou = generalized_box_iou(
            torch.from_numpy(predicted).float(), torch.from_numpy(boxes_xyxy).float()
        ).numpy()
        track_emb = np.stack([t.embedding for t in self.tracks])
        appearance = (1 - track_emb @ embeddings.T) / 2  # (T, N) in [0, 1]
        cost = (1 - giou) / 2 + self.embedding_weight * appearance
        gate = (iou_matrix(predicted, boxes_xyxy) >= self.match_iou) | centre_gate(
            predicted, boxes_xyxy
        )
        return np.where(gate, cost, INVALID)

    def update(
        self,
        boxes_xyxy: np.ndarray,
        embeddings: np.ndarray,
        class_ids: np.ndarray,
        reserved_ids: set[int] = frozenset(),
        low_score: np.ndarray | None = None,
    ) -> np.ndarray:
        """Assign track ids to one frame's detections.

        Args:
            boxes_xyxy: (N, 4) detection boxes in pixels.
            embeddings: (N, D) appearance embeddings (normalized here).
            class_ids: (N,) class of each detection.
            reserved_ids: ids a new track must not take (the prompted objects' ids; the retired
                ids are never taken either).
            low_score: (N,) bool, rows that may only continue a confirmed track (second
                association); None: no such rows.
        Returns:
            (N,) int64 track id of each detection, -1 for tracks not yet confirmed and for
            low-score rows that continued no track.
        """
        boxes_xyxy = np.asarray(boxes_xyxy, dtype=np.float32).reshape(-1, 4)
        embeddings = np.asarray(embeddings, dtype=np.float32)  # (N, D)
        embeddings = embeddings / np.maximum(
            np.linalg.norm(embeddings, axis=1, keepdims=True), 1e-6
        )
        low = np.zeros(len(boxes_xyxy), bool) if low_score is None else np.asarray(low_score, bool)
        if low.shape != (len(boxes_xyxy),):
            raise ValueError(
                f"low_score must be (N,) with N = {len(boxes_xyxy)} rows, got shape {low.shape}"
            )
        ids = np.full(len(boxes_xyxy), -1, dtype=np.int64)
        matched_tracks, matched_dets = set(), set()
        for t, d in self.associate(boxes_xyxy, self.cost(boxes_xyxy, embeddings), low):
            track = self.continued(self.tracks[t], boxes_xyxy[d], embeddings[d], int(class_ids[d]))
            self.tracks[t] = track
            matched_tracks.add(t)
            matched_dets.add(d)
            if track.hits >= self.min_hits:
                ids[d] = track.track_id
        survivors = []
        for t, track in enumerate(self.tracks):
            if t not in matched_tracks:
                track.lost += 1
            if track.lost <= self.max_lost_frames:
                survivors.append(track)
        for d in range(len(boxes_xyxy)):
            if d in matched_dets or low[d]:
                continue
            new = Track(
                self.take_id(reserved_ids),
                boxes_xyxy[d],
                np.zeros(2, np.float32),
                embeddings[d],
                int(class_ids[d]),
            )
            survivors.append(new)
            if self.min_hits <= 1:
                ids[d] = new.track_id
        self.tracks = survivors
        return ids

    def associate(
        self, boxes_xyxy: np.ndarray, cost: np.ndarray, low: np.ndarray
    ) -> list[tuple[int, int]]:
        """(track, row) pairs of a (T, N) cost: rows not ``low`` first, with every live track;
        then ``low`` rows with the confirmed tracks left unmatched."""
        high_rows, low_rows = np.flatnonzero(~low), np.flatnonzero(low)
        pairs = [(t, int(high_rows[d])) for t, d in match_boxes(cost[:, high_rows])]
        taken = {t for t, _ in pairs}
        rest = [
            t
            for t, track in enumerate(self.tracks)
            if t not in taken and track.hits >= self.min_hits and track.lost == 0
        ]
        second_cost = cost[np.ix_(rest, low_rows)]
        if second_cost.size:
            predicted = np.stack([self.tracks[t].predicted_box() for t in rest])
            overlap = iou_matrix(predicted, boxes_xyxy[low_rows]) >= self.match_iou
            second_cost = np.where(overlap, second_cost, INVALID)
        second = match_boxes(second_cost)
        return pairs + [(rest[t], int(low_rows[d])) for t, d in second]

    @staticmethod
    def continued(
        track: Track, box_xyxy: np.ndarray, embedding: np.ndarray, class_id: int
    ) -> Track:
        """The track after matching ``box_xyxy`` (velocity and appearance smoothed)."""
        shift = ((box_xyxy[:2] + box_xyxy[2:]) - (track.box_xyxy[:2] + track.box_xyxy[2:])) / 2
        velocity = 0.5 * track.velocity + 0.5 * shift / (track.lost + 1)
        mixed = 0.8 * track.embedding + 0.2 * embedding
        mixed = mixed / max(np.linalg.norm(mixed), 1e-6)
        return Track(track.track_id, box_xyxy, velocity, mixed, class_id, track.hits + 1, 0)
