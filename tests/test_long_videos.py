"""The long-video yardstick's cases and the SOT ablation arms of `sam2e eval`."""

import pytest

from sam2_enhanced.cli.evaluate import ARMS, collect_cases, parse_methods
from sam2_enhanced.data.splits import split_seeds
from sam2_enhanced.evaluation.long_videos import LONG_FRAMES, LONG_SIZES, long_video_config


def test_long_cases_alternate_the_two_real_resolutions():
    refs = collect_cases("sot", None, 4, None, "val", long=True)
    seeds = list(split_seeds("val", 4))
    expected = [f"long-{LONG_SIZES[s % 2][1]}x{LONG_SIZES[s % 2][0]}-{s}" for s in seeds]
    assert [r.name for r in refs] == expected
    assert {r.name.split("-")[1] for r in refs} == {"640x512", "1280x720"}


def test_long_config_is_long_small_and_cluttered():
    cfg = long_video_config((720, 1280))
    assert cfg.num_frames == LONG_FRAMES >= 300
    assert (cfg.min_object_size, cfg.max_object_size) == (4, 24)
    assert cfg.prob_distractor > 0 and cfg.long_occlusion_frames >= 10 and cfg.prob_thermal > 0


@pytest.mark.parametrize(("task", "synthetic"), [("sot", None), ("mot", 3), ("vos", 3)])
def test_long_needs_sot_and_synthetic(task, synthetic):
    with pytest.raises(ValueError, match="--long"):
        collect_cases(task, ["x"] if synthetic is None else None, synthetic, None, long=True)


def test_arms_are_methods_but_not_run_by_default():
    assert parse_methods("ours-fused,csrt", "sot") == ["ours-fused", "csrt"]
    assert not set(ARMS) & set(parse_methods(None, "sot"))
    with pytest.raises(ValueError, match="unknown method"):
        parse_methods("ours-both", "sot")
