"""``SAM2EnhancedVideoPredictor``: SAM 2's video predictor API, plus detections, live input and
bounded memory.

Calls mirror ``sam2.sam2_video_predictor.SAM2VideoPredictor`` (SAM 2 1.1), with its parameter
names (``inference_state``, ``video_path``, ``model_id``), positionally or by keyword; every call
that returns masks returns ``(frame_idx, obj_ids, masks, detections)`` where ``masks`` are
float32 logits ``(num_objects, 1, H, W)`` at video resolution and ``detections`` a
``supervision.Detections`` in video pixels. Differences from SAM 2: a state is a
:class:`VideoState` dataclass; outputs of unprompted frames are not kept once yielded (memory
stays bounded); a video with no prompts is tracked by detection alone.

The prompt calls live in :mod:`sam2_enhanced.predictor.prompts`, what is kept of a frame
(memories, outputs) in :mod:`sam2_enhanced.predictor.memory`; both are mixins of this class.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from sam2_enhanced.config import (
    INFERENCE_SECTIONS,
    DetectionTilesConfig,
    MemoryBankConfig,
    SearchWindowConfig,
    TargetModelConfig,
    TrackerConfig,
)
from sam2_enhanced.data.frames import EndOfStreamError, open_frames
from sam2_enhanced.modeling.memory_bank import MemoryBank
from sam2_enhanced.modeling.motion_class import MotionClassifier
from sam2_enhanced.modeling.sam2_base_enhanced import SAM2EnhancedBase
from sam2_enhanced.modeling.sam_mask_head import NO_OBJ_SCORE
from sam2_enhanced.modeling.search_window import ObjectMotion, normalized_windows, remap_logits
from sam2_enhanced.modeling.signal_set import SignalSet
from sam2_enhanced.predictor.class_names import class_names_map
from sam2_enhanced.predictor.detections import add_motion_classes, detections_bytes
from sam2_enhanced.predictor.memory import FrameMemoryMixin
from sam2_enhanced.predictor.motion_policy import MotionPolicy
from sam2_enhanced.predictor.object_windows import WindowPlanner
from sam2_enhanced.predictor.prompt_inputs import check_frame_idx, warn_if_no_prompt_behind
from sam2_enhanced.predictor.prompts import PromptMixin
from sam2_enhanced.predictor.redetection import Redetector
from sam2_enhanced.predictor.target_tracking import OnlineTargets
from sam2_enhanced.predictor.targets import TargetMixin
from sam2_enhanced.predictor.tiled_detection import TiledDetector
from sam2_enhanced.predictor.tracking import DetectionTracker
from sam2_enhanced.predictor.video_state import FrameLoader, FrameResult, Output, VideoState
from sam2_enhanced.weights.checkpoint import load_pretrained, save_pretrained
from sam2_enhanced.weights.components import from_components


class SAM2EnhancedVideoPredictor(PromptMixin, FrameMemoryMixin, TargetMixin):
    """Video object segmentation and detection with SAM 2's API (see the module docstring)."""

    def __init__(
        self,
        model: SAM2EnhancedBase,
        device: str | torch.device | None = None,
        memory_bank: MemoryBankConfig | None = None,
        tracker: TrackerConfig | None = None,
        search_window: SearchWindowConfig | None = None,
        detection_tiles: DetectionTilesConfig | None = None,
        target_model: TargetModelConfig | None = None,
    ) -> None:
        """``memory_bank``, ``tracker``, ``search_window``, ``detection_tiles`` and
        ``target_model`` replace the model's own for this predictor only (memory studies, tiles
        on or off, the online target model's mode: these are inference-time choices; the model
        is unchanged)."""
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        overrides = {
            "memory_bank": memory_bank,
            "tracker": tracker,
            "search_window": search_window,
            "detection_tiles": detection_tiles,
            "target_model": target_model,
        }
        for name, value in overrides.items():
            expected = type(getattr(model.config, name))
            if value is not None and not isinstance(value, expected):
                raise TypeError(f"{name} must be a {expected.__name__}, got {value!r:.80}")
        given = {name: value for name, value in overrides.items() if value is not None}
        self.config = dataclasses.replace(model.config, **given)  # re-checks the combination
        self.signals = SignalSet.parse(self.config.memory_bank.significance)
        self.windows = WindowPlanner(self.config.search_window, model.image_size)
        self.motion_policy = MotionPolicy(
            self.config.memory_bank.static_memory_stride,
            self.config.search_window.static_side_factor,
        )
        self.redetector = Redetector.from_config(self.config.tracker)
        self.tiles = TiledDetector(self.config.detection_tiles, model)
        self.targets = OnlineTargets(self.config.target_model)

    # ----------------------------------------------------------------------------- construction
    @classmethod
    def from_pretrained(
        cls, model_id: str | Path | None = None, device: str | torch.device | None = None
    ) -> SAM2EnhancedVideoPredictor:
        """Load a saved predictor: the bundled default (no argument), a folder, or a Hub id
        (``model_id``, SAM 2's name for it)."""
        model = load_pretrained(model_id)
        return cls(model, device=device)

    @classmethod
    def from_components(
        cls,
        *,
        dinov2: str | Path | None = None,
        sam2_checkpoint: str | Path | None = None,
        config: str | Path = "small",
        device: str | torch.device | None = None,
    ) -> SAM2EnhancedVideoPredictor:
        """Build from real DINOv2 weights and an official SAM 2.1 checkpoint (new parts fresh)."""
        return cls(
            from_components(dinov2=dinov2, sam2_checkpoint=sam2_checkpoint, config=config),
            device=device,
        )

    def with_detection_tiles(self, use_tiles: bool) -> SAM2EnhancedVideoPredictor:
        """A predictor on the same model and device with detection tiles switched on or off
        (the other tile settings and overrides kept)."""
        tiles = dataclasses.replace(self.config.detection_tiles, use_tiles=use_tiles)
        return self.with_settings(detection_tiles=tiles)

    def with_settings(self, **sections) -> SAM2EnhancedVideoPredictor:
        """A predictor on the same model and device with some of its inference-time config
        sections (``memory_bank``, ``tracker``, ``search_window``, ``detection_tiles``) replaced
        and the others kept, e.g. ``with_settings(tracker=TrackerConfig(det_threshold=0.4))``."""
        kept = {name: getattr(self.config, name) for name in INFERENCE_SECTIONS}
        unknown = sorted(set(sections) - set(kept))
        if unknown:
            raise TypeError(
                f"with_settings takes the sections {sorted(kept)}, got {', '.join(unknown)}"
            )
        return type(self)(self.model, device=self.device, **(kept | sections))

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write ``config.yaml`` + ``model.safetensors`` into ``directory``."""
        return save_pretrained(self.model, directory)

    @property
    def image_size(self) -> int:
        return self.model.image_size

    @property
    def names(self) -> dict[int, str]:
        """``class_id -> class name`` of every ``detections.class_id`` this predictor reports,
        -1 (a prompted object no detection has matched) included: ``names[-1] == "object"``."""
        return class_names_map(self.config.heads.num_classes)

    # ---------------------------------------------------------------------------------- state
    @torch.inference_mode()
    def init_state(
        self,
        video_path: Any,
        offload_video_to_cpu: bool = False,
        offload_state_to_cpu: bool = False,
        async_loading_frames: bool = False,
    ) -> VideoState:
        """Open a video: a folder of JPEG/PNG frames, a video file, a uint8 array (T, H, W, 3),
        a list of frames, or any iterator of frames (a live stream, read lazily).
        """
        video = video_path
        source = open_frames(video)
        loader = FrameLoader(
            source,
            image_size=self.image_size,
            device=torch.device("cpu") if offload_video_to_cpu else self.device,
            async_loading=async_loading_frames,
            keep_raw=self.windows.enabled or self.tiles.enabled or self.targets.enabled,
        )
        first = loader.get(0)  # fails early on an unreadable first frame
        del first
        tracker_cfg = self.config.tracker
        return VideoState(
            frames=source,
            loader=loader,
            video_height=source.height,
            video_width=source.width,
            bank=MemoryBank.from_config(self.config.memory_bank),
            tracker=DetectionTracker(
                match_iou=tracker_cfg.match_iou,
                embedding_weight=tracker_cfg.embedding_weight,
                max_lost_frames=tracker_cfg.max_lost_frames,
                min_hits=tracker_cfg.min_hits,
            ),
            device=self.device,
            offload_state_to_cpu=offload_state_to_cpu,
            motion_classifier=MotionClassifier() if tracker_cfg.classify_motion else None,
        )

    def reset_state(self, inference_state: VideoState) -> None:
        """Remove every object, prompt, memory and track; the video stays open."""
        state = inference_state
        state.objects.clear()
        state.cond_detections.clear()
        state.bank.clear()
        state.tracker.reset(forget_retired=True)
        if state.motion_classifier is not None:
            state.motion_classifier.reset()
        state.last_frame_small = None
        state.features = None
        state.frames_tracked = 0

    def memory_footprint(self, state: VideoState) -> dict[str, Any]:
        """Bytes held by the state, by part, and memory counts per object.

        ``frame_cache_bytes`` counts decoded frames kept by the frame source, frames at model
        resolution and the newest encoder output; ``prompt_bytes`` the prompts, the outputs and
        detections kept for prompted frames and each object's newest output. A caller's own
        array of frames (``init_state(array)``) is not counted: the state does not copy it.
        """
        bank_bytes = state.bank.num_bytes()
        frame_cache_bytes = (
            state.frames.cached_bytes() + state.loader.num_bytes() + state.feature_bytes()
        )
        prompt_bytes = sum(obj.num_bytes() for obj in state.objects.values())
        prompt_bytes += sum(detections_bytes(d) for d in state.cond_detections.values())
        return {
            "total_bytes": bank_bytes + frame_cache_bytes + prompt_bytes,
            "bank_bytes": bank_bytes,
            "frame_cache_bytes": frame_cache_bytes,
            "prompt_bytes": prompt_bytes,
            "objects": {obj_id: state.bank.counts(obj_id) for obj_id in state.objects},
        }

    # ---------------------------------------------------------------------------- propagation
    @torch.inference_mode()
    def propagate_in_video(
        self,
        inference_state: VideoState,
        start_frame_idx: int | None = None,
        max_frame_num_to_track: int | None = None,
        reverse: bool = False,
    ) -> Iterator[Output]:
        """Track every prompted object (and detect) frame by frame, yielding each frame's output.

        With no prompt at all the video is tracked by detection: masks are empty and detections
        carry persistent ``tracker_id``s. Objects may be prompted while iterating (live use).

        Unlike SAM 2, an object is tracked only from its first prompt in the tracking direction
        on: prompted on frame 0 and propagated with ``start_frame_idx=10, reverse=True``, frames
        10..1 have no mask for it (SAM 2 tracks them from the prompt's memory), and a
        ``UserWarning`` says so when no prompt lies at or behind ``start_frame_idx``. Start at a
        prompted frame (the default) or prompt a frame on the tracking side.
        """
        state = inference_state
        frame_order = self.frame_order(state, start_frame_idx, max_frame_num_to_track, reverse)
        first = next(frame_order, None)
        frame_order = itertools.chain([] if first is None else [first], frame_order)
        for obj_id, obj in state.objects.items():
            state.bank.clear_tracking(obj_id)
            obj.motion_class, obj.memory_frame = "unknown", None  # the classifier starts over
        self.start_motions(state, first, reverse)
        state.bank.clear_scene()
        state.tracker.reset()
        if state.motion_classifier is not None:
            state.motion_classifier.reset()
        state.last_frame_small = None
        for frame_idx in frame_order:
            try:
                frame = state.loader.get(frame_idx, prefetch=frame_idx + (-1 if reverse else 1))
            except EndOfStreamError:
                return
            yield self.track_frame(state, frame_idx, frame, reverse)
            state.frames_tracked += 1

    def start_motions(self, state: VideoState, start: int | None, reverse: bool) -> None:
        """Each object's motion restarts from its prompted frame nearest to ``start`` on the
        side tracking comes from (objects prompted only later keep theirs: they start there)."""
        if start is None:
            return
        for obj in state.objects.values():
            before = [t for t in obj.cond_results if (t >= start if reverse else t <= start)]
            if before:
                nearest = min(before) if reverse else max(before)
                self.restart_object(state, obj, nearest)

    def frame_order(
        self,
        state: VideoState,
        start_frame_idx: int | None,
        max_frame_num_to_track: int | None,
        reverse: bool,
    ) -> Iterator[int]:
        """Frame indices to visit, validated before anything runs."""
        if reverse and state.frames.is_live:
            raise ValueError(
                "reverse propagation needs the whole video, but this state reads a live stream "
                "(frames arrive once); track forward or open a file/folder instead"
            )
        if max_frame_num_to_track is not None and max_frame_num_to_track < 0:
            raise ValueError(f"max_frame_num_to_track must be >= 0, got {max_frame_num_to_track}")
        prompted = state.prompted_frames()
        num_frames = state.num_frames
        given_start = start_frame_idx is not None
        if start_frame_idx is None:
            if prompted:
                start_frame_idx = prompted[-1] if reverse else prompted[0]
            else:
                start_frame_idx = num_frames - 1 if reverse else 0
        start = check_frame_idx(start_frame_idx, num_frames)
        if given_start:
            warn_if_no_prompt_behind(prompted, start, reverse)
        if reverse:
            stop = -1 if max_frame_num_to_track is None else start - max_frame_num_to_track - 1
            return iter(range(start, max(stop, -1), -1))
        if max_frame_num_to_track is not None:
            end = start + max_frame_num_to_track + 1
            end = end if num_frames is None else min(end, num_frames)
        else:
            end = num_frames
        return iter(range(start, end)) if end is not None else self.count_from(start)

    @staticmethod
    def count_from(start: int) -> Iterator[int]:
        """start, start + 1, ... (a live stream ends when its iterator does)."""
        frame_idx = start
        while True:
            yield frame_idx
            frame_idx += 1

    def active_objects(self, state: VideoState, frame_idx: int, reverse: bool) -> list[int]:
        """Objects prompted at or before ``frame_idx`` (tracking direction), unprompted here."""
        active = []
        for obj_id, obj in state.objects.items():
            started = [t for t in obj.prompts if (t >= frame_idx if reverse else t <= frame_idx)]
            if started and frame_idx not in obj.prompts:
                active.append(obj_id)
        return active

    def track_frame(
        self, state: VideoState, frame_idx: int, frame: Tensor, reverse: bool
    ) -> Output:
        """Run one frame for the objects tracked from memory and store their new memories."""
        for obj in state.objects.values():
            if frame_idx in obj.cond_results:  # passing a prompted frame: start from it again
                self.restart_object(state, obj, frame_idx)
        tracked = self.active_objects(state, frame_idx, reverse)
        memories = [self.read_memory(state, obj_id, frame_idx) for obj_id in tracked]
        features = self.encode(state, frame_idx, frame)
        video_hw = (state.video_height, state.video_width)
        estimate = self.estimate_targets(state, frame_idx, tracked)
        windows = self.windows.tracking_windows(
            [state.objects[obj_id].motion for obj_id in tracked], video_hw
        )  # (O, 4)
        previous = self.previous_logits(state, tracked, frame_idx + (1 if reverse else -1), windows)
        scene = state.bank.read_scene()
        out = self.model.track_step(
            features,
            None,
            memories,
            scene,
            previous_logits=previous,
            **self.window_inputs(state, frame_idx, windows),
        )
        small = state.small_frame(frame) if self.signals.needs("frame") else None
        results = [
            self.keep_result(
                state, out.masks.mask_logits[i], out.masks.object_score_logits[i], windows[i]
            )
            for i in range(len(tracked))
        ]
        admit = [True] * len(tracked)
        if estimate is not None:
            results, admit = self.fuse_targets(state, frame_idx, tracked, estimate, results)
        for i, obj_id in enumerate(tracked):
            obj = state.objects[obj_id]
            result = results[i]
            if admit[i] and self.motion_policy.stores_memory(obj, frame_idx):
                self.store_memory(
                    state,
                    obj,
                    frame_idx,
                    out.memory,
                    i,
                    is_cond=False,
                    frame=small,
                    mask_logits=result.mask_logits,
                )
            obj.last_result = (frame_idx, result)
            visible = bool(result.object_score_logits.item() > 0)
            self.windows.update(obj.motion, result.box_xyxy if visible else None)
        state.bank.add_scene(frame_idx, self.to_storage(state, out.memory.scene_tokens))
        if small is not None:
            state.last_frame_small = small
        detections = self.tiles.add_to(out.detections, state, frame_idx, scene)
        output = self.frame_output(state, frame_idx, detections, update_tracks=True)
        if self.redetector.enabled:
            self.redetector.apply(state, detections)
        if state.motion_classifier is not None:
            add_motion_classes(state.motion_classifier, frame, output[3], video_hw)
            self.motion_policy.observe(state, output[3])
        return output

    def window_inputs(self, state: VideoState, frame_idx: int, windows: Tensor) -> dict:
        """``track_step``'s ``objects`` / ``object_windows`` for windows (O, 4) on a frame:
        the windows' encodings, or nothing when every window is the whole frame."""
        if not self.windows.enabled or windows.shape[0] == 0:
            return {}
        images = self.windows.window_images(state.loader.raw(frame_idx), windows)
        video_hw = (state.video_height, state.video_width)
        return {
            "objects": self.model.encode_image(images.to(self.device)),
            "object_windows": normalized_windows(windows, video_hw).to(self.device),
        }

    def motion_from(self, result: FrameResult) -> ObjectMotion:
        """Motion of an object seen as ``result`` (its window's centre when its mask is empty)."""
        return self.windows.motion_from(result.box_xyxy, result.window_xyxy)

    def previous_logits(
        self, state: VideoState, obj_ids: list[int], frame_idx: int, windows: Tensor
    ) -> Tensor:
        """(O, 1, m, m) each object's mask logits on ``frame_idx``, over its window ``windows``
        (O, 4) of the frame being tracked (-1024 where it has none)."""
        size = self.model.mask_size
        logits = torch.full((len(obj_ids), 1, size, size), NO_OBJ_SCORE, device=self.device)
        for i, obj_id in enumerate(obj_ids):
            result = self.result_on(state.objects[obj_id], frame_idx)
            if result is not None:
                logits[i] = remap_logits(
                    result.mask_logits[None].to(self.device, torch.float32),
                    result.window_xyxy[None],
                    windows[i : i + 1],
                    NO_OBJ_SCORE,
                )[0]
        return logits
