"""Evaluation cases, runners, the evaluation loop and its reports (tiny data, CPU)."""

import json
from functools import partial

import numpy as np
import pytest
import torch
from PIL import Image

from sam2_enhanced import build_predictor, load_config
from sam2_enhanced.data.splits import SPLIT_SEEDS
from sam2_enhanced.data.synthetic import SyntheticVideoConfig, generate_video
from sam2_enhanced.data.writers import (
    write_davis_masks,
    write_frames,
    write_mot_gt,
    write_mot_seqinfo,
    write_sot_sequence,
)
from sam2_enhanced.evaluation.cases import (
    CaseRef,
    MotCase,
    SotCase,
    VosCase,
    find_cases,
    synthetic_cases,
)
from sam2_enhanced.evaluation.eval_report import (
    method_counts,
    method_summaries,
    results_document,
    summary_table,
    write_reports,
)
from sam2_enhanced.evaluation.harness import (
    PredictorDetections,
    evaluate_cases,
    evaluate_mot_method,
    evaluate_sot_method,
    evaluate_vos_method,
    mot_with_bytetrack,
    mot_with_predictor,
    opencv_sot_runner,
    sot_with_predictor,
    sot_with_tracker,
    vos_with_predictor,
)
from sam2_enhanced.evaluation.trivial import sot_static

CFG = SyntheticVideoConfig(
    height=64, width=64, num_frames=4, min_objects=2, max_objects=2, max_object_size=16
)


@pytest.fixture(scope="module")
def video():
    return generate_video(SPLIT_SEEDS["test"].start, CFG)  # synthetic_cases' first video


@pytest.fixture(scope="module")
def predictor():
    torch.manual_seed(0)
    return build_predictor(load_config("tiny"), device="cpu")


class OracleTracker:
    """A SingleObjectTracker that answers with the ground truth of each next frame."""

    def __init__(self, gt_boxes_xyxy):
        self.gt = gt_boxes_xyxy

    def init(self, frame, box_xyxy):
        self.t = int(np.flatnonzero((self.gt == box_xyxy).all(axis=1))[0])

    def update(self, frame):
        self.t += 1
        box = self.gt[self.t]
        return None if np.isnan(box).any() else box


def _sot_case(num_frames=6, absent=()):
    gt = np.array([[10.0 + t, 12.0, 30.0 + t, 28.0] for t in range(num_frames)])
    present = np.ones(num_frames, bool)
    present[list(absent)] = False
    gt[~present] = np.nan
    frames = np.zeros((num_frames, 40, 48, 3), np.uint8)
    return SotCase("oracle", frames, gt, present)


def test_oracle_sot_scores_otb_perfect():
    case = _sot_case()
    runner = partial(sot_with_tracker, partial(OracleTracker, case.boxes_xyxy))
    result = evaluate_sot_method(case, runner).result
    assert result.curves.auc == pytest.approx(20 / 21)  # strict IoU > threshold, as OTB
    assert result.average_overlap == pytest.approx(1.0)
    assert result.curves.precision_at_20 == 1.0


def test_sot_starts_on_first_present_frame():
    case = _sot_case(absent=(0, 1, 4))
    assert case.init_frame == 2
    boxes = sot_with_tracker(partial(OracleTracker, case.boxes_xyxy), case)
    assert np.isnan(boxes[:2]).all() and np.isnan(boxes[4]).all()
    np.testing.assert_array_equal(boxes[[2, 3, 5]], case.boxes_xyxy[[2, 3, 5]])
    result = evaluate_sot_method(
        case, partial(sot_with_tracker, partial(OracleTracker, case.boxes_xyxy))
    )
    assert result.result.absent_accuracy == 1.0
    assert result.num_frames == 4  # frames 2..5 tracked


def test_sot_case_with_no_present_frame():
    with pytest.raises(ValueError, match="absent in every frame"):
        _ = _sot_case(num_frames=2, absent=(0, 1)).init_frame


