"""Per-step detector scores on a tiny model: ranges, the selection bound, bad input."""

import dataclasses
import math

import pytest

from sam2_enhanced.build import build_model
from sam2_enhanced.data.synthetic import SyntheticVideoConfig
from sam2_enhanced.evaluation.proposal_quality import proposal_quality

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
    for value in (result.rank_auc, result.proposal_ap50, result.decoder_ap50, result.refined_ap50):
        assert math.isnan(value) or 0.0 <= value <= 1.0


@pytest.mark.parametrize(("videos", "stride"), [(0, 1), (1, 0)])
def test_bad_counts_are_refused(tiny_model, videos, stride):
    with pytest.raises(ValueError, match="must be >= 1"):
        proposal_quality(tiny_model, DATA, num_videos=videos, frame_stride=stride)
