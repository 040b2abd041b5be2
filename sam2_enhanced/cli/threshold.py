"""``sam2e threshold``: choose ``tracker.det_threshold`` on validation videos instead of a fixed
0.5, for detection F1 (``--metric f1``, the default) or for no-prompt tracking HOTA
(``--metric hota``).

The predictor runs with no prompt over the first N generated videos of the ``val`` split
(:mod:`sam2_enhanced.data.splits`; never the test split), reporting every detection above a low
score ``floor`` from its first frame (the run ByteTrack gets in ``sam2e eval``,
``PredictorDetections(every_detection=True)``). Detections are matched to the videos' ground
truth at IoU 0.5 as for detection AP, the curve and its best-F1 threshold come from
:mod:`sam2_enhanced.evaluation.detection_pr`, and ``--write`` stores the threshold in the model
folder's ``config.yaml``.

With ``--metric hota`` the F1 curve is not used: the predictor tracks the same videos with no
prompt once per candidate threshold (the run ``sam2e eval mot`` scores as ``ours``, with the
model's other tracker settings; its ``low_threshold`` where it is below the candidate), and the
candidate of best HOTA (TrackEval, all videos combined; the higher threshold among ties) is
chosen. F1 counts each detection once; HOTA also pays for the tracks that false positives start
and the identity switches they cause, so the two can pick different thresholds (the bundled
model's choice is in docs/architecture.md, "Choosing the detection threshold").
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from sam2_enhanced.config import ModelConfig, from_dict, read_yaml
from sam2_enhanced.evaluation.cases import synthetic_cases
from sam2_enhanced.evaluation.detection_pr import (
    PRCurve,
    best_f1_threshold,
    format_curve,
    precision_recall_curve,
)
from sam2_enhanced.evaluation.harness import (
    PredictorDetections,
    detection_floor,
    mot_with_predictor,
    tracker_thresholds,
)
from sam2_enhanced.evaluation.mot import MotMetrics, combine_mot_results, evaluate_mot

SHOWN_THRESHOLDS = tuple(np.round(np.arange(0.05, 1.0, 0.05), 2))  # rows printed of the curve


@dataclass
class ThresholdChoice:
    """The curve measured and the threshold it gives."""

    curve: PRCurve  # precision / recall / F1 over thresholds
    threshold: float  # best-F1 threshold
    num_videos: int  # validation videos run
    num_frames: int  # frames scored


def collect_detections(
    predictor, num_videos: int, split: str, max_frames: int | None, floor: float
):
    """Ground truth and the predictor's detections (score >= ``floor``) on N synthetic videos.

    Returns three lists with one entry per frame: GT boxes (G_t, 4), detected boxes (D_t, 4),
    scores (D_t,). The predictor's threshold is set to ``floor`` for the run and restored.
    """
    gt, boxes, scores = [], [], []
    with detection_floor(predictor, floor):
        for ref in synthetic_cases("mot", num_videos, split=split, max_frames=max_frames):
            case = ref.load()
            frames = PredictorDetections(predictor, every_detection=True)(case)
            gt += case.gt.boxes_xyxy
            boxes += [f.boxes_xyxy for f in frames]
            scores += [f.scores for f in frames]
    return gt, boxes, scores


def choose_threshold(
    predictor,
    num_videos: int,
    split: str = "val",
    max_frames: int | None = None,
    floor: float = 0.05,
    iou_threshold: float = 0.5,
) -> ThresholdChoice:
    """Run the predictor on ``num_videos`` videos of ``split`` and pick the best-F1 threshold."""
    gt, boxes, scores = collect_detections(predictor, num_videos, split, max_frames, floor)
    curve = precision_recall_curve(gt, boxes, scores, iou_threshold=iou_threshold)
    return ThresholdChoice(curve, best_f1_threshold(curve), num_videos, len(gt))


@dataclass
class HotaChoice:
    """No-prompt tracking scored at each candidate threshold, and the one chosen."""

    thresholds: list[float]  # candidates, ascending
    metrics: list[MotMetrics]  # overall metrics at each candidate (all videos combined)
    threshold: float  # candidate of best HOTA (the higher one among ties)
    num_videos: int  # validation videos run per candidate


def check_candidates(candidates: list[float]) -> list[float]:
    """Sorted unique candidate thresholds, each in [0, 1); ``ValueError`` otherwise."""
    if not candidates:
        raise ValueError("--candidates needs at least one threshold, e.g. 0.2,0.25,0.3")
    outside = [threshold for threshold in candidates if not 0.0 <= threshold < 1.0]
    if outside:
        raise ValueError(f"--candidates must be in [0, 1), got {outside}")
    return sorted(set(candidates))


def tracking_threshold(predictor, threshold: float) -> AbstractContextManager[float]:
    """A context in which the predictor tracks with ``tracker.det_threshold`` = ``threshold``;
    its ``low_threshold`` (second association) stays where it is below ``threshold`` and is off
    otherwise. Both are restored on exit."""
    low = predictor.config.tracker.low_threshold
    kept = low if low is not None and low < threshold else None
    return tracker_thresholds(predictor, threshold, kept)


def choose_threshold_for_hota(
    predictor,
    num_videos: int,
    candidates: list[float],
    split: str = "val",
    max_frames: int | None = None,
) -> HotaChoice:
    """Track ``num_videos`` videos of ``split`` with no prompt at each candidate threshold and
    pick the one of best HOTA. The predictor's own threshold is restored afterwards."""
    thresholds = check_candidates(candidates)
    results: dict[float, list] = {threshold: [] for threshold in thresholds}
    for ref in synthetic_cases("mot", num_videos, split=split, max_frames=max_frames):
        case = ref.load()
        for threshold in thresholds:
            with tracking_threshold(predictor, threshold):
                tracks = mot_with_predictor(PredictorDetections(predictor), case)
            results[threshold].append(evaluate_mot(case.gt, tracks))
    metrics = [combine_mot_results(results[threshold]).overall for threshold in thresholds]
    hota = np.nan_to_num([m.hota for m in metrics], nan=-1.0)
    best = len(hota) - 1 - int(np.argmax(hota[::-1]))  # the higher threshold among ties
    if hota[best] <= 0:
        raise ValueError(
            f"no tracked object matches the ground truth at any of {thresholds} (HOTA 0): "
            "there is no threshold to choose; is the model trained for detection?"
        )
    return HotaChoice(thresholds, metrics, thresholds[best], num_videos)