def test_oracle_mot_and_vos(video):
    mot_case = synthetic_cases("mot", 1, CFG)[0].load()
    mot = evaluate_mot_method(mot_case, lambda case: case.gt).result
    assert mot.overall.hota == pytest.approx(1.0) and mot.overall.mota == pytest.approx(1.0)
    assert mot.overall.idf1 == pytest.approx(1.0)
    assert set(mot.by_size) == {"tiny", "small", "medium", "large"}
    vos_case = synthetic_cases("vos", 1, CFG)[0].load()
    oracle = lambda case: case.masks.transpose(1, 0, 2, 3)  # noqa: E731
    davis = evaluate_vos_method(vos_case, oracle).result
    assert davis.summary.j_and_f == pytest.approx(1.0)


def test_synthetic_cases_match_the_video(video):
    sot = synthetic_cases("sot", 1, CFG)[0].load()
    assert sot.init_frame == video.first_visible_frame(0)
    np.testing.assert_array_equal(sot.present, video.visibility[:, 0] > 0)
    mot = synthetic_cases("mot", 1, CFG)[0].load()
    assert [len(ids) for ids in mot.gt.ids] == (video.visibility > 0).sum(axis=1).tolist()
    with pytest.raises(ValueError, match="at least 1"):
        synthetic_cases("sot", 0)
    with pytest.raises(ValueError, match="task"):
        synthetic_cases("det", 1)


def test_vos_case_prompt_frames_and_truncation():
    masks = np.zeros((3, 2, 4, 4), bool)  # (A, O, H, W)
    masks[1, 0, 0, 0] = True  # object 0 first seen on annotated entry 1 = frame 5
    case = VosCase("v", None, 9, masks, np.array([3, 8]), np.array([0, 5, 8]))
    np.testing.assert_array_equal(case.prompt_frames(), [5, -1])
    short = case.truncated(6)
    assert short.num_frames == 6 and short.annotated_frames.tolist() == [0, 5]


def test_ours_as_sot_and_vos(predictor, video):
    sot = synthetic_cases("sot", 1, CFG)[0].load()
    boxes = sot_with_predictor(predictor, sot)
    assert boxes.shape == (4, 4)
    start = sot.init_frame
    np.testing.assert_array_equal(boxes[start], sot.boxes_xyxy[start])
    assert np.isnan(boxes[:start]).all()
    vos = synthetic_cases("vos", 1, CFG)[0].load()
    masks = vos_with_predictor(predictor, vos)
    assert masks.shape == (2, 4, 64, 64) and masks.dtype == bool
    assert not (masks[0] & masks[1]).any()  # one label per pixel


def test_ours_and_bytetrack_mot_share_one_run(predictor):
    case = synthetic_cases("mot", 1, CFG)[0].load()
    detections_of = PredictorDetections(predictor)
    assert detections_of(case) is detections_of(case)  # computed once per case
    for runner in (mot_with_predictor, mot_with_bytetrack):
        tracks = runner(detections_of, case)
        assert tracks.num_frames == case.num_frames


def test_every_detection_reports_rows_from_the_first_frame():
    torch.manual_seed(0)
    cfg = load_config("tiny")
    cfg.tracker.det_threshold = 0.0  # untrained: every query counts as a detection
    cfg.tracker.min_hits = 3
    predictor = build_predictor(cfg, device="cpu")
    case = synthetic_cases("mot", 1, CFG)[0].load()
    confirmed = PredictorDetections(predictor)(case)
    raw = PredictorDetections(predictor, every_detection=True)(case)
    num_queries = cfg.decoder.num_queries
    assert len(confirmed[0].track_ids) == 0  # our tracker needs 3 hits before reporting
    assert len(raw[0].track_ids) == num_queries


