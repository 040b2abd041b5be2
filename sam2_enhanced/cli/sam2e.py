"""The ``sam2e`` command line (also ``python -m sam2_enhanced``).

Commands: ``track`` (prompt and track objects in a video), ``demo`` (a generated small-object
clip tracked by the bundled model), ``eval`` (SOT / MOT / VOS benchmarks against baselines),
``threshold`` (the detection threshold of best F1 or best tracking HOTA on validation videos),
``recall`` (how often no-prompt detections find the target of real single-object videos),
``bench`` (speed and memory, :mod:`sam2_enhanced.benchmark`) and ``study memory`` (memory
policies measured, :mod:`sam2_enhanced.cli.study`). Commands that load the model take
``--model``, ``--device``, ``--threads``, ``--tiles`` and ``--set SECTION.KEY=VALUE``
(:mod:`sam2_enhanced.cli.predictor_args`). Bad arguments give one error line on stderr and
exit code 2; ``-v`` shows the traceback behind such an error. Each command imports its modules
(the predictor, the evaluation harness) when it runs, so ``--help`` and usage errors answer
without loading the model code. Progress bars show only when stderr is a terminal.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

import numpy as np
import torch

from sam2_enhanced import __version__
from sam2_enhanced.benchmark.run import main as benchmark_main
from sam2_enhanced.cli.predictor_args import SETTING_SECTIONS, TILE_CHOICES, load_predictor
from sam2_enhanced.cli.recall import add_recall_parser, run_recall
from sam2_enhanced.cli.study import add_study_parser, run_memory_study
from sam2_enhanced.cli.track_args import add_track_parser, run_track
from sam2_enhanced.data.splits import SPLITS

logger = logging.getLogger("sam2_enhanced.cli")

HOTA_CANDIDATES = (0.15, 0.2, 0.25, 0.3, 0.35, 0.4)  # sam2e threshold --metric hota's default
EXIT_USAGE = 2  # bad arguments or unreadable inputs (argparse's code)
EXIT_FAILED = 1  # the command ran but something failed (e.g. a method on an eval sequence)

_EVAL_EPILOG = """\
data layouts (--data: one sequence, or a folder of sequences):
  sot  SEQ/groundtruth_rect.txt (or groundtruth.txt), one x,y,w,h line per frame, NaN or 0 size
       when absent; frames in SEQ/img/, in SEQ/ itself, or one video file (OTB, UAV123,
       GOT-10k, Anti-UAV)
  mot  MOTChallenge SEQ/seqinfo.ini + SEQ/img1/ + SEQ/gt/gt.txt; or a VisDrone-MOT root with
       sequences/NAME/ and annotations/NAME.txt
  vos  DAVIS: ROOT/JPEGImages/ + ROOT/Annotations/ (PNG masks, palette or binary), flat,
       per sequence name, or per resolution (480p/NAME)
methods: sot ours,csrt,kcf,static; mot ours,bytetrack; vos ours,empty,static-mask (default:
  all of the task's); sot also ours-network, ours-target, ours-fused: ours with
  target_model.mode set to each (ablation arms, in the same run). static: the init box on
  every frame; empty: no mask; static-mask: the
  prompt mask on every frame. A method that fails on a sequence scores 0 there and the exit
  code is 1 (after all results are written).
scoring: the init / prompt frame is not scored (GOT-10k); --score-init-frame scores it (OTB).
--synthetic: the first N videos of --split (test by default; val is what training validates on)
--long (sot): 300-frame videos at 640x512 / 1280x720, 4-24 px targets, look-alikes, occlusions
"""


# --------------------------------------------------------------------------- argument types
def _numbers(text: str, what: str, counts: tuple[int, ...]) -> list[float]:
    parts = [p for p in text.replace(" ", "").split(",") if p]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) not in counts or not np.isfinite(values).all():
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return values


def parse_box(text: str) -> np.ndarray:
    """``"x0,y0,x1,y1"`` pixels -> (4,) float64; argparse type."""
    box = np.array(_numbers(text, "x0,y0,x1,y1 (4 numbers, pixels)", (4,)))
    if box[2] <= box[0] or box[3] <= box[1]:
        raise argparse.ArgumentTypeError(
            f"box must have x1 > x0 and y1 > y0 (corners x0,y0,x1,y1 in pixels), got {text!r}"
        )
    return box


def parse_point(text: str) -> tuple[float, float, int]:
    """``"x,y"`` or ``"x,y,label"`` (label 1 positive, 0 negative) -> (x, y, label)."""
    values = _numbers(text, "x,y or x,y,label (label 1 = positive, 0 = negative)", (2, 3))
    label = values[2] if len(values) == 3 else 1.0
    if label not in (0.0, 1.0):
        raise argparse.ArgumentTypeError(f"point label must be 0 or 1, got {text!r}")
    return values[0], values[1], int(label)


def parse_thresholds(text: str) -> list[float]:
    """``"0.2,0.25,0.3"`` -> [0.2, 0.25, 0.3]; argparse type."""
    return _numbers(text, "comma-separated thresholds, e.g. 0.2,0.25,0.3", range(1, 101))


def positive_int(text: str) -> int:
    """An int >= 1 for argparse."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def _model_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model",
        default=None,
        metavar="PATH_OR_NAME",
        help="checkpoint folder (save_pretrained) or Hub id; default: the bundled model",
    )
    parser.add_argument(
        "--device", default=None, help="torch device, e.g. cpu or cuda (default: cuda if any)"
    )
    parser.add_argument(
        "--threads",
        type=positive_int,
        default=None,
        help="CPU threads for torch (default: torch's choice; 1 is steadier on a busy machine)",
    )
    parser.add_argument(
        "--tiles",
        choices=TILE_CHOICES,
        default="model",
        help="detection tiles on frames larger than a tile: the model's setting (default), on "
        "or off (model.detection_tiles.use_tiles)",
    )
    parser.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help=f"an inference-time setting for this run, SECTION in {', '.join(SETTING_SECTIONS)}; "
        "repeatable, e.g. --set tracker.min_hits=2 --set tracker.low_threshold=null",
    )


