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
import functools
import importlib.metadata
import itertools
import json
import logging
import multiprocessing
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from sam2_enhanced.config import load_config

logger = logging.getLogger(__name__)

UPSTREAM_CONFIG = "configs/sam2.1/sam2.1_hiera_t.yaml"  # inside the installed ``sam2`` package
UPSTREAM_STRIDE = 32  # Hiera-T input sides must be multiples of its total stride
STAGES = ("encoder", "memory_attention", "decoders", "memory_encoder")
COLUMNS = (*STAGES, "other", "after_encoder")  # per-stage medians reported per case
CLIP_LEN = 50  # frames synthesized; longer videos play the clip forward and back (ping-pong)


@dataclass(frozen=True)
class Case:
    """One measured configuration."""

    method: str  # "ours" or "upstream"
    model: str  # our config name or YAML path; upstream: its config file
    image_size: int  # square model input side in pixels
    num_objects: int  # objects prompted on frame 0
    num_frames: int  # frames of the video, all propagated
    video_dir: str  # folder of JPEG frames 000001.jpg ...
    boxes_xyxy: tuple[tuple[float, float, float, float], ...]  # frame-0 box of each object, px
    warmup: int  # frames after the prompted one that are not timed
    num_threads: int  # torch intra-op threads
    device: str  # torch device


@dataclass
class CaseResult:
    """Measurements of one case; times in milliseconds, sizes in bytes."""

    method: str
    model: str
    image_size: int
    num_objects: int
    num_frames: int
    frame_ms: float  # median whole-frame latency (one ``next()`` of propagate_in_video)
    stage_ms: dict[str, float]  # median of each of COLUMNS
    num_timed_frames: int  # frames the medians are taken over
    init_s: float  # seconds of init_state + the frame-0 prompts (upstream loads every frame here)
    state_bytes: int  # every tensor / array reachable from the state after the last frame
    footprint_bytes: int | None  # ours: memory_footprint(state)["total_bytes"]; upstream: None
    peak_rss_bytes: int  # ru_maxrss of the process that ran the case, after the last frame
    rss_before_bytes: int  # its ru_maxrss before the video was opened (imports, model build)


class StageTimer:
    """Adds the wall time of wrapped methods to the current frame's per-stage totals.

    ``targets`` maps a stage to ``(owner, attribute)`` pairs; while the timer is entered each
    attribute is shadowed on its owner instance by a timed wrapper of the original.
    """

    def __init__(self, targets: dict[str, list[tuple[Any, str]]], device: torch.device) -> None:
        self.targets = targets
        self.sync = torch.cuda.synchronize if device.type == "cuda" else None
        self.current = dict.fromkeys(targets, 0.0)
        self.patched: list[tuple[Any, str]] = []

    def __enter__(self) -> StageTimer:
        for stage, pairs in self.targets.items():
            for owner, name in pairs:
                assert name not in vars(owner), f"{name} is already shadowed on {owner!r:.60}"
                setattr(owner, name, self.wrap(stage, getattr(owner, name)))
                self.patched.append((owner, name))
        return self

    def __exit__(self, *exc_info: object) -> None:
        for owner, name in self.patched:
            delattr(owner, name)  # the class attribute is visible again
        self.patched.clear()

    def wrap(self, stage: str, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            if self.sync is not None:
                self.sync()
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                if self.sync is not None:
                    self.sync()
                self.current[stage] += time.perf_counter() - start

        return timed

    def take(self) -> dict[str, float]:
        """Seconds per stage since the last call; starts a new count."""
        taken, self.current = self.current, dict.fromkeys(self.targets, 0.0)
        return taken


def time_frames(outputs: Iterator, timer: StageTimer, skip: int) -> list[dict[str, float]]:
    """Drain ``outputs``; per frame after the first ``skip``: seconds ``total`` and per stage."""
    records = []
    for index in itertools.count():
        timer.take()  # drop anything counted between frames
        start = time.perf_counter()
        try:
            next(outputs)
        except StopIteration:
            break
        total = time.perf_counter() - start
        stages = timer.take()
        if index >= skip:
            records.append({"total": total, **stages})
    return records


def held_bytes(root: Any) -> int:
    """Bytes of every tensor and numpy array reachable from ``root`` (dataclasses, dicts,
    sequences, object attributes), each storage counted once; modules are not entered."""
    by_pointer: dict[int, int] = {}
    seen: set[int] = set()
    stack = [root]
    while stack:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, str | bytes | int | float | type | torch.nn.Module):
            continue
        seen.add(id(obj))
        if isinstance(obj, torch.Tensor):
            storage = obj.untyped_storage()
            by_pointer[storage.data_ptr()] = storage.nbytes()
        elif isinstance(obj, np.ndarray):
            base = obj
            while isinstance(base.base, np.ndarray):
                base = base.base
            by_pointer[base.__array_interface__["data"][0]] = base.nbytes
        elif isinstance(obj, dict):
            stack.extend(obj.keys())
            stack.extend(obj.values())
        elif isinstance(obj, list | tuple | set | frozenset | deque):
            stack.extend(obj)
        elif hasattr(obj, "__dict__"):
            stack.extend(vars(obj).values())
    return sum(by_pointer.values())


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # Linux reports KiB


