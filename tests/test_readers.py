"""Annotation readers: MOTChallenge, VisDrone-MOT, single-object and DAVIS (files in tmp_path)."""

from __future__ import annotations

import math

import av
import cv2
import numpy as np
import pytest
from PIL import Image

from sam2_enhanced.box_ops import xywh_to_xyxy
from sam2_enhanced.data.readers import read_numeric_table
from sam2_enhanced.data.readers_davis import read_davis_masks, read_davis_sequence
from sam2_enhanced.data.readers_mot import (
    read_mot_file,
    read_mot_sequence,
    read_visdrone_mot_file,
)
from sam2_enhanced.data.readers_sot import read_sot_boxes, read_sot_sequence

NAN = math.nan


def write_text(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def write_frames(folder, names, height=8, width=10):
    folder.mkdir(parents=True, exist_ok=True)
    for t, name in enumerate(names):
        cv2.imwrite(str(folder / name), np.full((height, width, 3), 10 * t, np.uint8))
    return folder


def write_palette_png(path, labels):
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(labels.astype(np.uint8))  # (H, W) "L"
    image.putpalette(list(range(256)) * 3)  # now mode "P", index k = object k
    image.save(path)


# ---- numeric tables --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    ["1,2,3.5,4", "1\t2\t3.5\t4", "1 2 3.5 4", "1, 2\t3.5  4", "1 ,2,\t3.5 4", "1,2,3.5,4,"],
)
def test_numeric_table_separators(tmp_path, line):
    table = read_numeric_table(
        write_text(tmp_path / "gt.txt", f"\n{line}\n\n"),
        min_columns=4,
        max_columns=4,
        columns_doc="x, y, w, h",
    )
    np.testing.assert_array_equal(table.values, [[1, 2, 3.5, 4]])
    assert table.line_numbers.tolist() == [2]


def test_numeric_table_pads_short_rows_and_reads_nan(tmp_path):
    path = write_text(tmp_path / "t.txt", "\ufeff1,2\nNaN,nan,3\n")  # with a byte-order mark
    table = read_numeric_table(path, min_columns=2, max_columns=3, columns_doc="a, b[, c]", fill=-1)
    np.testing.assert_array_equal(table.values, [[1, 2, -1], [NAN, NAN, 3]])


@pytest.mark.parametrize(
    "bad_line, match",
    [
        ("1,2,3", "expected 4 numbers"),
        ("1,2,3,4,5", "expected 4 numbers"),
        ("1,2,x,4", "expected numbers"),
        ("1,,3,4", "expected numbers"),
        ("1,2,inf,4", "infinite"),
    ],
)
def test_numeric_table_malformed_line_names_file_and_line(tmp_path, bad_line, match):
    path = write_text(tmp_path / "groundtruth.txt", f"1,2,3,4\n\n{bad_line}\n")
    with pytest.raises(ValueError, match=rf"groundtruth\.txt line 3: {match}"):
        read_numeric_table(path, min_columns=4, max_columns=4, columns_doc="x, y, w, h")


def test_numeric_table_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        read_numeric_table(tmp_path / "nope.txt", min_columns=1, max_columns=1, columns_doc="a")


def test_xywh_to_xyxy():
    np.testing.assert_array_equal(xywh_to_xyxy(np.array([[1.0, 2, 3, 4]])), [[1, 2, 4, 6]])


# ---- single object ---------------------------------------------------------------------------


def test_sot_boxes_absent_rows(tmp_path):
    path = write_text(
        tmp_path / "groundtruth_rect.txt",
        "10,20,5,6\nNaN,NaN,NaN,NaN\n0,0,0,0\n3\t4\t0\t7\n1 2 3 4\n",
    )
    boxes_xyxy, present = read_sot_boxes(path)
    assert present.tolist() == [True, False, False, False, True]
    np.testing.assert_array_equal(boxes_xyxy[0], [10, 20, 15, 26])
    np.testing.assert_array_equal(boxes_xyxy[4], [1, 2, 4, 6])
    assert np.isnan(boxes_xyxy[1:4]).all()


def test_sot_sequence_with_img_folder(tmp_path):
    seq = tmp_path / "bike1"
    write_frames(seq / "img", ["0001.jpg", "0002.jpg", "0003.jpg"])
    write_text(seq / "groundtruth_rect.txt", "1,1,2,2\n2\t2\t2\t2\nNaN,NaN,NaN,NaN\n")
    sequence = read_sot_sequence(seq)
    assert (sequence.name, sequence.frames, sequence.num_frames) == ("bike1", seq / "img", 3)
    assert sequence.present.tolist() == [True, True, False]
    np.testing.assert_array_equal(sequence.boxes_xyxy[1], [2, 2, 4, 4])


