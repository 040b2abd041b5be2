"""Speed and memory of :class:`SAM2EnhancedVideoPredictor` against upstream SAM 2's
``SAM2VideoPredictor`` (Hiera-T SAM 2.1 config, random weights), side by side in one run.

Every case (method, objects, frames) runs in a fresh process (so peak RSS does not mix): it
builds the predictor, opens an N-frame JPEG folder (the same synthetic video for both methods),
prompts one box per object on frame 0 and propagates through the whole video. Each yielded
frame is timed, and so is each stage inside it, by wrapping the stage's method:

- encoder: ours ``model.encode_image``; upstream ``forward_image``;
- memory attention: the ``memory_attention`` module's forward (both);
- decoders: ours DETR decoder + detection head + refinement head + SAM mask head; upstream
  ``_forward_sam_heads`` (prompt encoder, mask decoder, pointer and occlusion heads);
- memory encoder: ours ``encode_memory``; upstream ``_encode_new_memory``;
- other: the rest of the frame (memory bank reads/writes, masks resized to video resolution,
  detection association); after encoder: the whole frame minus the encoder.

The prompted frame and ``warmup`` frames after it are not timed; latencies are medians over the
other frames (medians of the parts need not add up to the median of the whole). After the last
frame the state's bytes are counted the same way for both methods: every tensor and numpy array
reachable from the state object, deduplicated by data pointer (a view counts its whole storage).
Ours also reports ``memory_footprint(state)["total_bytes"]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import importlib.metadata
import json
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from sam2_enhanced.benchmark.cases import (
    CLIP_LEN,
    UPSTREAM_CONFIG,
    UPSTREAM_STRIDE,
    Case,
    run_case,
    run_isolated,
)
from sam2_enhanced.benchmark.report import format_growth, format_table, result_row
from sam2_enhanced.config import load_config
from sam2_enhanced.evaluation.report import cpu_name

logger = logging.getLogger(__name__)


def pingpong_index(t: int, length: int) -> int:
    """Frame of a ``length``-frame clip shown at time ``t`` when played forward and back."""
    if length == 1:
        return 0
    t %= 2 * (length - 1)
    return t if t < length else 2 * (length - 1) - t


def synthesize_clip(frame_hw: tuple[int, int], num_frames: int, num_objects: int, seed: int):
    """(T, H, W, 3) uint8 frames and the (num_objects, 4) frame-0 boxes of objects that are all
    visible on frame 0 (the synthetic generator with effects that drop objects turned off)."""
    from sam2_enhanced.data.synthetic import SyntheticVideoConfig, generate_video

    side = min(frame_hw)
    cfg = SyntheticVideoConfig(
        height=frame_hw[0],
        width=frame_hw[1],
        num_frames=num_frames,
        min_objects=num_objects,
        max_objects=num_objects,
        min_object_size=max(8, side // 16),
        max_object_size=max(16, side // 6),
        prob_exit=0.0,
        prob_distractor=0.0,
        prob_occlusion=0.0,
    )
    for attempt in range(seed, seed + 100):
        video = generate_video(attempt, cfg)
        boxes = video.boxes_xyxy[0]  # (O, 4)
        visible = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        if visible.sum() >= num_objects:
            return video.frames, boxes[visible][:num_objects]
    raise RuntimeError(f"no synthetic video with {num_objects} objects visible on frame 0")


def write_videos(
    root: Path, frame_counts: list[int], frame_hw: tuple[int, int], num_objects: int, seed: int
):
    """One JPEG folder per frame count (``root/frames_N/000001.jpg``...) from one clip played
    forward and back; returns ``{N: folder}`` and the frame-0 boxes ``(num_objects, 4)``."""
    from sam2_enhanced.data.writers import frame_file_name

    frames, boxes = synthesize_clip(frame_hw, min(max(frame_counts), CLIP_LEN), num_objects, seed)
    folders = {}
    for count in frame_counts:
        folder = root / f"frames_{count}"
        folder.mkdir(parents=True)
        for t in range(count):
            bgr = cv2.cvtColor(frames[pingpong_index(t, len(frames))], cv2.COLOR_RGB2BGR)
            if not cv2.imwrite(
                str(folder / frame_file_name(t)), bgr, [cv2.IMWRITE_JPEG_QUALITY, 95]
            ):
                raise OSError(f"OpenCV could not write frames into {folder}")
        folders[count] = str(folder)
    return folders, boxes


def plan_cases(args: argparse.Namespace, folders: dict[int, str], boxes: np.ndarray) -> list[Case]:
    """Cases in run order: per (frames, objects), upstream then each of our configs."""
    cases = []
    for num_frames in args.frames:
        for num_objects in args.objects:
            common = {
                "num_objects": num_objects,
                "num_frames": num_frames,
                "video_dir": folders[num_frames],
                "boxes_xyxy": tuple(tuple(map(float, b)) for b in boxes[:num_objects]),
                "warmup": args.warmup,
                "num_threads": args.threads,
                "device": args.device,
            }
            if not args.no_upstream:
                cases.append(Case("upstream", UPSTREAM_CONFIG, args.upstream_image_size, **common))
            for name in args.configs:
                cases.append(Case("ours", name, args.image_size, **common))
                if args.tiles:
                    cases.append(Case("ours", name, args.image_size, **common, use_tiles=True))
    return cases


def machine_info() -> dict[str, Any]:
    """CPU model, core count, memory, library versions and the date."""
    return {
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "torch": torch.__version__,
        "sam2": importlib.metadata.version("sam2"),
        "date": datetime.date.today().isoformat(),
    }


def int_list(text: str) -> list[int]:
    """``"100,1000"`` -> ``[100, 1000]`` (positive ints)."""
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated ints, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive ints like 100,1000, got {text!r}")
    return values


def available_cores() -> int:
    """CPU cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def video_size(text: str) -> tuple[int, int]:
    """``"640x512"`` -> (height, width) = (512, 640)."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WxH such as 640x512, got {text!r}") from None
    if width < 32 or height < 32:
        raise argparse.ArgumentTypeError(f"frames must be at least 32x32, got {text!r}")
    return height, width


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="sam2e bench",
        description="Per-frame latency (whole frame and per stage), state bytes and peak RSS of "
        "our predictor and of upstream SAM 2's SAM2VideoPredictor, side by side.",
    )
    parser.add_argument(
        "--configs", default="default", help="our presets or YAML paths, comma-separated"
    )
    parser.add_argument(
        "--objects", type=int_list, default=[1, 3], help="objects per case, e.g. 1,3"
    )
    parser.add_argument(
        "--frames", type=int_list, default=[100, 1000], help="video lengths, e.g. 100,1000"
    )
    parser.add_argument(
        "--image-size", type=int, default=224, help="model input side for both methods"
    )
    parser.add_argument("--upstream-image-size", type=int, help="upstream's side if it must differ")
    parser.add_argument(
        "--warmup", type=int, default=2, help="untimed frames after the prompted one"
    )
    parser.add_argument(
        "--threads", type=int, default=available_cores(), help="torch threads (default: all)"
    )
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic video")
    parser.add_argument("--no-upstream", action="store_true", help="measure only our predictor")
    parser.add_argument(
        "--no-isolate",
        action="store_true",
        help="run cases in this process (peak RSS then accumulates)",
    )
    parser.add_argument(
        "--video-size",
        type=video_size,
        help="frame size WxH of the synthetic video (default: square, the larger input side)",
    )
    parser.add_argument(
        "--tiles",
        action="store_true",
        help="also run each of our configs with detection tiles on (model.detection_tiles); "
        "without it, and in the first row of each config, tiles are off whatever the config says",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    args.configs = [c for c in args.configs.split(",") if c]
    for name in args.configs:  # a bad preset or size fails now, not after minutes of runs
        try:
            dataclasses.replace(load_config(name).encoder, image_size=args.image_size)
        except (FileNotFoundError, ValueError) as err:
            parser.error(f"--configs {name} --image-size {args.image_size}: {err}")
    if args.threads < 1 or args.warmup < 0:
        parser.error(f"need --threads >= 1 and --warmup >= 0, got {args.threads}, {args.warmup}")
    args.upstream_image_size = args.upstream_image_size or args.image_size
    if not args.no_upstream and args.upstream_image_size % UPSTREAM_STRIDE:
        parser.error(
            f"upstream SAM 2 (Hiera-T) needs an image size that is a multiple of "
            f"{UPSTREAM_STRIDE}, got {args.upstream_image_size}; use e.g. 224 or 448 (also "
            "multiples of our 14 px patches), or set --upstream-image-size"
        )
    if min(args.frames) < args.warmup + 2:
        parser.error(
            f"--frames must all be at least warmup + 2 = {args.warmup + 2} (the prompted frame and "
            f"{args.warmup} warm-up frames are not timed), got {min(args.frames)}"
        )
    if args.video_size is None:  # square synthetic frames of the larger input side
        side = max(args.image_size, args.upstream_image_size)
        args.video_size = (side, side)
    return args


def main(argv: list[str] | None = None) -> int:
    """``sam2e bench``: run every case, print markdown tables, optionally write JSON."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    runner = run_case if args.no_isolate else run_isolated
    results = []
    with tempfile.TemporaryDirectory(prefix="sam2e-bench-") as tmp:
        folders, boxes = write_videos(
            Path(tmp), args.frames, args.video_size, max(args.objects), args.seed
        )
        for case in plan_cases(args, folders, boxes):
            logger.info(
                "running %s %s, %d objects, %d frames",
                case.method,
                Path(case.model).stem,
                case.num_objects,
                case.num_frames,
            )
            results.append(runner(case))
            logger.info("%s", result_row(results[-1]))
    info = machine_info()
    report = (
        f"Machine: {info['cpu']}, {info['cpu_count']} cores, {info['memory_gib']} GiB, "
        f"GPU: {info['gpu']}; torch {info['torch']}, sam2 {info['sam2']}; {info['date']}; "
        f"{args.threads} threads, device {args.device}, "
        f"video {args.video_size[1]}x{args.video_size[0]}; "
        f"medians over the frames after the prompted one and {args.warmup} warm-up frames.\n\n"
        f"{format_table(results)}\n"
    )
    if len(args.frames) > 1:
        report += f"\nState growth with video length:\n\n{format_growth(results)}\n"
    sys.stdout.write(report)
    if args.json:
        payload = {
            "machine": info,
            "argv": sys.argv[1:] if argv is None else argv,
            "results": [dataclasses.asdict(r) for r in results],
        }
        args.json.write_text(json.dumps(payload, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
