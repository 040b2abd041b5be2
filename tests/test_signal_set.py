"""Combined significance signals (``memory_bank.significance = "a+b"``)."""

import numpy as np
import pytest
import torch

from sam2_enhanced.modeling.signal_set import (
    NOMINAL_SCALES,
    SignalSet,
    combine_scores,
    signal_names,
)
from sam2_enhanced.modeling.significance import SIGNALS


def test_every_signal_has_a_nominal_scale():
    assert set(NOMINAL_SCALES) == set(SIGNALS)
    assert all(scale > 0 for scale in NOMINAL_SCALES.values())


def test_single_signal_scores_raw():
    prev = np.zeros((4, 4), bool)
    cur = prev.copy()
    cur[:2] = True
    prev[:1] = True
    signals = SignalSet.parse("mask_iou_change")
    assert signals.score({"mask": (prev, cur)}) == pytest.approx(0.5)  # 1 - 4/8, not scaled
    assert signals.score({}) is None


def test_combination_is_max_of_normalised_scores():
    prev = np.zeros((4, 4), bool)
    prev[:1] = True
    cur = prev.copy()
    cur[:2] = True
    frame = np.full((16, 16), 100, np.uint8)
    brighter = frame + 20  # frame_difference = 20 / 255
    signals = SignalSet.parse("mask_iou_change + frame_difference")
    assert signals.names == ("mask_iou_change", "frame_difference")
    expected = max(0.5 / NOMINAL_SCALES["mask_iou_change"],
                   (20 / 255) / NOMINAL_SCALES["frame_difference"])  # fmt: skip
    assert signals.score({"mask": (prev, cur), "frame": (frame, brighter)}) == pytest.approx(
        expected
    )
    only_mask = signals.score({"mask": (prev, cur)})  # no frame yet: the mask signal alone
    assert only_mask == pytest.approx(0.5 / NOMINAL_SCALES["mask_iou_change"])
    assert signals.needs("frame") and signals.needs("mask") and not signals.needs("feature")


def test_combine_scores():
    assert combine_scores({"feature_change": None}) is None
    assert combine_scores({"feature_change": 0.2, "mask_iou_change": None}) == pytest.approx(2.0)


def test_feature_signal_accepts_tensors():
    signals = SignalSet.parse("feature_change")
    feat = torch.ones(2, 3, 3)
    assert signals.score({"feature": (feat, feat)}) == pytest.approx(0.0)


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ("nope", ValueError),
        ("feature_change+", ValueError),
        ("feature_change+feature_change", ValueError),
        ("", ValueError),
        (None, TypeError),
    ],
)
def test_bad_names(spec, error):
    with pytest.raises(error):
        signal_names(spec)
