"""Benchmark cases: run one predictor (ours or upstream SAM 2) over a video, timing each stage.

See :mod:`sam2_enhanced.benchmark.run` for what is measured; this module holds the per-case
machinery.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import logging
import multiprocessing
import resource
import statistics
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

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
    use_tiles: bool = False  # ours: also detect on tiles (replaces the config's
    # model.detection_tiles.use_tiles, so rows without tiles are whole-frame only)


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
    use_tiles: bool = False  # ours with detection tiles


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
    from sam2_enhanced.predictor_build import build_predictor

    cfg = load_config(case.model)
    cfg = dataclasses.replace(
        cfg,
        encoder=dataclasses.replace(cfg.encoder, image_size=case.image_size),
        detection_tiles=dataclasses.replace(cfg.detection_tiles, use_tiles=case.use_tiles),
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
        use_tiles=case.use_tiles,
    )


def run_isolated(case: Case) -> CaseResult:
    """Run one case in a fresh (spawned) process, so its peak RSS is its own."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(run_case, case).result()
