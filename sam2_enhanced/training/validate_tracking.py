"""Validation by what users do: the predictor (search windows, memory bank, post-processing)
tracks validation-split videos under the SOT protocol, beside the ``static`` baseline.

Training on search windows selects its ``best/`` checkpoint with this (``train.use_windows``):
the training loop's own whole-frame validation (:mod:`.validate`) does not run the windows.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from sam2_enhanced.data.synthetic import SyntheticVideoConfig
from sam2_enhanced.enhanced_video_predictor import SAM2EnhancedVideoPredictor
from sam2_enhanced.evaluation.cases import synthetic_cases
from sam2_enhanced.evaluation.eval_report import method_counts, method_summaries
from sam2_enhanced.evaluation.harness import evaluate_cases, sot_with_predictor
from sam2_enhanced.evaluation.trivial import sot_static
from sam2_enhanced.modeling.sam2_base_enhanced import SAM2EnhancedBase


@dataclass
class TrackingValidation:
    """SOT numbers of the predictor and of ``static`` on the same videos (init frame unscored)."""

    sot_auc: float  # success AUC of the predictor
    sot_precision20: float  # share of frames with centre error <= 20 px
    static_auc: float  # success AUC of the init box repeated
    num_videos: int  # validation videos tracked
    num_frames: int  # frames scored


def validate_tracking(
    model: SAM2EnhancedBase, data_cfg: SyntheticVideoConfig, num_videos: int
) -> TrackingValidation:
    """Track the first object of ``num_videos`` val-split videos with a predictor over
    ``model`` (eval mode for the run, restored after)."""
    if num_videos < 1:
        raise ValueError(f"num_videos must be >= 1, got {num_videos}")
    was_training = model.training
    device = next(model.parameters()).device
    try:
        predictor = SAM2EnhancedVideoPredictor(model, device=device)
        refs = synthetic_cases("sot", num_videos, data_cfg, split="val")
        runners = {"ours": partial(sot_with_predictor, predictor), "static": sot_static}
        outcome = evaluate_cases("sot", refs, runners, progress=False)
    finally:
        model.train(was_training)
    summaries = method_summaries(outcome)
    return TrackingValidation(
        sot_auc=summaries["ours"].curves.auc,
        sot_precision20=summaries["ours"].curves.precision_at_20,
        static_auc=summaries["static"].curves.auc,
        num_videos=num_videos,
        num_frames=method_counts(outcome, "ours")["frames"],
    )
