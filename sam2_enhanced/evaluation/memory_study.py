"""The memory study: run the predictor under each memory policy on long videos, one JSON per run.

``run_study`` loops over videos and policies (:mod:`.memory_policies`, :mod:`.memory_videos`).
Each (policy, video) run prompts the target with its GT box on its first visible frame,
propagates to the end and writes ``<out>/runs/<policy>/<video>.json`` atomically
(:func:`~sam2_enhanced.evaluation.report.write_json`: a temporary file renamed into place); a
run whose JSON exists is skipped, so an interrupted study resumes where it stopped, and a video
is generated or read only when one of its runs is missing. A run that raises is logged and
leaves no JSON (the next call retries it).

A run records (:func:`run_policy`):

- memory: the bank's bytes for the target (``MemoryBank.num_bytes(obj_id)``) and the whole
  bank (``memory_footprint()["bank_bytes"]``, scene memory included), peak and mean over frames;
- time: seconds per tracked frame (the predictor only, not this bookkeeping) and the seconds
  per frame spent scoring significance (the policy's own metric cost);
- accuracy on the frames after the prompt (GOT-10k convention): SOT AUC and average overlap
  (:func:`~sam2_enhanced.evaluation.sot.evaluate_sot_sequence`), mask IoU and DAVIS J&F
  (:mod:`~sam2_enhanced.evaluation.vos`) where the video has masks;
- re-acquisition (:func:`reacquisition_delays`): for every absence of at least ``min_gap``
  frames (occlusion or exit), frames from its end until the overlap exceeds 0.5 again;
- ``redetections``: how often re-detection re-seated the target's window (0 when it is off).
"""

from __future__ import annotations

import logging
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from sam2_enhanced.config import to_dict
from sam2_enhanced.enhanced_video_predictor import SAM2EnhancedVideoPredictor
from sam2_enhanced.evaluation.memory_policies import MemoryPolicy
from sam2_enhanced.evaluation.memory_videos import StudyVideo, VideoRef
from sam2_enhanced.evaluation.report import cpu_name, write_json
from sam2_enhanced.evaluation.sot import evaluate_sot_sequence, paired_box_iou
from sam2_enhanced.evaluation.vos import evaluate_davis, region_similarity

logger = logging.getLogger(__name__)

TARGET_OBJ_ID = 1  # obj_id of the prompted target
REACQUIRE_IOU = 0.5  # overlap above which a lost target counts as found again


