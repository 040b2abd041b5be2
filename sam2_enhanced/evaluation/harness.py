"""Run trackers over evaluation cases under one protocol per task, and score them.

A *runner* maps a case to predictions:

- SOT (:data:`SotRunner`): (T, 4) ``xyxy`` boxes, NaN rows where the tracker reports no target.
  Every tracker starts from the GT box on the case's first target-present frame (the init
  frame; frame 0 in OTB / UAV123) and that row holds the init box, as OTB toolkits record it;
  earlier rows are NaN. Ours: a box prompt there, then ``propagate_in_video``; its box is the
  row of ``detections`` whose ``tracker_id`` is the prompted object (no row: target judged
  absent).
- MOT (:data:`MotRunner`): a :class:`TrackSequence`. Ours: no prompt, the detection-driven
  tracker; every ``detections`` row is a track. ByteTrack gets the detector's raw output from a
  second no-prompt run of the model in which our tracker reports every detection above the
  threshold from its first frame (``PredictorDetections(every_detection=True)``), with its own
  thresholds set to our detector's; its time (and FPS) therefore includes that model run.
- VOS (:data:`VosRunner`): (O, A, H, W) bool masks on the case's annotated frames. Ours: each
  object's GT mask as a prompt on its first annotated frame where it is visible (DAVIS
  semi-supervised), overlaps resolved per pixel by the largest logit as DAVIS PNGs store one
  label per pixel.

The trivial baselines (:mod:`sam2_enhanced.evaluation.trivial`) are runners like the others.

Scoring. By default the frame a method is given the ground truth on is not scored, as in the
GOT-10k toolkit: SOT scores the frames after the init frame only (the init row is the GT box,
and frames before it are absent frames nobody is asked to track); VOS scores each object from
the annotated frame after its prompt frame, and DAVIS also leaves out the last frame.
``score_init_frame=True`` keeps the OTB convention: SOT scores every frame (the init frame
included), VOS every annotated frame but the first and the last (plain DAVIS). MOT has no
prompt; every frame is scored.

A method that raises on a case is scored 0 there (:func:`failed_method_result`), so every
method is averaged over the same cases; the failure is recorded in ``errors``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import supervision as sv
from tqdm import tqdm

from sam2_enhanced.data.frames import iter_frames, open_frames
from sam2_enhanced.evaluation.baselines import (
    ByteTrackBaseline,
    OpenCVTracker,
    SingleObjectTracker,
    run_sot,
)
from sam2_enhanced.evaluation.cases import CaseRef, MotCase, SotCase, VosCase
from sam2_enhanced.evaluation.mot import MotResult, TrackSequence, evaluate_mot
from sam2_enhanced.evaluation.sot import SotResult, evaluate_sot_sequence, failed_sot_result
from sam2_enhanced.evaluation.vos import DavisResult, evaluate_davis, failed_davis_result
from sam2_enhanced.predictor.annotate import label_map

logger = logging.getLogger(__name__)

SotRunner = Callable[[SotCase], np.ndarray]
MotRunner = Callable[[MotCase], TrackSequence]
VosRunner = Callable[[VosCase], np.ndarray]

SOT_OBJ_ID = 1  # obj_id of the single prompted target


# ------------------------------------------------------------------------------------------ SOT
def sot_with_predictor(predictor, case: SotCase) -> np.ndarray:
    """Ours as a single-object tracker: box prompt on the init frame, then propagate.

    Returns (T, 4) float64 ``xyxy`` boxes (see the module docstring).
    """
    start = case.init_frame
    boxes = np.full((case.num_frames, 4), np.nan)
    boxes[start] = case.boxes_xyxy[start]
    state = predictor.init_state(case.frames)
    try:
        predictor.add_new_points_or_box(state, start, SOT_OBJ_ID, box=case.boxes_xyxy[start])
        frames = predictor.propagate_in_video(
            state, start, max_frame_num_to_track=case.num_frames - 1 - start
        )
        for frame_idx, _, _, detections in frames:
            rows = np.flatnonzero(detections.tracker_id == SOT_OBJ_ID)
            if frame_idx != start and rows.size:
                boxes[frame_idx] = detections.xyxy[rows[0]]
    finally:
        state.frames.close()
    return boxes


def sot_with_tracker(make_tracker: Callable[[], SingleObjectTracker], case: SotCase) -> np.ndarray:
    """A :class:`SingleObjectTracker` (OpenCV, or any other) under the same protocol."""
    start = case.init_frame
    boxes = np.full((case.num_frames, 4), np.nan)
    with open_frames(case.frames) as source:
        frames = (frame for _, frame in iter_frames(source, start, case.num_frames))
        boxes[start:] = run_sot(make_tracker(), frames, case.boxes_xyxy[start])
    return boxes


def opencv_sot_runner(kind: str) -> SotRunner:
    """CSRT / KCF runner; fails now (not per sequence) when OpenCV lacks the tracker."""
    OpenCVTracker(kind)
    return partial(sot_with_tracker, partial(OpenCVTracker, kind))


# ------------------------------------------------------------------------------------------ MOT
@dataclass
class FrameTracks:
    """One frame's tracked detections, without masks."""

    track_ids: np.ndarray  # (N,) int64
    boxes_xyxy: np.ndarray  # (N, 4) float64 pixels
    scores: np.ndarray  # (N,) float64
    class_ids: np.ndarray  # (N,) int64, -1 unknown


