"""``sam2e threshold``: choose ``tracker.det_threshold`` from a precision-recall curve on
validation videos instead of a fixed 0.5.

The predictor runs with no prompt over the first N generated videos of the ``val`` split
(:mod:`sam2_enhanced.data.splits`; never the test split), reporting every detection above a low
score ``floor`` from its first frame (the run ByteTrack gets in ``sam2e eval``,
``PredictorDetections(every_detection=True)``). Detections are matched to the videos' ground
truth at IoU 0.5 as for detection AP, the curve and its best-F1 threshold come from
:mod:`sam2_enhanced.evaluation.detection_pr`, and ``--write`` stores the threshold in the model
folder's ``config.yaml``.
"""

from __future__ import annotations

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
from sam2_enhanced.evaluation.harness import PredictorDetections, detection_floor

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