def test_sot_sequence_got10k_style_with_absence_label(tmp_path):
    seq = tmp_path / "GOT-10k_Val_000001"
    write_frames(seq, ["00000001.jpg", "00000002.jpg", "00000003.jpg"])
    write_text(seq / "groundtruth.txt", "1,1,2,2\n1,1,2,2\n1,1,2,2\n")
    write_text(seq / "absence.label", "0\n1\n0\n")
    sequence = read_sot_sequence(seq)
    assert sequence.frames == seq
    assert sequence.present.tolist() == [True, False, True]
    assert np.isnan(sequence.boxes_xyxy[1]).all()


def test_sot_sequence_with_video_file(tmp_path):
    seq = tmp_path / "antiuav_clip"
    seq.mkdir()
    with av.open(str(seq / "video.mp4"), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 16, 16, "yuv420p"
        for _ in range(4):
            frame = av.VideoFrame.from_ndarray(np.zeros((16, 16, 3), np.uint8), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    write_text(seq / "groundtruth_rect.txt", "1,1,2,2\n" * 4)
    sequence = read_sot_sequence(seq)
    assert (sequence.frames, sequence.num_frames) == (seq / "video.mp4", 4)
    write_text(seq / "groundtruth_rect.txt", "1,1,2,2\n" * 5)
    with pytest.raises(ValueError, match="has 5 boxes but .*video.mp4 has 4 frames"):
        read_sot_sequence(seq)


@pytest.mark.parametrize(
    "files, error, match",
    [
        ({"img/1.jpg": None, "groundtruth_rect.txt": "1,1,1,1\n" * 2}, ValueError, "2 boxes"),
        ({"img/1.jpg": None}, FileNotFoundError, "groundtruth_rect.txt"),
        ({"groundtruth.txt": "1,1,1,1\n"}, FileNotFoundError, "no frames"),
        (
            {"a.mp4": "x", "b.avi": "x", "groundtruth.txt": "1,1,1,1\n"},
            ValueError,
            "several videos",
        ),
        ({"img/1.jpg": None, "groundtruth.txt": "1;1;1;1\n"}, ValueError, "line 1"),
    ],
)
def test_sot_sequence_errors(tmp_path, files, error, match):
    seq = tmp_path / "seq"
    seq.mkdir()
    for name, text in files.items():
        if text is None:
            write_frames((seq / name).parent, [(seq / name).name])
        else:
            write_text(seq / name, text)
    with pytest.raises(error, match=match):
        read_sot_sequence(seq)


def test_sot_sequence_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        read_sot_sequence(tmp_path / "nowhere")


# ---- MOTChallenge ----------------------------------------------------------------------------

MOT_GT = """\
1,1,10,20,5,6,1,1,0.75
1,2,0,0,2,2,0,7,1.0
3,1,11,21,5,6,1,1,0.5
"""


def test_read_mot_gt_file(tmp_path):
    annotations = read_mot_file(write_text(tmp_path / "gt.txt", MOT_GT))
    assert annotations.num_frames == 3
    assert annotations.ids[0].tolist() == [1, 2]
    np.testing.assert_array_equal(annotations.boxes_xyxy[0], [[10, 20, 15, 26], [0, 0, 2, 2]])
    assert annotations.confidences[0].tolist() == [1.0, 0.0]
    assert annotations.class_ids[0].tolist() == [1, 7]
    assert annotations.visibilities[2].tolist() == [0.5]
    assert annotations.ids[1].shape == (0,) and annotations.boxes_xyxy[1].shape == (0, 4)
    assert annotations.ids[0].dtype == np.int64


def test_read_mot_result_file_with_fillers_and_unsorted_frames(tmp_path):
    text = "2,5,1,1,2,2,0.9\n1,4,0,0,1,1,0.8,-1,-1,-1\n2,6,3,3,1,1,0.7,-1,-1\n"
    annotations = read_mot_file(write_text(tmp_path / "res.txt", text), num_frames=4)
    assert annotations.num_frames == 4
    assert [a.tolist() for a in annotations.ids] == [[4], [5, 6], [], []]
    assert annotations.confidences[1].tolist() == [0.9, 0.7]
    assert annotations.class_ids[1].tolist() == [-1, -1]
    assert annotations.visibilities[1].tolist() == [-1.0, -1.0]


@pytest.mark.parametrize(
    "text, num_frames, match",
    [
        ("0,1,1,1,1,1,1\n", None, "line 1: frame number"),
        ("1,1,1,1,1,1,1\n1,1.5,1,1,1,1,1\n", None, "line 2: id"),
        ("1,1,1,1,1,1,1\n5,1,1,1,1,1,1\n", 3, "line 2: frame 5 is past the sequence's 3"),
        ("1,1,1,1,1,1\n", None, "expected 7 to 10 numbers"),
    ],
)
def test_read_mot_file_errors(tmp_path, text, num_frames, match):
    with pytest.raises(ValueError, match=match):
        read_mot_file(write_text(tmp_path / "gt.txt", text), num_frames)


SEQINFO = """\
[Sequence]
name=MOT17-99-TEST
imDir=img1
frameRate=30
seqLength=3
imWidth=10
imHeight=8
imExt=.jpg
"""


def test_read_mot_sequence_with_seqinfo(tmp_path):
    seq = tmp_path / "MOT17-99"
    write_frames(seq / "img1", ["000001.jpg", "000002.jpg", "000003.jpg"])
    write_text(seq / "seqinfo.ini", SEQINFO)
    write_text(seq / "gt" / "gt.txt", "2,1,1,1,2,2,1,1,1\n")
    sequence = read_mot_sequence(seq)
    assert (sequence.name, sequence.num_frames, sequence.fps) == ("MOT17-99-TEST", 3, 30.0)
    assert (sequence.width, sequence.height, sequence.frames_dir) == (10, 8, seq / "img1")
    assert sequence.gt.num_frames == 3
    assert [a.tolist() for a in sequence.gt.ids] == [[], [1], []]


def test_read_mot_sequence_annotations_only_and_without_seqinfo(tmp_path):
    only_gt = tmp_path / "trackeval_gt"
    write_text(only_gt / "seqinfo.ini", SEQINFO)
    sequence = read_mot_sequence(only_gt)
    assert sequence.frames_dir is None and sequence.gt is None and sequence.num_frames == 3
    no_info = tmp_path / "plain"
    write_frames(no_info / "img1", ["1.jpg", "2.jpg"], height=6, width=4)
    sequence = read_mot_sequence(no_info)
    assert (sequence.name, sequence.num_frames, sequence.width, sequence.height) == (
        "plain",
        2,
        4,
        6,
    )
    assert sequence.fps is None


@pytest.mark.parametrize(
    "seqinfo, frames, error, match",
    [
        (SEQINFO, ["1.jpg", "2.jpg"], ValueError, "seqLength=3 but .* holds 2 frames"),
        ("[Other]\nname=x\n", [], ValueError, r"no \[Sequence\] section"),
        (SEQINFO.replace("seqLength=3", "seqLength=three"), [], ValueError, "seqLength"),
        (SEQINFO.replace("imWidth=10\n", ""), [], ValueError, "lacks imWidth"),
        (None, None, FileNotFoundError, "neither seqinfo.ini nor img1"),
    ],
)
def test_read_mot_sequence_errors(tmp_path, seqinfo, frames, error, match):
    seq = tmp_path / "seq"
    seq.mkdir()
    if seqinfo is not None:
        write_text(seq / "seqinfo.ini", seqinfo)
    if frames:
        write_frames(seq / "img1", frames)
    with pytest.raises(error, match=match):
        read_mot_sequence(seq)


# ---- VisDrone-MOT ----------------------------------------------------------------------------

VISDRONE = """\
1,0,100,100,50,40,0,0,0,0
1,3,10,10,4,6,1,4,0,1
1,7,20,10,4,6,1,1,1,2
2,3,11,10,4,6,1,4,0,1
"""


def test_read_visdrone_separates_ignored_regions(tmp_path):
    annotations = read_visdrone_mot_file(write_text(tmp_path / "uav0001.txt", VISDRONE))
    assert annotations.num_frames == 2
    assert annotations.ids[0].tolist() == [3, 7]
    assert annotations.class_ids[0].tolist() == [4, 1]
    np.testing.assert_array_equal(annotations.boxes_xyxy[0][0], [10, 10, 14, 16])
    assert annotations.truncations[0].tolist() == [0, 1]
    assert annotations.occlusions[0].tolist() == [1, 2]
    np.testing.assert_array_equal(annotations.ignored_boxes_xyxy[0], [[100, 100, 150, 140]])
    assert annotations.ignored_boxes_xyxy[1].shape == (0, 4)


def test_read_visdrone_result_without_truncation(tmp_path):
    path = write_text(tmp_path / "res.txt", "1,3,10,10,4,6,0.9,4\n")
    annotations = read_visdrone_mot_file(path, num_frames=2)
    assert annotations.scores[0].tolist() == [0.9]
    assert annotations.truncations[0].tolist() == [-1]
    assert annotations.occlusions[0].tolist() == [-1]
    assert annotations.ids[1].shape == (0,)


def test_read_visdrone_bad_category(tmp_path):
    path = write_text(tmp_path / "res.txt", "1,3,10,10,4,6,1,4,0,0\n1,4,10,10,4,6,1,12,0,0\n")
    with pytest.raises(ValueError, match="line 2: category must be 0..11"):
        read_visdrone_mot_file(path)


# ---- DAVIS -----------------------------------------------------------------------------------


def davis_labels():
    """Three 4x5 palette label maps: objects 1 and 3, a void pixel, object 3 gone in frame 2."""
    labels = np.zeros((3, 4, 5), np.uint8)
    labels[:, 0, 0] = 1
    labels[0:2, 2, 1:3] = 3
    labels[0, 3, 4] = 255
    return labels


def test_read_davis_palette_masks(tmp_path):
    labels = davis_labels()
    for t in range(3):
        write_palette_png(tmp_path / "masks" / f"{t:05d}.png", labels[t])
    result = read_davis_masks(tmp_path / "masks")
    assert result.object_ids.tolist() == [1, 3]
    assert result.frame_names == ["00000", "00001", "00002"]
    assert result.masks.shape == (3, 2, 4, 5) and result.masks.dtype == bool
    np.testing.assert_array_equal(result.masks[:, 0], labels == 1)
    np.testing.assert_array_equal(result.masks[:, 1], labels == 3)
    assert not result.masks[2, 1].any()
    assert not result.masks[0, :, 3, 4].any()  # void is no object


def test_read_davis_binary_masks(tmp_path):
    grey = np.zeros((4, 5), np.uint8)
    grey[1:3, 2:4] = 255
    Image.fromarray(grey).save(tmp_path / "0.png")
    Image.fromarray(np.zeros((4, 5), np.uint8)).save(tmp_path / "1.png")
    Image.fromarray(np.stack([grey] * 3, axis=-1)).save(tmp_path / "2.png")  # grey as RGB
    result = read_davis_masks(tmp_path)
    assert result.object_ids.tolist() == [1]
    np.testing.assert_array_equal(result.masks[:, 0], [grey == 255, grey > 255, grey == 255])


def test_read_davis_masks_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing"):
        read_davis_masks(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no PNG masks"):
        read_davis_masks(tmp_path / "empty")
    sizes = tmp_path / "sizes"
    write_palette_png(sizes / "0.png", np.zeros((4, 5)))
    write_palette_png(sizes / "1.png", np.zeros((4, 6)))
    with pytest.raises(ValueError, match=r"1\.png is 6x4"):
        read_davis_masks(sizes)
    colour = tmp_path / "colour"
    colour.mkdir()
    Image.fromarray(np.full((4, 5, 3), (255, 0, 0), np.uint8)).save(colour / "0.png")
    with pytest.raises(ValueError, match="colour image"):
        read_davis_masks(colour)
    broken = tmp_path / "broken"
    write_text(broken / "0.png", "not a png")
    with pytest.raises(ValueError, match="cannot read mask"):
        read_davis_masks(broken)


@pytest.mark.parametrize(
    "frames_dir, masks_dir, name",
    [
        ("JPEGImages/480p/cows", "Annotations/480p/cows", "cows"),
        ("JPEGImages/cows", "Annotations/cows", "cows"),
        ("JPEGImages", "Annotations", None),
    ],
)
def test_read_davis_sequence_layouts_and_sparse_masks(tmp_path, frames_dir, masks_dir, name):
    root = tmp_path / "davis"
    write_frames(root / frames_dir, ["00000.jpg", "00001.jpg", "00002.jpg"], height=4, width=5)
    labels = davis_labels()
    for t in (2, 0):  # frame 1 has no mask
        write_palette_png(root / masks_dir / f"{t:05d}.png", labels[t])
    sequence = read_davis_sequence(root, name)
    assert sequence.name == (name or "davis")
    assert (sequence.frames, sequence.num_frames) == (root / frames_dir, 3)
    assert sequence.annotated_frames.tolist() == [0, 2]
    assert sequence.object_ids.tolist() == [1, 3]
    np.testing.assert_array_equal(sequence.masks[1, 0], labels[2] == 1)


def test_read_davis_sequence_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="tried"):
        read_davis_sequence(tmp_path, "cows")
    write_frames(tmp_path / "JPEGImages", ["00000.jpg"], height=4, width=5)
    write_palette_png(tmp_path / "Annotations" / "00007.png", np.zeros((4, 5)))
    with pytest.raises(ValueError, match="00007.png has no frame"):
        read_davis_sequence(tmp_path)
    (tmp_path / "Annotations" / "00007.png").unlink()
    write_palette_png(tmp_path / "Annotations" / "00000.png", np.zeros((3, 5)))
    with pytest.raises(ValueError, match="5x3 .* but frames .* are 5x4"):
        read_davis_sequence(tmp_path)