class TimedPredictor(SAM2EnhancedVideoPredictor):
    """The predictor, adding up the seconds spent scoring significance."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.significance_seconds = 0.0

    def significance(self, *args: Any, **kwargs: Any) -> float | None:
        begin = time.perf_counter()
        try:
            return super().significance(*args, **kwargs)
        finally:
            self.significance_seconds += time.perf_counter() - begin


def reacquisition_delays(
    overlap: np.ndarray, present: np.ndarray, start: int, min_gap: int
) -> list[int | None]:
    """Frames to find the target again after each long absence.

    Args:
        overlap: (T,) IoU of prediction and GT per frame (NaN / 0 where there is none).
        present: (T,) bool target visible in the GT.
        start: the prompt frame; absences before it are not counted.
        min_gap: fewest absent frames in a row that count as an absence (>= 1).

    Returns:
        Per absence that ends before the video does, in order: frames from its end (the first
        visible frame after it) to the first frame with ``overlap > 0.5``; None when that never
        happens.
    """
    if min_gap < 1:
        raise ValueError(f"min_gap must be >= 1 frame, got {min_gap}")
    if overlap.shape != present.shape or overlap.ndim != 1:
        raise ValueError(
            f"overlap and present must be (T,) arrays of one length, got {overlap.shape} and "
            f"{present.shape}"
        )
    found = np.nan_to_num(overlap, nan=0.0) > REACQUIRE_IOU  # (T,)
    delays: list[int | None] = []
    t, num_frames = start + 1, len(present)
    while t < num_frames:
        if present[t]:
            t += 1
            continue
        end = t
        while end < num_frames and not present[end]:
            end += 1
        if end - t >= min_gap and end < num_frames:
            hits = np.flatnonzero(found[end:])
            delays.append(int(hits[0]) if hits.size else None)
        t = end
    return delays


def machine_description(device: torch.device) -> str:
    """One line naming the machine: CPU (cores), GPU if used, torch version."""
    text = f"{platform.system()} {cpu_name()}, {os.cpu_count()} CPU cores"
    text += f", torch {torch.__version__} ({torch.get_num_threads()} threads)"
    if device.type == "cuda":
        text += f", GPU {torch.cuda.get_device_name(device)}"
    return text


@dataclass
class _Tracked:
    """What one run predicted and measured, frame by frame."""

    boxes_xyxy: np.ndarray  # (T, 4) float64, NaN where the target was not reported
    masks: np.ndarray | None  # (T, H, W) bool predicted masks (None: the video has no masks)
    object_bytes: list[int]  # per tracked frame, the target's bank bytes
    bank_bytes: list[int]  # per tracked frame, the whole bank's bytes
    seconds: float  # predictor time over the tracked frames
    num_tracked: int  # frames tracked after the prompt frame


def _track(predictor: TimedPredictor, video: StudyVideo) -> _Tracked:
    """Prompt the target on its first visible frame and propagate to the end."""
    start = video.init_frame
    boxes = np.full((video.num_frames, 4), np.nan)
    masks = None if video.masks is None else np.zeros(video.masks.shape, dtype=bool)
    object_bytes, bank_bytes = [], []
    state = predictor.init_state(video.frames)
    seconds, num_tracked = 0.0, 0
    try:
        predictor.add_new_points_or_box(state, start, TARGET_OBJ_ID, box=video.boxes_xyxy[start])
        frames = predictor.propagate_in_video(
            state, start, max_frame_num_to_track=video.num_frames - 1 - start
        )
        begin = time.perf_counter()
        for frame_idx, obj_ids, mask_logits, detections in frames:
            seconds += time.perf_counter() - begin
            rows = np.flatnonzero(detections.tracker_id == TARGET_OBJ_ID)
            if rows.size:
                boxes[frame_idx] = detections.xyxy[rows[0]]
            if masks is not None:
                masks[frame_idx] = mask_logits[obj_ids.index(TARGET_OBJ_ID), 0].numpy() > 0
            if frame_idx != start:
                num_tracked += 1
                object_bytes.append(state.bank.num_bytes(TARGET_OBJ_ID))
                bank_bytes.append(predictor.memory_footprint(state)["bank_bytes"])
            begin = time.perf_counter()
    finally:
        state.frames.close()
    boxes[start] = video.boxes_xyxy[start]
    return _Tracked(boxes, masks, object_bytes, bank_bytes, seconds, num_tracked)


def _accuracy(video: StudyVideo, tracked: _Tracked, min_gap: int) -> dict[str, Any]:
    """SOT, mask and re-acquisition numbers on the frames after the prompt."""
    start = video.init_frame
    scored = slice(start + 1, None)
    sot = evaluate_sot_sequence(
        tracked.boxes_xyxy[scored], video.boxes_xyxy[scored], video.present[scored]
    )
    numbers: dict[str, Any] = {"sot_auc": sot.curves.auc, "sot_ao": sot.average_overlap}
    numbers.update(mask_iou=float("nan"), j_and_f=float("nan"))
    if video.masks is None or tracked.masks is None:  # re-acquisition by box overlap
        pred_boxes = np.nan_to_num(tracked.boxes_xyxy, nan=0.0)
        gt_boxes = np.nan_to_num(video.boxes_xyxy, nan=0.0)
        overlap = np.where(video.present, paired_box_iou(pred_boxes, gt_boxes), 0.0)  # (T,)
    else:  # by mask overlap
        annotated = np.flatnonzero(video.mask_frames)  # (A,)
        iou = region_similarity(video.masks, tracked.masks)  # (T,)
        visible = video.present.copy()
        visible[: start + 1] = False
        numbers["mask_iou"] = float(iou[visible].mean()) if visible.any() else float("nan")
        overlap = np.where(video.present, iou, 0.0)
        davis = evaluate_davis(
            video.masks[annotated][None],  # (1, A, H, W)
            tracked.masks[annotated][None],
            first_scored=np.array([np.searchsorted(annotated, start, side="right")]),
        )
        numbers["j_and_f"] = davis.summary.j_and_f
    delays = reacquisition_delays(overlap, video.present, start, min_gap)
    found = [d for d in delays if d is not None]
    numbers.update(
        reacq_gaps=len(delays),
        reacq_found=len(found),
        reacq_mean_frames=float(np.mean(found)) if found else float("nan"),
        reacq_delays=delays,
    )
    return numbers


def run_policy(
    model, policy: MemoryPolicy, video: StudyVideo, device: torch.device, min_gap: int
) -> dict[str, Any]:
    """Track ``video`` under ``policy``; returns the run's record (see the module docstring)."""
    cfg = policy.apply(model.config)
    predictor = TimedPredictor(
        model,
        device=device,
        memory_bank=cfg.memory_bank,
        tracker=cfg.tracker,
        search_window=cfg.search_window,
    )
    tracked = _track(predictor, video)
    per_frame = max(tracked.num_tracked, 1)
    object_bytes = tracked.object_bytes or [0]
    bank_bytes = tracked.bank_bytes or [0]
    return {
        "policy": policy.name,
        "group": policy.group,
        "video": video.name,
        "overrides": dict(policy.overrides),
        "memory_bank": to_dict(cfg.memory_bank),
        "machine": machine_description(predictor.device),
        "num_frames": video.num_frames,
        "num_tracked_frames": tracked.num_tracked,
        "has_masks": video.masks is not None,
        "object_bytes_peak": int(max(object_bytes)),
        "object_bytes_mean": float(np.mean(object_bytes)),
        "bank_bytes_peak": int(max(bank_bytes)),
        "bank_bytes_mean": float(np.mean(bank_bytes)),
        "seconds_per_frame": tracked.seconds / per_frame,
        "metric_seconds_per_frame": predictor.significance_seconds / per_frame,
        "redetections": predictor.redetector.num_reseated,
        **_accuracy(video, tracked, min_gap),
    }


