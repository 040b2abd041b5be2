"""Per-step detector scores on a tiny model: ranges, the selection bound, bad input."""

import dataclasses
import math

import pytest
import torch

from sam2_enhanced.build import build_model
from sam2_enhanced.data.synthetic import SyntheticVideoConfig
from sam2_enhanced.training.proposal_quality import proposal_quality, top_overlaps

DATA = SyntheticVideoConfig(
    height=56, width=56, num_frames=3, max_objects=2, min_object_size=8, max_object_size=20
)


@pytest.mark.parametrize("level", ["tokens", "highres"])
def test_scores_are_in_range_and_selection_cannot_beat_all_proposals(tiny_cfg, level):
    cfg = dataclasses.replace(
        tiny_cfg, decoder=dataclasses.replace(tiny_cfg.decoder, proposal_level=level)
    )
    model = build_model(cfg).train()
    result = proposal_quality(model, DATA, num_videos=2, frame_stride=2)
    assert model.training  # restored
    assert result.num_frames == 2 * 2 and result.num_objects > 0
    assert 0.0 <= result.selected_recall <= result.proposal_recall <= 1.0
    for value in (
        result.rank_auc,
        result.proposal_ap50,
        result.decoder_ap50,
        result.refined_ap50,
        result.top_localized,
    ):
        assert math.isnan(value) or 0.0 <= value <= 1.0
    assert math.isnan(result.top_size_ratio) or result.top_size_ratio > 0.0


GT = torch.tensor([[0.0, 0.0, 20.0, 20.0], [50.0, 50.0, 60.0, 60.0], [90.0, 0.0, 99.0, 9.0]])


def test_top_overlap_is_the_best_scoring_overlapping_detection_not_the_best_placed():
    dets = torch.tensor(
        [
            [0.0, 0.0, 10.0, 10.0],  # a quarter of object 0, scored highest
            [0.0, 0.0, 20.0, 20.0],  # object 0 exactly, lower score
            [51.0, 51.0, 61.0, 61.0],  # object 1, IoU 0.68
            [200.0, 200.0, 210.0, 210.0],  # background, scored above everything
        ]
    )
    scores = torch.tensor([0.9, 0.5, 0.4, 0.99])
    ious, ratios = top_overlaps(dets, scores, GT)
    # object 2 overlaps nothing and is left out
    assert ious.shape == ratios.shape == (2,)
    assert ious[0].item() == pytest.approx(0.25)
    assert ratios[0].item() == pytest.approx(0.5)
    assert ious[1].item() == pytest.approx(81 / 119)
    assert ratios[1].item() == pytest.approx(1.0)


@pytest.mark.parametrize(("num_dets", "num_gt"), [(0, 3), (2, 0), (0, 0)])
def test_top_overlaps_of_nothing_are_empty(num_dets, num_gt):
    dets = torch.tensor([[0.0, 0.0, 20.0, 20.0], [5.0, 5.0, 9.0, 9.0]])[:num_dets]
    ious, ratios = top_overlaps(dets, torch.ones(num_dets), GT[:num_gt])
    assert ious.numel() == ratios.numel() == 0


@pytest.mark.parametrize(("videos", "stride"), [(0, 1), (1, 0)])
def test_bad_counts_are_refused(tiny_model, videos, stride):
    with pytest.raises(ValueError, match="must be >= 1"):
        proposal_quality(tiny_model, DATA, num_videos=videos, frame_stride=stride)