def _threshold_parser(sub) -> None:
    threshold = sub.add_parser(
        "threshold",
        help="choose tracker.det_threshold for detection F1 or tracking HOTA on validation videos",
        description="Run the model with no prompt on N generated videos of --split (val by "
        "default). --metric f1: match its detections to the ground truth at IoU 0.5, print "
        "precision, recall and F1 over score thresholds and the threshold of best F1. --metric "
        "hota: track the videos at each of --candidates and print HOTA, DetA, AssA, MOTA and "
        "IDSW at each, and the candidate of best HOTA. --write stores the threshold in the "
        "--model folder's config.yaml.",
    )
    threshold.add_argument(
        "--metric", choices=("f1", "hota"), default="f1", help="what the threshold maximizes"
    )
    threshold.add_argument(
        "--candidates",
        type=parse_thresholds,
        default=None,
        help="--metric hota: thresholds tried, e.g. 0.2,0.25,0.3 (default 0.15,0.2,...,0.4)",
    )
    threshold.add_argument(
        "--videos", type=positive_int, default=8, help="validation videos (default 8)"
    )
    threshold.add_argument("--split", choices=SPLITS, default="val", help="seed range (val)")
    threshold.add_argument("--max-frames", type=positive_int, default=None, help="frames each")
    threshold.add_argument(
        "--floor", type=float, default=0.05, help="lowest score reported (default 0.05)"
    )
    threshold.add_argument(
        "--write", action="store_true", help="write the threshold into --model's config.yaml"
    )
    _model_args(threshold)


