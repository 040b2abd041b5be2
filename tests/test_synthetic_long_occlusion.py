"""Long occlusions of synthetic videos (``SyntheticVideoConfig.long_occlusion_frames``)."""

import numpy as np
import pytest

from sam2_enhanced.data.synthetic import SyntheticVideoConfig, generate_video
from sam2_enhanced.data.synthetic_long_occlusion import held_frame_index


def test_held_frame_index():
    assert held_frame_index(8, 2, 3).tolist() == [0, 1, 2, 2, 2, 3, 4, 5]
    assert held_frame_index(4, 2, 10).tolist() == [0, 1, 2, 2]


def _absent_runs(visible: np.ndarray) -> list[int]:
    runs, length = [], 0
    for v in visible:
        if v:
            if length:
                runs.append(length)
            length = 0
        else:
            length += 1
    return runs  # runs that ended (the object was seen again)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_occluded_object_hides_for_the_whole_span_and_comes_back(seed):
    cfg = SyntheticVideoConfig(
        height=64, width=64, num_frames=30, max_objects=1, max_object_size=16,
        prob_occlusion=1.0, long_occlusion_frames=10, prob_exit=0.0, prob_distractor=0.0,
        prob_camera_motion=1.0,
    )  # fmt: skip
    video = generate_video(seed, cfg)
    visible = video.visibility[:, 0] > 0
    assert max(_absent_runs(visible), default=0) >= 10
    assert not video.masks[~visible, 0].any()  # GT follows what is drawn


def test_off_by_default_and_other_effects_unchanged():
    assert SyntheticVideoConfig().long_occlusion_frames == 0
    cfg = SyntheticVideoConfig(num_frames=12, prob_occlusion=0.0)
    plain = generate_video(5, cfg)
    held = generate_video(5, SyntheticVideoConfig(num_frames=12, prob_occlusion=0.0,
                                                  long_occlusion_frames=6))  # fmt: skip
    np.testing.assert_array_equal(plain.frames, held.frames)  # nothing occluded: nothing held


@pytest.mark.parametrize("value", [-1, 2.5, True])
def test_bad_value(value):
    with pytest.raises(ValueError, match="long_occlusion_frames"):
        SyntheticVideoConfig(long_occlusion_frames=value)