def build_upstream(image_size: int, device: str):
    """Upstream ``SAM2VideoPredictor`` with the Hiera-T config at ``image_size``, random weights.

    The official video post-processing overrides are applied except ``fill_hole_area``, which
    needs SAM 2's optional CUDA extension.
    """
    from sam2.build_sam import build_sam2_video_predictor

    grid = image_size // 16  # stride-16 token grid that the RoPE memory attention sees
    overrides = [
        f"++model.image_size={image_size}",
        f"++model.memory_attention.layer.self_attention.feat_sizes=[{grid},{grid}]",
        f"++model.memory_attention.layer.cross_attention.feat_sizes=[{grid},{grid}]",
        "++model.sam_mask_decoder_extra_args.dynamic_multimask_via_stability=true",
        "++model.sam_mask_decoder_extra_args.dynamic_multimask_stability_delta=0.05",
        "++model.sam_mask_decoder_extra_args.dynamic_multimask_stability_thresh=0.98",
        "++model.binarize_mask_from_pts_for_mem_enc=true",
    ]
    return build_sam2_video_predictor(
        UPSTREAM_CONFIG,
        ckpt_path=None,
        device=device,
        hydra_overrides_extra=overrides,
        apply_postprocessing=False,
    )


@dataclass
class Propagation:
    """What one propagated case leaves behind (see :func:`timed_propagation`)."""

    records: list[dict[str, float]]  # per timed frame: seconds "total" and per stage
    init_s: float  # seconds of init_state + the frame-0 prompts
    state: Any  # the predictor's state after the last frame
    rss_before_bytes: int  # peak RSS after the imports and the model build, before the video
    footprint_bytes: int | None = None  # ours: memory_footprint(state)["total_bytes"]


def timed_propagation(
    predictor: Any, case: Case, targets: dict[str, list[tuple[Any, str]]]
) -> Propagation:
    """Open the case's video, prompt its boxes on frame 0 and time every propagated frame."""
    rss_before_bytes = peak_rss_bytes()
    start = time.perf_counter()
    state = predictor.init_state(case.video_dir)
    for obj_id, box in enumerate(case.boxes_xyxy, start=1):
        predictor.add_new_points_or_box(state, frame_idx=0, obj_id=obj_id, box=list(box))
    init_s = time.perf_counter() - start
    with StageTimer(targets, torch.device(case.device)) as timer:
        records = time_frames(predictor.propagate_in_video(state), timer, 1 + case.warmup)
    return Propagation(records, init_s, state, rss_before_bytes)


def run_upstream(case: Case) -> Propagation:
    """Propagate the case with upstream SAM 2 (its progress bars silenced)."""
    import tqdm
    from sam2 import sam2_video_predictor
    from sam2.utils import misc

    predictor = build_upstream(case.image_size, case.device)
    targets = {
        "encoder": [(predictor, "forward_image")],
        "memory_attention": [(predictor.memory_attention, "forward")],
        "decoders": [(predictor, "_forward_sam_heads")],
        "memory_encoder": [(predictor, "_encode_new_memory")],
    }
    misc.tqdm = sam2_video_predictor.tqdm = functools.partial(tqdm.tqdm, disable=True)
    try:
        return timed_propagation(predictor, case, targets)
    finally:
        misc.tqdm = sam2_video_predictor.tqdm = tqdm.tqdm


