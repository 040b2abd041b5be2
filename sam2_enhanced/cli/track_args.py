"""``sam2e track``'s arguments and run: the source (file, folder, camera index or stream URL),
prompts, what to write and where (``--out``, or the next free ``runs/track/N``).

A non-empty ``--out`` is refused unless ``--exist-ok`` (as ``yolo``'s ``exist_ok``): then the
files an earlier ``track`` run wrote there are removed before the new ones are written.
"""

from __future__ import annotations

import argparse
from pathlib import Path

RUNS_DIR = Path("runs") / "track"  # default output: RUNS_DIR / "1", "2", ...

TRACK_EPILOG = """\
examples:
  sam2e track video.mp4 --box 10,20,40,60                  # one object by its box -> runs/track/N
  sam2e track video.mp4 --box 10,20,40,60 --box 100,80,120,96 --out outputs/run   # two objects
  sam2e track frames/ --points 30,40,1 --points 50,50,0 --out outputs/run   # clicks (0: negative)
  sam2e track video.mp4 --conf 0.5 --classes drone,bird    # no prompt: detections of 2 classes
  sam2e track 0 --box 300,200,340,230 --max-frames 300     # camera 0 (a live stream)
  sam2e track rtsp://host/stream --no-video --no-masks     # a stream, results.txt only
  sam2e track video.mp4 --out outputs/run --exist-ok       # reuse a folder (its old outputs go)

outputs: annotated.mp4 (--no-video: none), results.txt (MOTChallenge rows + class name),
masks/NNNNN.png and masks.json (COCO RLE) of prompted objects (--no-masks: none), summary.json
"""


def next_run_dir(root: Path = RUNS_DIR) -> Path:
    """``root/N`` with N one past the largest numbered folder there (1 when none)."""
    numbers = [int(p.name) for p in root.glob("*") if p.is_dir() and p.name.isdigit()]
    return root / str(max(numbers, default=0) + 1)


def check_out_dir(out: str | None, exist_ok: bool) -> Path:
    """The output folder: ``out``, refused when it holds files unless ``exist_ok``; or the
    next ``runs/track/N``."""
    if out is None:
        return next_run_dir()
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise ValueError(f"--out {path} is a file; give a folder")
    if path.is_dir() and any(path.iterdir()) and not exist_ok:
        raise ValueError(
            f"--out {path} is not empty; choose a new folder, leave --out out (the next "
            f"{RUNS_DIR}/N), or pass --exist-ok to replace the outputs of an earlier run there"
        )
    return path


