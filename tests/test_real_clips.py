"""Window clips cut from real sequence folders (training/real_clips.py) and their mixing with
synthetic clips (training/mixed_clips.py), on tiny fake sequences written to tmp_path."""

import cv2
import numpy as np
import pytest
import torch

from sam2_enhanced.config import SearchWindowConfig
from sam2_enhanced.data.clip_dataset import ClipSample, collate_clips
from sam2_enhanced.modeling.search_window import mask_boxes
from sam2_enhanced.training.config import TrainConfig, load_train_config
from sam2_enhanced.training.mixed_clips import MixedClipDataset, mix_choices
from sam2_enhanced.training.real_clips import REAL_CLASS_ID, RealWindowClipDataset
from sam2_enhanced.training.trainer import Trainer

S = 32
WIDTH, HEIGHT = 64, 48
NUM_FRAMES = 6
NAN_FRAME = 3  # 0-based frame whose ground-truth row of the box sequence is NaN


def target_box(t: int) -> tuple[int, int, int, int]:
    """x, y, w, h of the fake target on frame t: a 10x8 block moving right 3 px per frame."""
    return 10 + 3 * t, 14, 10, 8


def write_sequence(folder, *, masks: bool, nan_frame: int | None = None) -> None:
    (folder / "img").mkdir(parents=True)
    rows = []
    for t in range(NUM_FRAMES):
        x, y, w, h = target_box(t)
        image = np.full((HEIGHT, WIDTH, 3), 30, np.uint8)
        image[y : y + h, x : x + w] = 220
        cv2.imwrite(str(folder / "img" / f"{t + 1:06d}.jpg"), image)
        rows.append("NaN,NaN,NaN,NaN" if t == nan_frame else f"{x},{y},{w},{h}")
        if masks:
            (folder / "Annotations").mkdir(exist_ok=True)
            mask = np.zeros((HEIGHT, WIDTH), np.uint8)
            mask[y : y + h, x + 2 : x + w - 2] = 255  # narrower than the box: a true shape
            cv2.imwrite(str(folder / "Annotations" / f"{t:05d}.png"), mask)
    (folder / "groundtruth_rect.txt").write_text("\n".join(rows) + "\n")


@pytest.fixture
def root(tmp_path):
    write_sequence(tmp_path / "sot_boxes", masks=False, nan_frame=NAN_FRAME)
    write_sequence(tmp_path / "davis_masks", masks=True)
    return tmp_path


def dataset(root, **kwargs):
    args = dict(
        num_items=12,
        clip_len=3,
        seed=0,
        image_size=S,
        window=SearchWindowConfig(search_scale=3.0, min_side=16),
        centre_jitter=0.0,
        scale_jitter=0.0,
    )
    args.update(kwargs)
    return RealWindowClipDataset(root, **args)


def test_items_are_one_target_window_clips(root):
    data = dataset(root)
    kinds = set()
    for i in range(len(data)):
        item = data[i]
        assert item.frames.shape == (3, 3, S, S) and item.masks.shape == (3, 1, S, S)
        assert item.frames.min() >= 0.0 and item.frames.max() <= 1.0
        assert item.windows_xyxy.shape == (3, 4) and item.boxes_xyxy.shape == (3, 1, 4)
        assert item.trackable.tolist() == [True] and item.class_ids.tolist() == [REAL_CLASS_ID]
        assert not item.exhaustive
        assert item.visibility[0, 0] == 1.0  # clips start on a frame showing the target
        kinds.add(item.box_only)
        batch = collate_clips([item, item])
        assert batch.box_only.tolist() == [item.box_only] * 2
        assert batch.exhaustive.tolist() == [False, False]
    assert kinds == {True, False}  # both sequences are drawn


def test_items_are_deterministic_per_seed_and_index(root):
    first, again, other = dataset(root)[5], dataset(root)[5], dataset(root, seed=1)
    assert torch.equal(first.frames, again.frames)
    assert torch.equal(first.windows_xyxy, again.windows_xyxy)
    draws = [other[i].windows_xyxy for i in range(len(other))]
    assert any(not torch.equal(w, first.windows_xyxy) for w in draws)


def box_centre(box) -> torch.Tensor:
    x, y, w, h = box
    return torch.tensor([x + w / 2, y + h / 2])


def start_frame(item: ClipSample) -> int:
    """The frame a clip starts on: the one whose box centre is nearest frame 0's window's."""
    centre = (item.windows_xyxy[0, :2] + item.windows_xyxy[0, 2:]) / 2
    return min(
        range(NUM_FRAMES), key=lambda t: float((centre - box_centre(target_box(t))).abs().max())
    )


def test_windows_follow_the_previous_frames_box_and_masks_match_the_kind(root):
    data = dataset(root, num_items=30, clip_len=2)
    for i in range(len(data)):
        item = data[i]
        start = start_frame(item)
        windows = item.windows_xyxy
        centres = (windows[:, :2] + windows[:, 2:]) / 2  # (T, 2)
        # frame 0 around its own box, frame 1 around frame 0's (no jitter, 1 px rounding)
        assert (centres[0] - box_centre(target_box(start))).abs().max() <= 1.0
        assert (centres[1] - box_centre(target_box(start))).abs().max() <= 1.0
        box = mask_boxes(item.masks[0] > 0)[0]
        width = float(box[2] - box[0])
        side = float(windows[0, 2] - windows[0, 0])
        expected = 10 * S / side if item.box_only else 6 * S / side  # box or narrower mask
        assert width == pytest.approx(expected, abs=1.5)