def write_threshold(model_dir: str | Path, threshold: float) -> Path:
    """Set ``tracker.det_threshold`` in a model folder's ``config.yaml`` (validated first)."""
    path = Path(model_dir) / "config.yaml"
    if not path.is_file():
        raise FileNotFoundError(
            f"no config.yaml in {str(model_dir)!r}; --write needs --model CHECKPOINT_DIR "
            "(a save_pretrained folder; the bundled model is never modified)"
        )
    data = read_yaml(path)
    data.setdefault("tracker", {})["det_threshold"] = float(threshold)
    from_dict(ModelConfig, data)  # fails before writing when the result would not load
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def threshold_report(choice: ThresholdChoice) -> str:
    """The printed result: the curve at round thresholds and the chosen one."""
    curve = choice.curve
    precision, recall, f1 = curve.at(choice.threshold)
    return (
        f"{choice.num_videos} videos, {choice.num_frames} frames, {curve.num_gt} GT boxes, "
        f"{curve.num_detections} detections (IoU 0.5 matching)\n"
        f"{format_curve(curve, SHOWN_THRESHOLDS, choice.threshold)}\n"
        f"best F1 {f1:.3f} at det_threshold {choice.threshold:.3f} "
        f"(precision {precision:.3f}, recall {recall:.3f})"
    )


def hota_report(choice: HotaChoice) -> str:
    """The printed result: HOTA and its parts at each candidate, and the chosen threshold."""
    rows = [f"{'det_threshold':>13} {'HOTA':>6} {'DetA':>6} {'AssA':>6} {'MOTA':>7} {'IDSW':>5}"]
    for threshold, m in zip(choice.thresholds, choice.metrics, strict=True):
        mark = "  <- best HOTA" if threshold == choice.threshold else ""
        rows.append(
            f"{threshold:>13.3f} {m.hota:>6.3f} {m.det_a:>6.3f} {m.ass_a:>6.3f} "
            f"{m.mota:>7.3f} {m.idsw:>5d}{mark}"
        )
    best = choice.metrics[choice.thresholds.index(choice.threshold)]
    return (
        f"no-prompt MOT on {choice.num_videos} videos per candidate\n" + "\n".join(rows) + "\n"
        f"best HOTA {best.hota:.3f} at det_threshold {choice.threshold:.3f}"
    )