def run_ours(case: Case) -> Propagation:
    """Propagate the case with an untrained predictor of our config at the case's image size."""
    from sam2_enhanced.build import build_predictor

    cfg = load_config(case.model)
    cfg = dataclasses.replace(
        cfg, encoder=dataclasses.replace(cfg.encoder, image_size=case.image_size)
    )
    predictor = build_predictor(cfg, device=case.device)
    model = predictor.model
    targets = {
        "encoder": [(model, "encode_image")],
        "memory_attention": [(model.memory_attention, "forward")],
        "decoders": [
            (model.detr_decoder, "forward"),
            (model.detection_head, "forward"),
            (model.refinement_head, "forward"),
            (model.mask_head, "forward"),
        ],
        "memory_encoder": [(model, "encode_memory")],
    }
    run = timed_propagation(predictor, case, targets)
    run.footprint_bytes = predictor.memory_footprint(run.state)["total_bytes"]
    return run


def run_case(case: Case) -> CaseResult:
    """Run one case in this process (see :func:`run_isolated` for a fresh process)."""
    torch.set_num_threads(case.num_threads)
    torch.manual_seed(0)
    run = run_ours(case) if case.method == "ours" else run_upstream(case)
    records = run.records
    assert records, "no timed frame: num_frames must exceed warmup + 1 (checked by the parser)"

    def median_ms(values: Iterator[float]) -> float:
        return 1000.0 * statistics.median(values)

    stage_ms = {stage: median_ms(r[stage] for r in records) for stage in STAGES}
    stage_ms["other"] = median_ms(r["total"] - sum(r[s] for s in STAGES) for r in records)
    stage_ms["after_encoder"] = median_ms(r["total"] - r["encoder"] for r in records)
    return CaseResult(
        method=case.method,
        model=case.model,
        image_size=case.image_size,
        num_objects=case.num_objects,
        num_frames=case.num_frames,
        frame_ms=median_ms(r["total"] for r in records),
        stage_ms=stage_ms,
        num_timed_frames=len(records),
        init_s=run.init_s,
        state_bytes=held_bytes(run.state),
        footprint_bytes=run.footprint_bytes,
        peak_rss_bytes=peak_rss_bytes(),
        rss_before_bytes=run.rss_before_bytes,
    )


