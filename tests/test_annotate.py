"""Annotators, label maps and the streaming video writer."""

import av
import numpy as np
import pytest
import supervision as sv

from sam2_enhanced.data.synthetic import CLASS_NAMES
from sam2_enhanced.predictor.annotate import (
    FrameAnnotator,
    VideoWriter,
    detection_labels,
    label_map,
)
from sam2_enhanced.predictor.class_names import UNKNOWN_CLASS, class_name, default_class_names


def _detections(tracker_ids=(3, 7), class_ids=(0, -1), confidences=(0.9, 0.25)):
    return sv.Detections(
        xyxy=np.array([[10, 10, 30, 30], [40, 5, 60, 20]], dtype=np.float32)[: len(tracker_ids)],
        confidence=np.array(confidences, dtype=np.float32),
        class_id=np.array(class_ids),
        tracker_id=np.array(tracker_ids),
    )


@pytest.mark.parametrize(
    ("num_classes", "expected"),
    [(4, tuple(CLASS_NAMES)), (2, ("class 0", "class 1")), (0, ())],
)
def test_default_class_names(num_classes, expected):
    assert default_class_names(num_classes) == expected


@pytest.mark.parametrize(
    ("class_id", "expected"), [(0, "a"), (1, "b"), (-1, UNKNOWN_CLASS), (2, UNKNOWN_CLASS)]
)
def test_class_name(class_id, expected):
    assert class_name(class_id, ("a", "b")) == expected


def test_detection_labels():
    labels = detection_labels(_detections(), CLASS_NAMES)
    assert labels == ["#3 drone 0.90", "#7 object 0.25"]
    no_extras = sv.Detections(xyxy=np.zeros((1, 4), np.float32), class_id=np.array([1]))
    assert detection_labels(no_extras, CLASS_NAMES) == ["bird"]


def test_label_map_picks_largest_positive_logit():
    logits = np.full((2, 1, 2, 3), -5.0, dtype=np.float32)
    logits[0, 0, 0, :2] = [1.0, 3.0]  # object 1 on (0, 0) and (0, 1)
    logits[1, 0, 0, 1:] = [2.0, 0.5]  # object 2 on (0, 1) (loses to 3.0) and (0, 2)
    expected = np.array([[1, 1, 2], [0, 0, 0]], dtype=np.uint8)
    np.testing.assert_array_equal(label_map(logits), expected)
    np.testing.assert_array_equal(label_map(logits[:, 0]), expected)  # (O, H, W) too


def test_label_map_empty_and_bad_shapes():
    assert label_map(np.zeros((0, 1, 4, 5))).shape == (4, 5)
    with pytest.raises(ValueError, match="O <= 255"):
        label_map(np.zeros((256, 2, 2)))
    with pytest.raises(ValueError, match=r"\(O, 1, H, W\)"):
        label_map(np.zeros((4, 5)))


def test_annotate_draws_in_track_colour_and_keeps_input():
    frame = np.zeros((48, 64, 3), dtype=np.uint8)
    detections = _detections(tracker_ids=(1,), class_ids=(0,), confidences=(0.8,))
    detections.mask = np.zeros((1, 48, 64), dtype=bool)
    detections.mask[0, 12:28, 12:28] = True
    out = FrameAnnotator(CLASS_NAMES, (64, 48)).annotate(frame, detections)
    assert out.shape == frame.shape and out.dtype == np.uint8
    assert not frame.any()  # input untouched
    colour = sv.ColorPalette.DEFAULT.by_idx(1).as_rgb()
    np.testing.assert_array_equal(out[30, 20], colour)  # bottom edge y1 = 30, RGB order
    assert out[20, 20].any()  # mask tint inside the object
    assert not out[45, 60].any()  # far from everything


def test_annotate_empty_and_missing_tracker_id():
    annotator = FrameAnnotator(CLASS_NAMES, (32, 32))
    frame = np.full((32, 32, 3), 7, dtype=np.uint8)
    np.testing.assert_array_equal(annotator.annotate(frame, sv.Detections.empty()), frame)
    with pytest.raises(ValueError, match="tracker_id"):
        annotator.annotate(frame, sv.Detections(xyxy=np.zeros((1, 4), np.float32)))


@pytest.mark.parametrize("codec", ["libx264", "no-such-codec"])
def test_video_writer_odd_size_roundtrip(tmp_path, codec):
    path = tmp_path / "out.mp4"
    with VideoWriter(path, fps=10, width=33, height=17, codec=codec) as writer:
        for value in (0, 120, 240):
            writer.write(np.full((17, 33, 3), value, dtype=np.uint8))
    assert writer.num_frames == 3
    with av.open(str(path)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
        name = container.streams.video[0].codec_context.name
    assert name == ("h264" if codec == "libx264" else "mpeg4")
    assert len(frames) == 3 and frames[0].shape == (18, 34, 3)  # padded to even sides
    assert abs(int(frames[2][8, 16, 0]) - 240) < 8  # content survives lossy coding


def test_video_writer_bad_input(tmp_path):
    with pytest.raises(ValueError, match="fps"):
        VideoWriter(tmp_path / "a.mp4", fps=0, width=8, height=8)
    with VideoWriter(tmp_path / "b.mp4", fps=5, width=8, height=8) as writer:
        with pytest.raises(ValueError, match=r"uint8 of shape \(8, 8, 3\)"):
            writer.write(np.zeros((8, 9, 3), dtype=np.uint8))
        writer.write(np.zeros((8, 8, 3), dtype=np.uint8))