def test_nan_rows_are_absent_frames_and_keep_the_last_window(root):
    data = dataset(root, num_items=60, clip_len=3, seed=3)
    seen = 0
    for i in range(len(data)):
        item = data[i]
        if not item.box_only:
            continue
        start = start_frame(item)
        centres = (item.windows_xyxy[:, :2] + item.windows_xyxy[:, 2:]) / 2
        if start + 1 == NAN_FRAME:  # frames start, NaN, start + 2
            seen += 1
            assert item.visibility[:, 0].tolist() == [1.0, 0.0, 1.0]
            assert item.masks[1].sum() == 0 and item.boxes_xyxy[1].abs().sum() == 0
            # frame start + 2 follows the last known box, that of frame start
            assert torch.allclose(centres[2], centres[1], atol=1.0)
        assert start != NAN_FRAME  # never starts where the target is absent
    assert seen > 0


def test_strides_reach_further_frames(root):
    data = dataset(root, num_items=40, clip_len=2, max_stride=3)
    steps = set()
    for i in range(len(data)):
        windows = data[i].windows_xyxy
        shift = float((windows[1, 0] + windows[1, 2] - windows[0, 0] - windows[0, 2]) / 2)
        steps.add(round(shift / 3))  # the box moves 3 px per frame; frame 1 follows frame 0
    assert steps == {0}  # window 1 is around frame 0's box whatever the stride
    frames = {
        int(round(float(data[i].boxes_xyxy[1, 0, 0] - data[i].boxes_xyxy[0, 0, 0])))
        for i in range(len(data))
    }
    assert len(frames) > 1  # but the target moves by different amounts: strides vary


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda tmp: tmp / "missing", "not found"),
        (lambda tmp: tmp, "no sequences found"),
    ],
)
def test_bad_folders_raise_file_not_found_naming_the_layout(tmp_path, make, message):
    with pytest.raises(FileNotFoundError, match=message) as error:
        dataset(make(tmp_path))
    assert "groundtruth_rect.txt" in str(error.value)


def test_a_mask_folder_must_have_one_mask_per_frame(root):
    (root / "davis_masks" / "Annotations" / "00000.png").unlink()
    with pytest.raises(ValueError, match="one mask per frame"):
        dataset(root)


def fake(value: float) -> ClipSample:
    return ClipSample(
        frames=torch.full((1, 3, 4, 4), value),
        boxes_xyxy=torch.zeros(1, 1, 4),
        masks=torch.zeros(1, 1, 4, 4),
        visibility=torch.ones(1, 1),
        class_ids=torch.zeros(1, dtype=torch.long),
        track_ids=torch.ones(1, dtype=torch.long),
        seed=0,
    )


class Constant(torch.utils.data.Dataset):
    def __init__(self, value: float, size: int) -> None:
        self.value, self.size = value, size

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> ClipSample:
        return fake(self.value)


@pytest.mark.parametrize("fraction", [0.0, 0.3, 1.0])
def test_mixing_takes_the_asked_share_deterministically(fraction):
    mixed = MixedClipDataset(Constant(0.0, 2000), Constant(1.0, 7), fraction, seed=4)
    share = np.mean([mixed[i].frames[0, 0, 0, 0].item() for i in range(len(mixed))])
    assert len(mixed) == 2000
    assert share == pytest.approx(fraction, abs=0.03)
    assert np.array_equal(mix_choices(2000, fraction, 4), mixed.from_second)


@pytest.mark.parametrize("fraction", [-0.1, 1.5])
def test_mixing_rejects_bad_fractions(fraction):
    with pytest.raises(ValueError, match="fraction"):
        MixedClipDataset(Constant(0.0, 4), Constant(1.0, 4), fraction, seed=0)


@pytest.mark.parametrize(
    "train, message",
    [
        ({"real_fraction": 1.5, "use_windows": True, "real_data_dir": "x"}, r"in \[0, 1\]"),
        ({"real_fraction": -0.1}, r"in \[0, 1\]"),
        ({"real_fraction": 0.3, "use_windows": True}, "needs train.real_data_dir"),
        ({"real_fraction": 0.3, "real_data_dir": "x"}, "use_windows"),
        ({"real_max_stride": 0}, "real_max_stride"),
        ({"box_projection_weight": -1.0}, "box_projection_weight"),
    ],
)
def test_real_data_settings_are_checked(train, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**train)


def test_the_real_data_recipe_loads():
    run = load_train_config("windows_real_finetune")
    assert run.train.real_fraction == 0.3 and run.train.use_windows
    assert run.train.real_data_dir == "../shared/data/train_real"


def test_the_trainer_mixes_real_window_clips_into_a_batch(root, tmp_path):
    overrides = [
        f"train.output_dir={tmp_path / 'run'}",
        "train.use_windows=true",
        "train.window_frame_sides=[64]",
        f"train.real_data_dir={root}",
        "train.real_fraction=0.5",
        "train.num_train_videos=16",
        "train.clip_len=2",
        "data.max_object_size=12",
    ]
    trainer = Trainer(load_train_config("train_tiny", overrides))
    data = trainer.train_dataset()
    assert isinstance(data, MixedClipDataset) and 0 < data.from_second.sum() < len(data)
    real = int(np.flatnonzero(data.from_second)[0])
    synthetic = int(np.flatnonzero(~data.from_second)[0])
    batch = collate_clips([data[real], data[synthetic]])
    assert batch.exhaustive.tolist() == [False, True]
    assert batch.frames.shape[-2:] == (trainer.model.image_size,) * 2