def parse_conf(text: str) -> float:
    """A detection threshold in [0, 1] for argparse."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a threshold in [0, 1], got {text!r}")
    return value


def parse_classes(text: str, names: dict[int, str]) -> set[int]:
    """``"0,2"`` or ``"drone,bird"`` (ids or names of ``names``) -> class ids."""
    by_name = {name.lower(): k for k, name in names.items() if k >= 0}
    ids = set()
    for part in (p.strip() for p in text.split(",")):
        if part.lstrip("-").isdigit() and int(part) in names and int(part) >= 0:
            ids.add(int(part))
        elif part.lower() in by_name:
            ids.add(by_name[part.lower()])
        else:
            known = ", ".join(f"{k} {v}" for k, v in names.items() if k >= 0)
            raise ValueError(f"--classes: unknown class {part!r}; the model's classes: {known}")
    return ids


def conf_settings(conf: float | None, tracker) -> list[str]:
    """``--set`` texts of ``--conf``: the detection threshold; the low-score band
    (``tracker.low_threshold``) is turned off when it would not lie below it."""
    if conf is None:
        return []
    settings = [f"tracker.det_threshold={conf}"]
    if tracker.low_threshold is not None and tracker.low_threshold >= conf:
        settings.append("tracker.low_threshold=null")
    return settings


def add_track_parser(sub, model_args, parse_box, parse_point) -> None:
    """The ``track`` subcommand (argument types and model options come from ``sam2e``)."""
    track = sub.add_parser(
        "track",
        help="track prompted objects (or all detections) through a video, camera or stream",
        description="Track objects through SOURCE and write an annotated video, MOTChallenge "
        "results, per-frame mask PNGs + COCO RLE and summary.json. Each --box, --points group "
        "or --mask is one object; with both --box and --points the i-th --points refines the "
        "i-th --box. Without a prompt the detection-driven tracker runs.",
        epilog=TRACK_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    track.add_argument(
        "video", metavar="SOURCE",
        help="video file, folder of JPEG/PNG frames, camera index (0) or stream URL (rtsp://...)",
    )  # fmt: skip
    track.add_argument(
        "--box", action="append", type=parse_box, default=[], metavar="x0,y0,x1,y1",
        help="box of one object in pixels (repeat for more objects)",
    )  # fmt: skip
    track.add_argument(
        "--points", action="append", nargs="+", type=parse_point, default=[],
        metavar="x,y[,label]", help="clicks on one object (label 1 positive, default, or 0 "
        "negative); repeat --points for more objects",
    )  # fmt: skip
    track.add_argument(
        "--mask", action="append", default=[], metavar="PNG",
        help="mask of one object at video size (non-zero = object); repeat for more objects",
    )  # fmt: skip
    track.add_argument(
        "--obj-id", action="extend", nargs="+", type=int, default=None, metavar="K",
        help="object ids, in the order of the prompts (default 1, 2, ...)",
    )  # fmt: skip
    track.add_argument("--frame", type=int, default=0, help="frame of the prompts (default 0)")
    track.add_argument(
        "--out", default=None, help=f"output folder (default: the next {RUNS_DIR}/N)"
    )
    track.add_argument(
        "--exist-ok", action="store_true",
        help="write into a non-empty --out, replacing an earlier run's outputs there",
    )  # fmt: skip
    track.add_argument("--max-frames", type=int, default=None, help="track at most N frames")
    track.add_argument(
        "--conf", type=parse_conf, default=None, metavar="P",
        help="detection threshold in [0, 1] (tracker.det_threshold; default: the model's)",
    )  # fmt: skip
    track.add_argument(
        "--classes", default=None, metavar="C1,C2",
        help="report detections of these classes only, ids or names (e.g. 0,2 or drone,bird); "
        "prompted objects are always reported",
    )  # fmt: skip
    track.add_argument("--no-video", action="store_true", help="do not write annotated.mp4")
    track.add_argument(
        "--no-masks", action="store_true", help="do not write masks/*.png and masks.json"
    )
    model_args(track)


def open_source(text: str):
    """The ``track`` source: a path as given, or a :class:`CaptureStream` for a camera index or
    a stream URL."""
    from sam2_enhanced.data.frames_stream import CaptureStream, is_stream_source

    if is_stream_source(text):
        return CaptureStream(text)
    if not Path(text).exists():
        raise FileNotFoundError(
            f"video not found: {text}; give a video file, a folder of frames, a camera index "
            "(0) or a stream URL (rtsp://...)"
        )
    return text


def run_track(args: argparse.Namespace, load_predictor) -> int:
    """``sam2e track``: check, load, track, print the summary lines."""
    from sam2_enhanced.cli.predictor_args import parse_settings
    from sam2_enhanced.cli.track import build_prompts, track_video

    out_dir = check_out_dir(args.out, args.exist_ok)
    prompts = build_prompts(args.box, args.points, args.mask, args.obj_id, args.frame)
    predictor = load_predictor(args.model, args.device, args.tiles, args.settings)
    if args.conf is not None:
        settings = conf_settings(args.conf, predictor.config.tracker)
        predictor = predictor.with_settings(**parse_settings(predictor.config, settings))
    classes = None if args.classes is None else parse_classes(args.classes, predictor.names)
    summary = track_video(
        predictor,
        open_source(args.video),
        prompts,
        out_dir,
        max_frames=args.max_frames,
        model_name=args.model or "default",
        classes=classes,
        write_video=not args.no_video,
        write_masks=not args.no_masks,
    )
    print(
        f"tracked {summary.frames} frames at {summary.fps:.1f} frames/s, "
        f"{len(summary.objects)} prompted objects, {summary.detections} detections"
    )
    frame_hw = (summary.height, summary.width)
    if predictor.tiles.applies_to(frame_hw):
        num_tiles = len(predictor.tiles.tiles(frame_hw))
        print(f"detection tiles: {num_tiles} a frame (--tiles off: faster, no tiny objects)")
    for name, path in summary.files.items():
        if path is not None:
            print(f"{name}: {path}")
    return 0