def test_low_score_rows_reach_bytetrack_but_start_no_track_of_ours():
    torch.manual_seed(0)
    cfg = load_config("tiny")
    cfg.tracker.det_threshold, cfg.tracker.low_threshold = 0.99, 0.0  # every query is low
    predictor = build_predictor(cfg, device="cpu")
    case = synthetic_cases("mot", 1, CFG)[0].load()
    ours = PredictorDetections(predictor)(case)
    raw = PredictorDetections(predictor, every_detection=True)(case)
    assert all(len(frame.track_ids) == 0 for frame in ours)
    assert all(len(frame.track_ids) == cfg.decoder.num_queries for frame in raw)
    assert (cfg.tracker.det_threshold, cfg.tracker.low_threshold) == (0.99, 0.0)  # restored


def _write_sot_folder(root, video):
    write_sot_sequence(video, 1, root / "good")
    write_sot_sequence(video, 1, root / "bad")
    (root / "bad" / "groundtruth_rect.txt").write_text("1,2,3,4\n")  # 1 line for 4 frames


def test_failure_isolation_and_reports(tmp_path, video):
    _write_sot_folder(tmp_path / "data", video)
    refs = find_cases("sot", [tmp_path / "data"])
    assert [r.name for r in refs] == ["bad", "good"]
    outcome = evaluate_cases("sot", refs, {"csrt": opencv_sot_runner("csrt")}, progress=False)
    assert [c.name for c in outcome.cases] == ["good"]
    assert [e.name for e in outcome.errors] == ["bad"]
    assert (
        outcome.errors[0].error.startswith("ValueError:") and "1 boxes" in outcome.errors[0].error
    )
    paths = write_reports(outcome, tmp_path / "out", {"model": None})
    assert {p.name for p in paths.values()} == {
        "results.json",
        "results.md",
        "success_precision.png",
    }
    document = json.loads(paths["json"].read_text())
    assert set(document) == {
        "task",
        "methods",
        "score_init_frame",
        "meta",
        "summary",
        "sequences",
        "errors",
    }
    assert document["errors"] == [{"name": "bad", "method": None, "error": outcome.errors[0].error}]
    assert len(document["summary"]["csrt"]["metrics"]["curves"]["success"]) == 21
    assert "## Errors" in paths["markdown"].read_text()


