"""``SAM2EnhancedVideoPredictor``: SAM 2's video predictor API, plus detections, live input and
bounded memory.

Calls mirror ``sam2.sam2_video_predictor.SAM2VideoPredictor`` (SAM 2 1.1); every call that returns
masks returns ``(frame_idx, obj_ids, masks, detections)`` where ``masks`` are float32 logits
``(num_objects, 1, H, W)`` at video resolution and ``detections`` a ``supervision.Detections`` in
video pixels. Differences from SAM 2: a state is a :class:`VideoState` dataclass; outputs of
unprompted frames are not kept once yielded (memory stays bounded); a video with no prompts is
tracked by detection alone.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import supervision as sv
import torch
from torch import Tensor

from sam2_enhanced.config import MemoryBankConfig, SearchWindowConfig, TrackerConfig
from sam2_enhanced.data.frames import EndOfStreamError, open_frames
from sam2_enhanced.detections import DetectionBuilder, add_motion_classes, detections_bytes
from sam2_enhanced.modeling.dinov2_encoder import EncoderOutput
from sam2_enhanced.modeling.memory_bank import MemoryBank, MemoryItem
from sam2_enhanced.modeling.motion_class import MotionClassifier
from sam2_enhanced.modeling.sam2_base_enhanced import ObjectPrompts, SAM2EnhancedBase
from sam2_enhanced.modeling.sam_mask_head import NO_OBJ_SCORE
from sam2_enhanced.modeling.search_window import (
    ObjectMotion,
    crop_windows,
    main_component,
    normalized_windows,
    paste_windows,
    remap_logits,
    to_window_coords,
)
from sam2_enhanced.modeling.signal_set import SignalSet
from sam2_enhanced.motion_policy import MotionPolicy
from sam2_enhanced.object_windows import WindowPlanner, box_in_frame
from sam2_enhanced.prompt_inputs import (
    check_box,
    check_frame_idx,
    check_mask,
    check_obj_id,
    check_points,
)
from sam2_enhanced.redetection import Redetector
from sam2_enhanced.tiled_detection import TiledDetector
from sam2_enhanced.tracking import DetectionTracker
from sam2_enhanced.video_state import (
    FrameLoader,
    FramePrompt,
    FrameResult,
    ObjectState,
    VideoState,
)
from sam2_enhanced.weights.checkpoint import load_pretrained, save_pretrained
from sam2_enhanced.weights.components import from_components

Output = tuple[int, list[int], Tensor, sv.Detections]


class SAM2EnhancedVideoPredictor:
    """Video object segmentation and detection with SAM 2's API (see the module docstring)."""

    def __init__(
        self,
        model: SAM2EnhancedBase,
        device: str | torch.device | None = None,
        memory_bank: MemoryBankConfig | None = None,
        tracker: TrackerConfig | None = None,
        search_window: SearchWindowConfig | None = None,
    ) -> None:
        """``memory_bank``, ``tracker`` and ``search_window`` replace the model's own for this
        predictor only (memory studies: these are inference-time choices; the model is
        unchanged)."""
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        overrides = {"memory_bank": memory_bank, "tracker": tracker, "search_window": search_window}
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

    # ----------------------------------------------------------------------------- construction
    @classmethod
    def from_pretrained(
        cls, name_or_path: str | Path | None = None, device: str | torch.device | None = None
    ) -> SAM2EnhancedVideoPredictor:
        """Load a saved predictor: the bundled default (no argument), a folder, or a Hub id."""
        model = load_pretrained(name_or_path)
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

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write ``config.yaml`` + ``model.safetensors`` into ``directory``."""
        return save_pretrained(self.model, directory)

    @property
    def image_size(self) -> int:
        return self.model.image_size

    # ---------------------------------------------------------------------------------- state
    @torch.inference_mode()
    def init_state(
        self,
        video: Any,
        offload_video_to_cpu: bool = False,
        offload_state_to_cpu: bool = False,
        async_loading_frames: bool = False,
    ) -> VideoState:
        """Open a video: a folder of JPEG/PNG frames, a video file, a uint8 array (T, H, W, 3),
        a list of frames, or any iterator of frames (a live stream, read lazily).
        """
        source = open_frames(video)
        loader = FrameLoader(
            source,
            image_size=self.image_size,
            device=torch.device("cpu") if offload_video_to_cpu else self.device,
            async_loading=async_loading_frames,
            keep_raw=self.windows.enabled or self.tiles.enabled,
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

    def reset_state(self, state: VideoState) -> None:
        """Remove every object, prompt, memory and track; the video stays open."""
        state.objects.clear()
        state.cond_detections.clear()
        state.bank.clear()
        state.tracker.reset()
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

    # -------------------------------------------------------------------------------- prompts
    @torch.inference_mode()
    def add_new_points_or_box(
        self,
        state: VideoState,
        frame_idx: int,
        obj_id: int,
        points: Any = None,
        labels: Any = None,
        clear_old_points: bool = True,
        normalize_coords: bool = True,
        box: Any = None,
    ) -> Output:
        """Add clicks and/or a box for ``obj_id`` on ``frame_idx`` (SAM 2 semantics).

        Points and box are video pixels, or [0, 1] with ``normalize_coords=False``. Labels are
        1 (positive) or 0 (negative). A box must come with ``clear_old_points=True``.
        """
        frame_idx = check_frame_idx(frame_idx, state.num_frames)
        obj_id = check_obj_id(obj_id)
        coords, point_labels = check_points(points, labels)
        if box is not None:
            if not clear_old_points:
                raise ValueError(
                    "cannot add a box without clearing old points, since a box must come before "
                    "any click; use clear_old_points=True"
                )
            coords = np.concatenate([check_box(box), coords])
            point_labels = np.concatenate([np.array([2, 3], np.int32), point_labels])
        if len(coords) == 0:
            raise ValueError("give at least one of points (with labels) or box")
        video_hw = (state.video_height, state.video_width)
        video_coords = torch.from_numpy(coords).float()
        if not normalize_coords:
            video_coords = video_coords * torch.tensor([video_hw[1], video_hw[0]])
        new_labels = torch.from_numpy(point_labels)
        obj = state.objects.get(obj_id)
        old = obj.prompts.get(frame_idx) if obj is not None else None
        if old is not None and not clear_old_points:
            video_coords = torch.cat([old.video_coords, video_coords])
            new_labels = torch.cat([old.point_labels.cpu(), new_labels])
        window = self.windows.prompt_window(video_coords, new_labels, None, video_hw)
        prompt = FramePrompt(
            point_coords=to_window_coords(video_coords[None], window[None], self.image_size)[0],
            point_labels=new_labels,
            window_xyxy=window,
            video_coords=video_coords,
        )
        return self.run_prompt(state, frame_idx, obj_id, prompt)

    def add_new_points(
        self,
        state: VideoState,
        frame_idx: int,
        obj_id: int,
        points: Any,
        labels: Any,
        clear_old_points: bool = True,
        normalize_coords: bool = True,
    ) -> Output:
        """Deprecated SAM 2 alias of :meth:`add_new_points_or_box` (points only)."""
        return self.add_new_points_or_box(
            state,
            frame_idx,
            obj_id,
            points=points,
            labels=labels,
            clear_old_points=clear_old_points,
            normalize_coords=normalize_coords,
        )

    @torch.inference_mode()
    def add_new_mask(self, state: VideoState, frame_idx: int, obj_id: int, mask: Any) -> Output:
        """Use a (H, W) mask at video resolution as ``obj_id``'s prompt on ``frame_idx``."""
        frame_idx = check_frame_idx(frame_idx, state.num_frames)
        obj_id = check_obj_id(obj_id)
        video_hw = (state.video_height, state.video_width)
        binary = check_mask(mask, video_hw)  # (H, W) bool
        window = self.windows.prompt_window(torch.zeros(0, 2), torch.zeros(0), binary, video_hw)
        mask_input = crop_windows(binary[None].float(), window[None], self.model.mask_size)[0]
        prompt = FramePrompt(
            point_coords=torch.zeros(1, 2),
            point_labels=-torch.ones(1, dtype=torch.int32),
            window_xyxy=window,
            video_coords=torch.zeros(1, 2),
            mask=mask_input.clamp(0, 1),
        )
        return self.run_prompt(state, frame_idx, obj_id, prompt)

    def run_prompt(
        self, state: VideoState, frame_idx: int, obj_id: int, prompt: FramePrompt
    ) -> Output:
        """Segment one object on a prompted frame and store the result as a conditioning memory."""
        frame = state.loader.get(frame_idx)  # raises before any state change if unreadable
        obj = state.objects.setdefault(obj_id, ObjectState(obj_id=obj_id))
        state.bank.clear_frame(obj_id, frame_idx)
        memory = self.read_memory(state, obj_id, frame_idx)
        num_clicks = int((prompt.point_labels >= 0).sum())
        single_click = prompt.mask is None and num_clicks == 1 and memory is None
        prompts = ObjectPrompts(
            point_coords=prompt.point_coords[None].to(self.device),
            point_labels=prompt.point_labels[None].to(self.device),
            mask_inputs=None if prompt.mask is None else prompt.mask[None].to(self.device),
            has_mask=torch.tensor([prompt.mask is not None], device=self.device),
        )
        features = self.encode(state, frame_idx, frame)
        window = prompt.window_xyxy[None]  # (1, 4)
        scene = state.bank.read_scene()
        out = self.model.track_step(
            features,
            prompts,
            [memory],
            scene,
            multimask_output=single_click,
            **self.window_inputs(state, frame_idx, window),
        )
        obj.prompts[frame_idx] = prompt
        result = self.keep_result(
            state, out.masks.mask_logits[0], out.masks.object_score_logits[0], window[0]
        )
        obj.cond_results[frame_idx] = result
        obj.motion = self.motion_from(result)
        self.store_memory(state, obj, frame_idx, out.memory, 0, is_cond=True, frame=None)
        state.bank.add_scene(frame_idx, self.to_storage(state, out.memory.scene_tokens))
        detections = self.tiles.add_to(out.detections, state, frame_idx, scene)
        output = self.frame_output(state, frame_idx, detections, update_tracks=False)
        state.cond_detections[frame_idx] = output[3]
        return output

    @torch.inference_mode()
    def clear_all_prompts_in_frame(
        self, state: VideoState, frame_idx: int, obj_id: int, need_output: bool = True
    ) -> Output | None:
        """Remove ``obj_id``'s prompts (and the memory made from them) on ``frame_idx``."""
        frame_idx = check_frame_idx(frame_idx, state.num_frames)
        obj_id = check_obj_id(obj_id)
        if obj_id not in state.objects:
            raise ValueError(f"unknown obj_id {obj_id}; known ids: {state.obj_ids}")
        obj = state.objects[obj_id]
        obj.prompts.pop(frame_idx, None)
        obj.cond_results.pop(frame_idx, None)
        state.bank.clear_frame(obj_id, frame_idx)
        if not obj.prompts:
            state.bank.remove_object(obj_id)  # no prompt left: nothing to track from
        if not need_output:
            return None
        return self.stored_output(state, frame_idx)

    @torch.inference_mode()
    def remove_object(
        self, state: VideoState, obj_id: int, strict: bool = False, need_output: bool = True
    ) -> tuple[list[int], list[Output]]:
        """Forget ``obj_id``; returns the remaining ids and the outputs of prompted frames."""
        obj_id = check_obj_id(obj_id)
        if obj_id not in state.objects:
            if strict:
                raise ValueError(
                    f"cannot remove obj_id {obj_id}: it does not exist; known ids: {state.obj_ids}"
                )
            return state.obj_ids, []
        del state.objects[obj_id]
        state.bank.remove_object(obj_id)
        if not need_output:
            return state.obj_ids, []
        return state.obj_ids, [self.stored_output(state, t) for t in state.prompted_frames()]

    # ---------------------------------------------------------------------------- propagation
    @torch.inference_mode()
    def propagate_in_video(
        self,
        state: VideoState,
        start_frame_idx: int | None = None,
        max_frame_num_to_track: int | None = None,
        reverse: bool = False,
    ) -> Iterator[Output]:
        """Track every prompted object (and detect) frame by frame, yielding each frame's output.

        With no prompt at all the video is tracked by detection: masks are empty and detections
        carry persistent ``tracker_id``s. Objects may be prompted while iterating (live use).
        """
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
                obj.motion = self.motion_from(obj.cond_results[nearest])

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
        if start_frame_idx is None:
            if prompted:
                start_frame_idx = prompted[-1] if reverse else prompted[0]
            else:
                start_frame_idx = num_frames - 1 if reverse else 0
        start = check_frame_idx(start_frame_idx, num_frames)
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
                obj.motion = self.motion_from(obj.cond_results[frame_idx])
        tracked = self.active_objects(state, frame_idx, reverse)
        memories = [self.read_memory(state, obj_id, frame_idx) for obj_id in tracked]
        features = self.encode(state, frame_idx, frame)
        video_hw = (state.video_height, state.video_width)
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
        for i, obj_id in enumerate(tracked):
            obj = state.objects[obj_id]
            result = self.keep_result(
                state, out.masks.mask_logits[i], out.masks.object_score_logits[i], windows[i]
            )
            if self.motion_policy.stores_memory(obj, frame_idx):
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

    # ------------------------------------------------------------------------------- memories
    def encode(self, state: VideoState, frame_idx: int, frame: Tensor) -> EncoderOutput:
        """Encoder output of a frame, reusing the newest one (several prompts on one frame)."""
        if state.features is None or state.features[0] != frame_idx:
            state.features = (frame_idx, self.model.encode_image(frame.to(self.device)))
        return state.features[1]

    def read_memory(self, state: VideoState, obj_id: int, frame_idx: int):
        """The object's memory readout on the model's device (None: no memory yet)."""
        readout = state.bank.read(obj_id, frame_idx)
        if readout is None or readout.features.device == self.device:
            return readout
        for name in (
            "features",
            "frame_offsets",
            "is_cond",
            "obj_ptrs",
            "ptr_offsets",
            "det_tokens",
        ):
            setattr(readout, name, getattr(readout, name).to(self.device))
        return readout

    def to_storage(self, state: VideoState, tensor: Tensor) -> Tensor:
        return tensor.to(state.storage_device)

    def keep_result(
        self, state: VideoState, mask_logits: Tensor, score: Tensor, window_xyxy: Tensor
    ) -> FrameResult:
        """An object's output on a frame: (1, m, m) logits over ``window_xyxy`` (4,)."""
        window = window_xyxy.detach().float().cpu()
        window_cfg = self.config.search_window
        if window_cfg.keep_main_component:  # the centre prior only means something in a window
            prior = window_cfg.centre_prior if self.windows.enabled else 0.0
            mask_logits = main_component(mask_logits, NO_OBJ_SCORE, prior)
        return FrameResult(
            mask_logits=self.to_storage(state, mask_logits.clone()),
            object_score_logits=self.to_storage(state, score.clone()),
            window_xyxy=window,
            box_xyxy=box_in_frame(mask_logits, window),
        )

    def significance(
        self,
        state: VideoState,
        obj: ObjectState,
        features: Tensor,
        frame: np.ndarray | None,
        mask_logits: Tensor | None,
    ) -> float | None:
        """Score of a tracked frame for the keyframe policy (None when nothing to compare)."""
        pairs = {}
        if self.signals.needs("feature") and obj.last_memory is not None:
            pairs["feature"] = (obj.last_memory, features)
        if self.signals.needs("frame") and state.last_frame_small is not None:
            pairs["frame"] = (state.last_frame_small, frame)
        if self.signals.needs("mask") and obj.last_result is not None and mask_logits is not None:
            pairs["mask"] = (
                (obj.last_result[1].mask_logits[0] > 0).cpu().numpy(),
                (mask_logits[0] > 0).cpu().numpy(),
            )
        return self.signals.score(pairs)

    def store_memory(
        self,
        state: VideoState,
        obj: ObjectState,
        frame_idx: int,
        memory,
        index: int,
        *,
        is_cond: bool,
        frame: np.ndarray | None,
        mask_logits: Tensor | None = None,
    ) -> None:
        """Hand the object's new memory to the bank (which decides what to keep)."""
        features = self.to_storage(state, memory.mask_features[index])
        visible = bool(memory.object_visible[index])
        tokens = memory.object_tokens[index] if visible else memory.object_tokens[index][:0]
        score = None if is_cond else self.significance(state, obj, features, frame, mask_logits)
        state.bank.add(
            obj.obj_id,
            MemoryItem(
                frame_idx=frame_idx,
                features=features,
                obj_ptr=self.to_storage(state, memory.obj_ptrs[index]),
                det_tokens=self.to_storage(state, tokens),
                is_cond=is_cond,
                significance=score,
                visible=visible,
            ),
        )
        obj.last_memory = features
        obj.memory_frame = frame_idx

    # -------------------------------------------------------------------------------- outputs
    def object_results(self, state: VideoState, frame_idx: int) -> list[FrameResult | None]:
        """Each object's kept output on ``frame_idx`` (None when there is none)."""
        return [self.result_on(obj, frame_idx) for obj in state.objects.values()]

    @staticmethod
    def result_on(obj: ObjectState, frame_idx: int) -> FrameResult | None:
        """The object's prompted or newest tracked output if it is on ``frame_idx``, else None."""
        result = obj.cond_results.get(frame_idx)
        if result is None and obj.last_result is not None and obj.last_result[0] == frame_idx:
            result = obj.last_result[1]
        return result

    def video_masks(self, state: VideoState, results: list[FrameResult | None]) -> Tensor:
        """(O, 1, H, W) float32 logits at video resolution; objects without output get -1024."""
        height, width = state.video_height, state.video_width
        masks = torch.full((len(results), 1, height, width), NO_OBJ_SCORE, dtype=torch.float32)
        for i, result in enumerate(results):
            if result is not None:
                low_res = result.mask_logits[None].float().cpu()  # (1, 1, m, m)
                masks[i] = paste_windows(
                    low_res, result.window_xyxy[None], (height, width), NO_OBJ_SCORE
                )[0]
        return masks

    def frame_output(
        self, state: VideoState, frame_idx: int, detections, update_tracks: bool
    ) -> Output:
        """Masks of every object plus the frame's associated detections."""
        results = self.object_results(state, frame_idx)
        masks = self.video_masks(state, results)
        builder = DetectionBuilder(
            det_threshold=self.config.tracker.det_threshold,
            match_iou=self.config.tracker.match_iou,
            video_hw=(state.video_height, state.video_width),
        )
        dets = builder.build(state, detections, masks, results, update_tracks=update_tracks)
        return frame_idx, state.obj_ids, masks, dets

    def stored_output(self, state: VideoState, frame_idx: int) -> Output:
        """Output of a frame from what the state kept (no model run)."""
        results = self.object_results(state, frame_idx)
        masks = self.video_masks(state, results)
        dets = state.cond_detections.get(frame_idx, sv.Detections.empty())
        return frame_idx, state.obj_ids, masks, dets