class PredictorDetections:
    """The predictor's no-prompt run over a case, computed once and shared by runners.

    With ``every_detection`` each detection above the threshold (above ``tracker.low_threshold``
    when the model sets one) is reported from its first frame (new tracks need one hit), so a
    baseline tracker gets the detector's raw output rather than the rows our own association
    confirmed.
    """

    def __init__(self, predictor, every_detection: bool = False) -> None:
        self.predictor = predictor
        self.every_detection = every_detection
        self._cached: tuple[MotCase | SotCase, list[FrameTracks]] | None = None

    def __call__(self, case: MotCase | SotCase) -> list[FrameTracks]:
        if self._cached is not None and self._cached[0] is case:
            return self._cached[1]
        if self.every_detection:
            tracker_cfg = self.predictor.config.tracker
            floor = tracker_cfg.det_threshold
            if tracker_cfg.low_threshold is not None:
                floor = min(floor, tracker_cfg.low_threshold)
            with detection_floor(self.predictor, floor):
                frames = self.run(case)
        else:
            frames = self.run(case)
        self._cached = (case, frames)
        return frames

    def run(self, case: MotCase | SotCase) -> list[FrameTracks]:
        """One no-prompt run over ``case``: each frame's reported rows."""
        state = self.predictor.init_state(case.frames)
        if self.every_detection:
            state.tracker.min_hits = 1
        frames: list[FrameTracks] = [empty_frame_tracks() for _ in range(case.num_frames)]
        try:
            run = self.predictor.propagate_in_video(
                state, 0, max_frame_num_to_track=case.num_frames - 1
            )
            for frame_idx, _, _, detections in run:
                frames[frame_idx] = frame_tracks(detections)
        finally:
            state.frames.close()
        return frames


def check_floor(floor: float) -> None:
    """Raise ``ValueError`` unless ``floor`` (the lowest detection score reported) is in [0, 1)."""
    if not 0.0 <= floor < 1.0:
        raise ValueError(f"--floor must be in [0, 1), got {floor}")


@contextmanager
def tracker_thresholds(
    predictor, det_threshold: float, low_threshold: float | None
) -> Iterator[float]:
    """Within the block the predictor's ``tracker.det_threshold`` and ``low_threshold`` are the
    given ones; yields the model's own ``det_threshold``. Both are restored on exit."""
    tracker_cfg = predictor.config.tracker
    saved = tracker_cfg.det_threshold, tracker_cfg.low_threshold
    tracker_cfg.det_threshold, tracker_cfg.low_threshold = det_threshold, low_threshold
    try:
        yield saved[0]
    finally:
        tracker_cfg.det_threshold, tracker_cfg.low_threshold = saved