def result_path(out_dir: str | Path, policy: str, video: str) -> Path:
    """Where the record of ``policy`` on ``video`` lives."""
    return Path(out_dir) / "runs" / policy / f"{video}.json"


@dataclass
class StudyOutcome:
    """What one ``run_study`` call did."""

    written: list[Path]  # records written by this call
    skipped: int  # runs whose record already existed
    failed: list[str]  # "policy on video: error" for each run that raised


def run_study(
    model,
    policies: list[MemoryPolicy],
    videos: list[VideoRef],
    out_dir: str | Path,
    *,
    device: torch.device,
    min_gap: int = 5,
    progress: bool = True,
) -> StudyOutcome:
    """Run every policy on every video, skipping runs already on disk (module docstring)."""
    if not policies:
        raise ValueError("no memory policy to study; choose some with --policies")
    if not videos:
        raise ValueError("no video to study; give --synthetic N or --data PATH")
    names = [v.name for v in videos]
    if len(set(names)) != len(names):
        raise ValueError(f"study video names must be unique, got {names}")
    outcome = StudyOutcome([], 0, [])
    bar = tqdm(total=len(policies) * len(videos), unit="run", desc="memory study",
               disable=None if progress else True)  # fmt: skip
    for ref in videos:
        todo = [p for p in policies if not result_path(out_dir, p.name, ref.name).exists()]
        outcome.skipped += len(policies) - len(todo)
        bar.update(len(policies) - len(todo))
        if not todo:
            continue
        try:
            video = ref.load()
            video.init_frame  # noqa: B018 (raises when the target is never visible)
        except Exception as err:  # isolate: an unreadable video fails its runs only
            logger.warning(
                "memory study video %s failed: %s: %s", ref.name, type(err).__name__, err
            )
            outcome.failed += [f"{p.name} on {ref.name}: {type(err).__name__}: {err}" for p in todo]
            bar.update(len(todo))
            continue
        for policy in todo:
            bar.set_postfix_str(f"{policy.name} {ref.name}")
            try:
                record = run_policy(model, policy, video, device, min_gap)
            except Exception as err:  # isolate: log it, go on; no JSON, so it is retried
                message = f"{policy.name} on {ref.name}: {type(err).__name__}: {err}"
                logger.warning("memory study run failed: %s", message)
                logger.debug("traceback", exc_info=True)
                outcome.failed.append(message)
            else:
                path = result_path(out_dir, policy.name, ref.name)
                outcome.written.append(write_json(record, path))
            bar.update(1)
    bar.close()
    return outcome