def test_find_cases_single_sequence_and_bad_paths(tmp_path, video):
    write_sot_sequence(video, 0, tmp_path / "seq")
    refs = find_cases("sot", [tmp_path / "seq"], max_frames=2)
    assert [r.name for r in refs] == ["seq"]
    assert refs[0].load().num_frames == 2
    with pytest.raises(FileNotFoundError, match="no such folder"):
        find_cases("sot", [tmp_path / "missing"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no sub-folders"):
        find_cases("mot", [tmp_path / "empty"])


def test_find_mot_sequence(tmp_path, video):
    seq = tmp_path / "SEQ-01"
    write_frames(video, seq / "img1")
    write_mot_seqinfo(video, seq / "seqinfo.ini", "SEQ-01", fps=12)
    write_mot_gt(video, seq / "gt" / "gt.txt")
    case = find_cases("mot", [tmp_path])[0].load()
    assert isinstance(case, MotCase) and case.fps == 12 and case.num_frames == 4
    for t in range(4):
        visible = video.visibility[t] > 0
        np.testing.assert_array_equal(case.gt.ids[t], video.track_ids[visible])
        np.testing.assert_allclose(case.gt.boxes_xyxy[t], video.boxes_xyxy[t, visible], atol=0.01)


def test_find_davis_sequence(tmp_path, video):
    root = tmp_path / "davis-seq"
    write_davis_masks(video, root / "Annotations")
    (root / "JPEGImages").mkdir()
    for t, frame in enumerate(video.frames):
        Image.fromarray(frame).save(root / "JPEGImages" / f"{t:05d}.jpg")
    case = find_cases("vos", [tmp_path])[0].load()
    assert case.name == "davis-seq" and case.num_frames == 4
    visible = video.visibility.max(axis=0) > 0
    np.testing.assert_array_equal(case.object_ids, video.track_ids[visible])
    np.testing.assert_array_equal(case.masks, video.masks[:, visible])


def test_results_document_mot_has_size_breakdown():
    case = synthetic_cases("mot", 1, CFG)[0].load()
    outcome = evaluate_cases(
        "mot", [synthetic_cases("mot", 1, CFG)[0]], {"oracle": lambda c: c.gt}, progress=False
    )
    document = results_document(outcome, {})
    assert set(document["summary"]["oracle"]["metrics"]["by_size"]) == {
        "tiny",
        "small",
        "medium",
        "large",
    }
    assert document["sequences"][0]["num_frames"] == case.num_frames


def test_a_failing_method_does_not_stop_the_others(video):
    def broken(case):
        raise RuntimeError("tracker crashed")

    refs = synthetic_cases("mot", 2, CFG)
    runners = {"broken": broken, "oracle": lambda case: case.gt}
    outcome = evaluate_cases("mot", refs, runners, progress=False)
    assert [list(c.methods) for c in outcome.cases] == [["broken", "oracle"]] * 2
    assert [c.methods["broken"].failed for c in outcome.cases] == [True, True]
    assert [c.methods["oracle"].failed for c in outcome.cases] == [False, False]
    assert [(e.name, e.method) for e in outcome.errors] == [(r.name, "broken") for r in refs]
    assert outcome.errors[0].error == "RuntimeError: tracker crashed"
    broken = outcome.cases[0].methods["broken"].result.overall  # scored as no track at all
    assert (broken.hota, broken.mota, broken.idf1) == (0.0, 0.0, 0.0)


def test_find_visdrone_root(tmp_path, video):
    root = tmp_path / "VisDrone2019-MOT-val"
    write_frames(video, root / "sequences" / "uav0001")
    lines = ["1,0,0,0,10,10,0,0,-1,-1"]  # an ignored region (category 0), not an object
    for t, o in zip(*np.nonzero(video.visibility > 0), strict=True):
        x0, y0, x1, y1 = video.boxes_xyxy[t, o]
        lines.append(f"{t + 1},{video.track_ids[o]},{x0},{y0},{x1 - x0},{y1 - y0},1,4,0,0")
    (root / "annotations").mkdir()
    (root / "annotations" / "uav0001.txt").write_text("\n".join(lines) + "\n")
    refs = find_cases("mot", [root])
    assert [r.name for r in refs] == ["uav0001"]
    case = refs[0].load()
    assert [ids.tolist() for ids in case.gt.ids] == [
        video.track_ids[video.visibility[t] > 0].tolist() for t in range(4)
    ]


def test_a_failed_case_scores_zero_and_every_summary_counts_the_same_cases():
    cases = [_sot_case(), _sot_case(absent=(0,))]  # 5 and 4 frames after the init frame

    def fails_on_second(case):
        if case is cases[1]:
            raise RuntimeError("lost")
        return sot_static(case)

    refs = [CaseRef(f"c{i}", lambda case=case: case) for i, case in enumerate(cases)]
    runners = {"flaky": fails_on_second, "static": sot_static}
    outcome = evaluate_cases("sot", refs, runners, progress=False)
    assert [(e.name, e.method) for e in outcome.errors] == [("c1", "flaky")]
    failed = outcome.cases[1].methods["flaky"]
    assert failed.failed and failed.result.curves.auc == 0.0 and failed.num_scored_frames == 4
    summaries = method_summaries(outcome)
    static_auc = [c.methods["static"].result.curves.auc for c in outcome.cases]
    assert summaries["static"].curves.auc == pytest.approx(np.mean(static_auc))
    assert summaries["flaky"].curves.auc == pytest.approx(static_auc[0] / 2)  # 0 for c1
    assert method_counts(outcome, "flaky") == {"seqs": 2, "frames": 9, "failed": 1}
    assert method_counts(outcome, "static") == {"seqs": 2, "frames": 9, "failed": 0}
    header = summary_table(outcome).splitlines()[0]
    assert "seqs" in header and "frames" in header and "failed" in header