@contextmanager
def detection_floor(predictor, floor: float) -> Iterator[float]:
    """Within the block the predictor reports detections down to ``floor`` (and its second
    association, ``tracker.low_threshold``, is off); yields the model's own
    ``tracker.det_threshold``, restored on exit with ``low_threshold``."""
    check_floor(floor)
    with tracker_thresholds(predictor, floor, None) as own:
        yield own


def empty_frame_tracks() -> FrameTracks:
    return FrameTracks(np.empty(0, np.int64), np.empty((0, 4)), np.empty(0), np.empty(0, np.int64))


def frame_tracks(detections: sv.Detections) -> FrameTracks:
    """The rows of a predictor output (``tracker_id`` set on every row)."""
    count = len(detections)
    return FrameTracks(
        track_ids=np.asarray(detections.tracker_id, dtype=np.int64).reshape(count),
        boxes_xyxy=np.asarray(detections.xyxy, dtype=np.float64).reshape(count, 4),
        scores=np.asarray(detections.confidence, dtype=np.float64).reshape(count),
        class_ids=np.asarray(detections.class_id, dtype=np.int64).reshape(count),
    )


def mot_with_predictor(detections_of: PredictorDetections, case: MotCase) -> TrackSequence:
    """Ours as a multi-object tracker: the no-prompt run's rows and tracker ids."""
    frames = detections_of(case)
    return TrackSequence([f.track_ids for f in frames], [f.boxes_xyxy for f in frames])


def mot_with_bytetrack(detections_of: PredictorDetections, case: MotCase) -> TrackSequence:
    """ByteTrack over ``detections_of``'s per-frame detections, with our detector's thresholds.

    ``sam2e eval`` gives it a :class:`PredictorDetections` of its own with ``every_detection``,
    so its time includes that model run (see the module docstring).
    """
    tracker_cfg = detections_of.predictor.config.tracker
    tracker = ByteTrackBaseline(  # its second association takes rows down to our low_threshold
        track_activation_threshold=tracker_cfg.det_threshold,
        high_conf_det_threshold=tracker_cfg.det_threshold,
        minimum_consecutive_frames=tracker_cfg.min_hits,  # same confirmation rule as ours
        frame_rate=case.fps or 30.0,
    )
    ids, boxes = [], []
    for frame in detections_of(case):
        tracked = tracker.update(frame.boxes_xyxy, frame.scores, frame.class_ids)
        ids.append(tracked.track_ids)
        boxes.append(tracked.boxes_xyxy)
    return TrackSequence(ids, boxes)


# ------------------------------------------------------------------------------------------ VOS
def vos_with_predictor(predictor, case: VosCase) -> np.ndarray:
    """Ours in the semi-supervised VOS protocol; returns (O, A, H, W) bool."""
    num_objects = len(case.object_ids)
    height, width = case.masks.shape[2:]
    pred = np.zeros((num_objects, len(case.annotated_frames), height, width), dtype=bool)
    prompt_frames = case.prompt_frames()
    prompted = np.flatnonzero(prompt_frames >= 0)  # objects seen on some annotated frame
    if prompted.size == 0:
        return pred
    slot = {int(t): a for a, t in enumerate(case.annotated_frames)}  # frame -> index in A
    state = predictor.init_state(case.frames)
    try:
        for o in prompted:
            t = int(prompt_frames[o])
            predictor.add_new_mask(state, t, int(case.object_ids[o]), case.masks[slot[t], o])
        start = int(prompt_frames[prompted].min())
        run = predictor.propagate_in_video(
            state, start, max_frame_num_to_track=case.num_frames - 1 - start
        )
        index_of = {int(obj_id): o for o, obj_id in enumerate(case.object_ids)}
        for frame_idx, obj_ids, mask_logits, _ in run:
            if frame_idx not in slot:
                continue
            labels = label_map(mask_logits.numpy())  # (H, W), k = obj_ids[k - 1]
            for k, obj_id in enumerate(obj_ids, start=1):
                pred[index_of[obj_id], slot[frame_idx]] = labels == k
    finally:
        state.frames.close()
    return pred