def build_parser() -> argparse.ArgumentParser:
    """The ``sam2e`` argument parser (``bench`` is listed here but parsed by the benchmark)."""
    parser = argparse.ArgumentParser(
        prog="sam2e",
        description="SAM 2 video tracking with a detection loop, for small objects.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_track_parser(sub, _model_args, parse_box, parse_point)
    demo = sub.add_parser(
        "demo", help="track an object in a generated small-object clip with the bundled model"
    )
    demo.add_argument("--out", default="outputs/demo", help="output folder")
    demo.add_argument("--frames", type=int, default=48, help="clip length (default 48)")
    _model_args(demo)
    evaluate = sub.add_parser(
        "eval",
        help="evaluate ours and baselines on SOT / MOT / VOS sequences",
        epilog=_EVAL_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    evaluate.add_argument("task", choices=("sot", "mot", "vos"))
    source = evaluate.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", nargs="+", metavar="PATH", help="sequence folder(s)")
    source.add_argument(
        "--synthetic", type=int, metavar="N", help="N generated videos of --split instead"
    )
    evaluate.add_argument(
        "--split", choices=SPLITS, default="test", help="seed range of --synthetic (default test)"
    )
    evaluate.add_argument(
        "--long",
        action="store_true",
        help="sot --synthetic: long real-resolution videos (evaluation/long_videos.py)",
    )
    evaluate.add_argument(
        "--score-init-frame",
        action="store_true",
        help="score the init / prompt frame too (OTB convention; default: not scored)",
    )
    evaluate.add_argument("--methods", default=None, help="comma-separated, e.g. ours,csrt")
    evaluate.add_argument("--out", required=True, help="output folder")
    evaluate.add_argument(
        "--max-frames", type=int, default=None, help="evaluate the first N frames of each"
    )
    _model_args(evaluate)
    _threshold_parser(sub)
    add_recall_parser(sub, _model_args, positive_int)
    add_study_parser(sub, _model_args, positive_int, SPLITS)
    sub.add_parser("bench", help="speed and memory benchmark (see `sam2e bench --help`)")
    return parser


def _run_demo(args: argparse.Namespace) -> int:
    from sam2_enhanced.cli.demo import demo_report, run_demo

    predictor = load_predictor(args.model, args.device, args.tiles, args.settings)
    result = run_demo(
        predictor, args.out, num_frames=args.frames, model_name=args.model or "default"
    )
    print(demo_report(result))
    return 0


def _run_eval(args: argparse.Namespace) -> int:
    from sam2_enhanced.cli.evaluate import (
        NEEDS_PREDICTOR,
        collect_cases,
        eval_report_lines,
        parse_methods,
        run_eval,
    )

    methods = parse_methods(args.methods, args.task)
    refs = collect_cases(
        args.task, args.data, args.synthetic, args.max_frames, args.split, long=args.long
    )
    meta = {
        "model": (args.model or "default") if NEEDS_PREDICTOR & set(methods) else None,
        "data": args.data,
        "synthetic": args.synthetic,
        "split": args.split if args.synthetic is not None else None,
        "long": args.long,
        "max_frames": args.max_frames,
    }
    outcome, paths = run_eval(
        args.task,
        refs,
        methods,
        lambda: load_predictor(args.model, args.device, args.tiles, args.settings),
        args.out,
        meta,
        score_init_frame=args.score_init_frame,
    )
    print("\n".join(eval_report_lines(outcome, paths)))
    return 0 if outcome.cases and not outcome.errors else EXIT_FAILED


def _run_threshold(args: argparse.Namespace) -> int:
    from sam2_enhanced.cli import threshold as chooser

    if args.write and args.model is None:
        raise ValueError("--write needs --model CHECKPOINT_DIR; the bundled model is not modified")
    if args.metric == "f1" and args.candidates is not None:
        raise ValueError("--candidates is for --metric hota; --metric f1 tries every score")
    candidates = chooser.check_candidates(args.candidates or list(HOTA_CANDIDATES))
    predictor = load_predictor(args.model, args.device, args.tiles, args.settings)
    if args.metric == "hota":
        choice = chooser.choose_threshold_for_hota(
            predictor, args.videos, candidates, split=args.split, max_frames=args.max_frames
        )
        print(chooser.hota_report(choice))
    else:
        choice = chooser.choose_threshold(
            predictor, args.videos, split=args.split, max_frames=args.max_frames, floor=args.floor
        )
        print(chooser.threshold_report(choice))
    if args.write:
        path = chooser.write_threshold(args.model, choice.threshold)
        print(f"wrote tracker.det_threshold: {path}")
    return 0


def _run_recall(args: argparse.Namespace) -> int:
    return run_recall(args, load_predictor)


def _run_study(args: argparse.Namespace) -> int:
    return run_memory_study(args, load_predictor, args.argv)


def _run_bench(bench_argv: list[str]) -> int:
    code = benchmark_main(bench_argv)
    return 0 if code is None else int(code)


def _bench_args(argv: list[str]) -> list[str] | None:
    """The arguments after ``bench`` when it is the command, else None (global options take no
    value, so the first word that is not an option is the command)."""
    for i, token in enumerate(argv):
        if not token.startswith("-"):
            return argv[i + 1 :] if token == "bench" else None
    return None


_COMMANDS = {
    "track": lambda args: run_track(args, load_predictor),
    "demo": _run_demo,
    "eval": _run_eval,
    "threshold": _run_threshold,
    "recall": _run_recall,
    "study": _run_study,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``sam2e`` with ``argv`` (default ``sys.argv[1:]``); returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    bench_argv = _bench_args(argv)
    command = "bench"
    try:
        if bench_argv is not None:
            logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
            return _run_bench(bench_argv)
        args = build_parser().parse_args(argv)
        args.argv = argv
        command = args.command
        if getattr(args, "threads", None):
            torch.set_num_threads(args.threads)
        level = logging.DEBUG if args.verbose else logging.WARNING
        logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
        return _COMMANDS[command](args)
    except SystemExit as exit_:  # argparse: --help, --version, usage errors
        if exit_.code is None or isinstance(exit_.code, int):
            return exit_.code or 0
        print(exit_.code, file=sys.stderr)
        return EXIT_USAGE
    except (ValueError, FileNotFoundError, TypeError) as err:
        logger.debug("error behind the message below", exc_info=True)
        message = " ".join(str(err).split())
        print(f"sam2e {command}: error: {message}", file=sys.stderr)
        return EXIT_USAGE