def run_isolated(case: Case) -> CaseResult:
    """Run one case in a fresh (spawned) process, so its peak RSS is its own."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(run_case, case).result()


def pingpong_index(t: int, length: int) -> int:
    """Frame of a ``length``-frame clip shown at time ``t`` when played forward and back."""
    if length == 1:
        return 0
    t %= 2 * (length - 1)
    return t if t < length else 2 * (length - 1) - t


def synthesize_clip(side: int, num_frames: int, num_objects: int, seed: int):
    """(T, side, side, 3) uint8 frames and the (num_objects, 4) frame-0 boxes of objects that are
    all visible on frame 0 (the synthetic generator with effects that drop objects turned off)."""
    from sam2_enhanced.data.synthetic import SyntheticVideoConfig, generate_video

    cfg = SyntheticVideoConfig(
        height=side,
        width=side,
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


def write_videos(root: Path, frame_counts: list[int], side: int, num_objects: int, seed: int):
    """One JPEG folder per frame count (``root/frames_N/000001.jpg``...) from one clip played
    forward and back; returns ``{N: folder}`` and the frame-0 boxes ``(num_objects, 4)``."""
    from sam2_enhanced.data.writers import frame_file_name

    frames, boxes = synthesize_clip(side, min(max(frame_counts), CLIP_LEN), num_objects, seed)
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
            cases.extend(Case("ours", name, args.image_size, **common) for name in args.configs)
    return cases


def mib(num_bytes: float | None) -> str:
    return "-" if num_bytes is None else f"{num_bytes / 2**20:,.2f}"


def ratio(ours: float | None, upstream: float | None) -> str:
    return "-" if ours is None or not upstream else f"{ours / upstream:.3g}"


HEADER = (
    "| method | model | px | objects | frames | frame ms | encoder | memory attention | decoders "
    "| memory encoder | other | after encoder | state MiB | total_bytes MiB | peak RSS MiB "
    "| RSS before video MiB | init s |"
)


def result_row(r: CaseResult) -> str:
    stages = " | ".join(f"{r.stage_ms[c]:.1f}" for c in COLUMNS)
    return (
        f"| {r.method} | {Path(r.model).stem} | {r.image_size} | {r.num_objects} | {r.num_frames} "
        f"| {r.frame_ms:.1f} | {stages} | {mib(r.state_bytes)} | {mib(r.footprint_bytes)} "
        f"| {mib(r.peak_rss_bytes)} | {mib(r.rss_before_bytes)} | {r.init_s:.2f} |"
    )


def ratio_row(ours: CaseResult, up: CaseResult) -> str:
    """ours / upstream for every number; total_bytes is compared with upstream's state bytes."""
    stages = " | ".join(ratio(ours.stage_ms[c], up.stage_ms[c]) for c in COLUMNS)
    px = f"{ours.image_size}/{up.image_size}"
    return (
        f"| **ours/upstream** | {Path(ours.model).stem} | {px} | {ours.num_objects} "
        f"| {ours.num_frames} | {ratio(ours.frame_ms, up.frame_ms)} | {stages} "
        f"| {ratio(ours.state_bytes, up.state_bytes)} "
        f"| {ratio(ours.footprint_bytes, up.state_bytes)} "
        f"| {ratio(ours.peak_rss_bytes, up.peak_rss_bytes)} "
        f"| {ratio(ours.rss_before_bytes, up.rss_before_bytes)} | {ratio(ours.init_s, up.init_s)} |"
    )


def format_table(results: list[CaseResult]) -> str:
    """Markdown table: every case, then ours/upstream ratio rows of each (objects, frames)."""
    lines = [HEADER, "|" + "---|" * HEADER.count(" | ") + "---|"]
    lines += [result_row(r) for r in results]
    for r in results:
        for up in results:
            same = (up.num_objects, up.num_frames) == (r.num_objects, r.num_frames)
            if r.method == "ours" and up.method == "upstream" and same:
                lines.append(ratio_row(r, up))
    return "\n".join(lines)


def format_growth(results: list[CaseResult]) -> str:
    """State bytes and peak RSS at each frame count per (method, model, objects), and the
    ratio of the longest video's to the shortest's."""
    groups: dict[tuple[str, str, int], list[CaseResult]] = {}
    for r in results:
        groups.setdefault((r.method, Path(r.model).stem, r.num_objects), []).append(r)
    lines = [
        "| method | model | objects | state MiB by frames | last / first "
        "| peak RSS MiB by frames | last / first |",
        "|---|---|---|---|---|---|---|",
    ]
    for (method, model, objects), rs in groups.items():
        if len(rs) < 2:
            continue  # one video length: nothing to compare
        rs.sort(key=lambda r: r.num_frames)
        state = ", ".join(f"{r.num_frames}: {mib(r.state_bytes)}" for r in rs)
        rss = ", ".join(f"{r.num_frames}: {mib(r.peak_rss_bytes)}" for r in rs)
        lines.append(
            f"| {method} | {model} | {objects} | {state} "
            f"| {ratio(rs[-1].state_bytes, rs[0].state_bytes)} "
            f"| {rss} | {ratio(rs[-1].peak_rss_bytes, rs[0].peak_rss_bytes)} |"
        )
    return "\n".join(lines)


def machine_info() -> dict[str, Any]:
    """CPU model, core count, memory, library versions and the date."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = [
            ln.split(":", 1)[1].strip()
            for ln in cpuinfo.read_text().splitlines()
            if ln.startswith("model name")
        ]
        cpu = names[0] if names else cpu
    return {
        "cpu": cpu,
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
    args.video_size = max(args.image_size, args.upstream_image_size)  # square synthetic frames
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
        f"{args.threads} threads, device {args.device}, video {args.video_size}x{args.video_size}; "
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
