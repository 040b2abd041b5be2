"""``sam2e recall``: does the detector find the labelled target of real single-object videos?

Runs the predictor with no prompt over each SOT sequence under ``--data`` and prints, per
sequence and pooled over frames, the target recall measured by
:mod:`sam2_enhanced.evaluation.target_recall` (precision cannot be measured there: the other
objects are unlabelled). The parser lives here and imports nothing heavy; the evaluation loads
when the command runs.
"""

from __future__ import annotations

import argparse

COLUMNS = (  # (header, TargetRecall field, format spec); each column 13 characters wide
    ("frames", "num_frames", "d"),
    ("target px", "median_target_px", ".1f"),
    ("recall@floor", "recall_floor", ".3f"),
    ("recall@thr", "recall_threshold", ".3f"),
    ("top-1", "recall_top1", ".3f"),
    ("mean rank", "mean_rank", ".2f"),
    ("dets/frame", "detections_per_frame", ".2f"),
)
WIDTH = 13


def add_recall_parser(sub, model_args, positive_int) -> None:
    """Add ``recall`` to the ``sam2e`` subparsers ``sub``."""
    recall = sub.add_parser(
        "recall",
        help="how often no-prompt detections find the target of single-object sequences",
        description="Run the model with no prompt over SOT sequences (one labelled target "
        "each, other objects unlabelled) and report, on the frames where the target is "
        "present: the share where a detection above --floor covers it at IoU 0.5, the same at "
        "the model's det_threshold, the share where the best-scoring detection does, the "
        "covering detection's mean rank by score, and detections per frame.",
    )
    recall.add_argument(
        "--data", nargs="+", required=True, metavar="PATH", help="SOT sequence folder(s)"
    )
    recall.add_argument(
        "--max-frames", type=positive_int, default=None, help="use the first N frames of each"
    )
    recall.add_argument(
        "--floor", type=float, default=0.05, help="lowest score reported (default 0.05)"
    )
    model_args(recall)


def _row(name: str, result) -> str:
    cells = "".join(f"{getattr(result, field):>{WIDTH}{spec}}" for _, field, spec in COLUMNS)
    return f"{name:<32}{cells}"


def _pooled(results):
    """Frame-weighted means of per-sequence results (mean rank over covered frames)."""
    from sam2_enhanced.evaluation.target_recall import TargetRecall

    weights = [r.num_frames for r in results]
    total = sum(weights)

    def mean(field: str) -> float:
        return sum(getattr(r, field) * w for r, w in zip(results, weights, strict=True)) / total

    covered = [r.recall_floor * r.num_frames for r in results]
    ranked = [(r.mean_rank, c) for r, c in zip(results, covered, strict=True) if c > 0]
    return TargetRecall(
        num_frames=total,
        recall_floor=mean("recall_floor"),
        recall_threshold=mean("recall_threshold"),
        recall_top1=mean("recall_top1"),
        mean_rank=sum(r * c for r, c in ranked) / sum(c for _, c in ranked)
        if ranked
        else float("nan"),
        detections_per_frame=mean("detections_per_frame"),
        median_target_px=float("nan"),
    )


def run_recall(args: argparse.Namespace, load_predictor) -> int:
    """``sam2e recall``; prints the table, returns the exit code."""
    from sam2_enhanced.evaluation.cases import find_cases
    from sam2_enhanced.evaluation.harness import check_floor
    from sam2_enhanced.evaluation.target_recall import run_target_recall

    check_floor(args.floor)  # before the model loads
    refs = find_cases("sot", args.data, args.max_frames)
    predictor = load_predictor(args.model, args.device, args.tiles, args.settings)
    threshold = predictor.config.tracker.det_threshold
    tiles = "on" if predictor.tiles.enabled else "off"
    print(f"no-prompt target recall, IoU 0.5, floor {args.floor}, det_threshold {threshold:.3f}, "
          f"tiles {tiles}")  # fmt: skip
    print(f"{'sequence':<32}" + "".join(f"{header:>{WIDTH}}" for header, _, _ in COLUMNS))
    results = []
    for ref in refs:
        results.append(run_target_recall(predictor, ref.load(), floor=args.floor))
        print(_row(ref.name, results[-1]))
    if len(results) > 1:
        print(_row(f"all ({len(results)} sequences)", _pooled(results)))
    return 0