# -------------------------------------------------------------------------------------- scoring
@dataclass
class MethodResult:
    """One method's score on one case, and how fast it ran."""

    result: Any  # SotResult, MotResult or DavisResult
    seconds: float  # wall time of the runner (NaN when it failed)
    num_frames: int  # frames it tracked (0 when it failed)
    num_scored_frames: int  # frames scored (VOS: scored (object, frame) pairs)
    failed: bool = False  # the runner raised; ``result`` is the zero score of the case

    @property
    def fps(self) -> float:
        return self.num_frames / self.seconds if self.seconds > 0 else float("nan")


def _timed(runner: Callable[[Any], Any], case: Any) -> tuple[Any, float]:
    begin = time.perf_counter()
    prediction = runner(case)
    return prediction, time.perf_counter() - begin


def sot_scored_frames(case: SotCase, score_init_frame: bool = False) -> slice:
    """The frames SOT scores: after the init frame (default), or all of them (OTB)."""
    return slice(0 if score_init_frame else case.init_frame + 1, None)


def vos_first_scored(case: VosCase, score_init_frame: bool = False) -> np.ndarray | None:
    """Per object, the first annotated entry VOS scores: the one after its prompt frame (an
    object never visible is not scored); None with ``score_init_frame`` (plain DAVIS)."""
    if score_init_frame:
        return None
    prompt_frames = case.prompt_frames()  # (O,)
    after = np.searchsorted(case.annotated_frames, prompt_frames, side="right")  # (O,)
    return np.where(prompt_frames >= 0, after, len(case.annotated_frames))


def _num_scored(result: DavisResult) -> int:
    return int((~np.isnan(result.j)).sum())


def evaluate_sot_method(
    case: SotCase, runner: SotRunner, score_init_frame: bool = False
) -> MethodResult:
    """Run one SOT runner on ``case`` and score it with the OTB protocol on the scored frames."""
    boxes, seconds = _timed(runner, case)
    scored = sot_scored_frames(case, score_init_frame)
    result: SotResult = evaluate_sot_sequence(
        np.asarray(boxes)[scored], case.boxes_xyxy[scored], case.present[scored]
    )
    return MethodResult(result, seconds, case.num_frames - case.init_frame, result.num_frames)


def evaluate_mot_method(
    case: MotCase, runner: MotRunner, score_init_frame: bool = False
) -> MethodResult:
    """Run one MOT runner on ``case``; HOTA / CLEAR / Identity with size buckets.

    ``score_init_frame`` is accepted for symmetry and ignored: there is no prompt frame.
    """
    tracks, seconds = _timed(runner, case)
    result: MotResult = evaluate_mot(case.gt, tracks)
    return MethodResult(result, seconds, case.num_frames, case.num_frames)


def evaluate_vos_method(
    case: VosCase, runner: VosRunner, score_init_frame: bool = False
) -> MethodResult:
    """Run one VOS runner on ``case``; DAVIS J, F and J&F on its scored annotated frames."""
    masks, seconds = _timed(runner, case)
    result: DavisResult = evaluate_davis(
        case.masks.transpose(1, 0, 2, 3),  # (O, A, H, W)
        masks,
        first_scored=vos_first_scored(case, score_init_frame),
    )
    prompt_frames = case.prompt_frames()
    start = int(prompt_frames[prompt_frames >= 0].min(initial=0))
    return MethodResult(result, seconds, case.num_frames - start, _num_scored(result))


def failed_method_result(task: str, case: Any, score_init_frame: bool = False) -> MethodResult:
    """The result of a method that raised on ``case``: 0 on every frame it should have scored
    (SOT :func:`failed_sot_result`, MOT an empty prediction, VOS :func:`failed_davis_result`)."""
    if task == "sot":
        scored = sot_scored_frames(case, score_init_frame)
        result = failed_sot_result(case.boxes_xyxy[scored], case.present[scored])
        count = result.num_frames
    elif task == "mot":
        frames = range(case.num_frames)
        nothing = TrackSequence(
            [np.empty(0, np.int64) for _ in frames], [np.empty((0, 4)) for _ in frames]
        )
        result, count = evaluate_mot(case.gt, nothing), case.num_frames
    else:
        gt = case.masks.transpose(1, 0, 2, 3)  # (O, A, H, W)
        oracle = evaluate_davis(gt, gt, first_scored=vos_first_scored(case, score_init_frame))
        result = failed_davis_result(oracle)
        count = _num_scored(result)
    return MethodResult(result, float("nan"), 0, count, failed=True)


EVALUATORS = {"sot": evaluate_sot_method, "mot": evaluate_mot_method, "vos": evaluate_vos_method}


# ----------------------------------------------------------------------------------------- loop
@dataclass
class CaseOutcome:
    """The result of every method on one case (failed ones scored 0)."""

    name: str
    num_frames: int  # frames of the case (after --max-frames)
    methods: dict[str, MethodResult]


@dataclass
class CaseError:
    """A case that could not be read, or a method that failed on it."""

    name: str  # the case
    method: str | None  # the method that failed; None when the case itself could not be read
    error: str  # "ExceptionType: message"


@dataclass
class EvalOutcome:
    """Results of one evaluation run, in case order."""

    task: str  # "sot", "mot" or "vos"
    methods: list[str]  # method names, in the order given
    cases: list[CaseOutcome]  # cases that could be read; every method has a result on each
    errors: list[CaseError]
    score_init_frame: bool = False  # the init / prompt frame was scored (OTB convention)

    def scoring(self) -> str:
        """One line saying which frames were scored."""
        if self.task == "mot":
            return "scored: every frame (no prompt)"
        if self.score_init_frame:
            return "scored: the init / prompt frame included (OTB convention, --score-init-frame)"
        return "scored: frames after the init / prompt frame only (GOT-10k convention)"


def _record(outcome: EvalOutcome, name: str, method: str | None, err: Exception) -> None:
    message = " ".join(str(err).split())
    where = name if method is None else f"{name} [{method}]"
    logger.warning("%s failed: %s: %s", where, type(err).__name__, message)
    logger.debug("traceback of %s", where, exc_info=True)
    outcome.errors.append(CaseError(name, method, f"{type(err).__name__}: {message}"))


def evaluate_cases(
    task: str,
    refs: Sequence[CaseRef],
    runners: Mapping[str, Any],
    progress: bool = True,
    score_init_frame: bool = False,
) -> EvalOutcome:
    """Load and evaluate each case with every runner, with a progress bar over cases.

    Failures are isolated: a case that cannot be read (or has nothing to score) is skipped for
    every method; a method that
    fails on a case (e.g. OpenCV rejecting a 1-pixel init box) scores 0 there
    (:func:`failed_method_result`). Both are logged and recorded in ``errors``, and everything
    else still runs, so every method's summary covers the same cases. ``score_init_frame``:
    see the module docstring.
    """
    if task not in EVALUATORS:
        raise ValueError(f"task must be one of {sorted(EVALUATORS)}, got {task!r}")
    evaluate = EVALUATORS[task]
    outcome = EvalOutcome(task, list(runners), [], [], score_init_frame)
    bar = tqdm(refs, unit="seq", desc=f"eval {task}", disable=None if progress else True)
    for ref in bar:
        bar.set_postfix_str(ref.name)
        try:
            case = ref.load()
        except Exception as err:  # isolate: report it, go on with the next case
            _record(outcome, ref.name, None, err)
            continue
        methods = {}
        try:
            for name, runner in runners.items():
                try:
                    methods[name] = evaluate(case, runner, score_init_frame)
                except Exception as err:  # isolate: scored 0, the other methods still run
                    _record(outcome, ref.name, name, err)
                    methods[name] = failed_method_result(task, case, score_init_frame)
        except Exception as err:  # nothing to score on this case (e.g. no target frame)
            _record(outcome, ref.name, None, err)
            continue
        outcome.cases.append(CaseOutcome(ref.name, case.num_frames, methods))
    return outcome
