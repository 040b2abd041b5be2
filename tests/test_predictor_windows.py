"""The predictor's search windows: where each prompt's window goes, masks pasted back at video
resolution, windows that move with the object, the whole-frame mode, and bad input."""

import numpy as np
import pytest
import torch

from sam2_enhanced import build_predictor, load_config
from sam2_enhanced.modeling.sam_mask_head import NO_OBJ_SCORE

H, W, T = 96, 160, 4


def make_predictor(**window):
    torch.manual_seed(0)
    cfg = load_config("tiny")
    for key, value in window.items():
        setattr(cfg.search_window, key, value)
    return build_predictor(cfg, device="cpu")


@pytest.fixture(scope="module")
def predictor():
    return make_predictor()


@pytest.fixture(scope="module")
def video():
    rng = np.random.default_rng(0)
    return rng.integers(0, 255, size=(T, H, W, 3), dtype=np.uint8)


def test_box_prompt_gets_a_window_around_the_box_and_background_outside(predictor, video):
    state = predictor.init_state(video)
    _, _, masks, _ = predictor.add_new_points_or_box(state, 0, 1, box=[70, 40, 78, 48])
    result = state.objects[1].cond_results[0]
    # 8 px box: 4 x 8 = 32 px is below the 48 px minimum side; centred on (74, 44)
    assert result.window_xyxy.tolist() == [50.0, 20.0, 98.0, 68.0]
    assert masks.shape == (1, 1, H, W)
    outside = torch.ones(H, W, dtype=torch.bool)
    outside[20:68, 50:98] = False
    assert (masks[0, 0][outside] == NO_OBJ_SCORE).all()
    assert (masks[0, 0][~outside] != NO_OBJ_SCORE).any()


def test_prompt_coordinates_are_in_window_pixels(predictor, video):
    state = predictor.init_state(video)
    predictor.add_new_points_or_box(state, 0, 1, box=[70, 40, 78, 48])
    prompt = state.objects[1].prompts[0]
    scale = predictor.image_size / 48
    expected = torch.tensor([[20.0, 20.0], [28.0, 28.0]]) * scale  # box corners in the window
    torch.testing.assert_close(prompt.point_coords, expected)


def test_clicks_get_a_default_window_and_masks_get_one_around_their_box(predictor, video):
    state = predictor.init_state(video)
    predictor.add_new_points_or_box(state, 0, 1, points=[[100, 50]], labels=[1])
    window = state.objects[1].cond_results[0].window_xyxy
    side = max(0.25 * (H * W) ** 0.5, 48)  # click_side_frac of sqrt(H * W), >= min_side
    assert window[2] - window[0] == pytest.approx(round(side))
    assert ((window[:2] + window[2:]) / 2).tolist() == pytest.approx([100, 50], abs=1)
    mask = np.zeros((H, W), dtype=bool)
    mask[10:30, 20:40] = True  # 20 px: window 80 px around (30, 20)
    predictor.add_new_mask(state, 1, 2, mask)
    assert state.objects[2].cond_results[1].window_xyxy.tolist() == [-10.0, -20.0, 70.0, 60.0]
    prompt_mask = state.objects[2].prompts[1].mask  # (1, m, m) over the window
    m = predictor.model.mask_size
    assert prompt_mask.shape == (1, m, m)
    inside = prompt_mask[0] > 0.5
    rows, cols = torch.nonzero(inside, as_tuple=True)
    # the mask covers the window's middle quarter of each side (cells m/4 .. m/2 + m/4)
    assert rows.min() == pytest.approx(m * 30 / 80, abs=1) and cols.min() == pytest.approx(
        m * 30 / 80, abs=1
    )


def test_tracked_windows_are_centred_on_the_last_box_without_velocity(video, monkeypatch):
    predictor = make_predictor(motion_model="static")
    state = predictor.init_state(video)
    predictor.add_new_points_or_box(state, 0, 1, box=[70, 40, 78, 48])
    seen = []
    planner = predictor.windows
    original = planner.tracking_windows

    def spy(motions, frame_hw):
        windows = original(motions, frame_hw)
        if motions:  # the prompted frame tracks nothing
            seen.append((motions[0].box_xyxy.clone(), windows.clone()))
        return windows

    monkeypatch.setattr(planner, "tracking_windows", spy)
    list(predictor.propagate_in_video(state))
    assert len(seen) == T - 1
    for box, windows in seen:  # centred on the last box seen (whole pixels: within 1 px)
        centre = (windows[0, :2] + windows[0, 2:]) / 2
        assert (centre - (box[:2] + box[2:]) / 2).abs().max() <= 1


def test_whole_frame_mode_squashes_the_frame_as_sam2():
    predictor = make_predictor(use_search_window=False)
    video = np.zeros((2, H, W, 3), dtype=np.uint8)
    state = predictor.init_state(video)
    predictor.add_new_points_or_box(state, 0, 1, box=[70, 40, 78, 48])
    assert state.objects[1].cond_results[0].window_xyxy.tolist() == [0.0, 0.0, W, H]
    outputs = list(predictor.propagate_in_video(state))
    assert len(outputs) == 2 and outputs[1][2].shape == (1, 1, H, W)


@pytest.mark.parametrize(
    ("box", "error"),
    [
        ([float("nan"), 0, 10, 10], ValueError),
        ([10, 10, 10, 20], ValueError),  # zero width
        ([10, 10, 5, 20], ValueError),
    ],
)
def test_bad_boxes_raise_before_any_state_change(predictor, video, box, error):
    state = predictor.init_state(video)
    with pytest.raises(error):
        predictor.add_new_points_or_box(state, 0, 1, box=box)
    assert state.objects == {}


def test_box_wholly_outside_the_frame_is_refused_and_partly_outside_clipped(predictor, video):
    state = predictor.init_state(video)
    with pytest.raises(ValueError, match="wholly outside the 160x96 frame"):
        predictor.add_new_points_or_box(state, 0, 1, box=[500, 500, 520, 530])
    assert state.objects == {}
    with pytest.warns(UserWarning, match=r"clipped to \[150.0, 80.0, 160.0, 96.0\]"):
        predictor.add_new_points_or_box(state, 0, 1, box=[150, 80, 170, 100])
    assert state.objects[1].prompts[0].video_coords[:2].tolist() == [[150, 80], [160, 96]]
    outputs = list(predictor.propagate_in_video(state))
    assert len(outputs) == T


def test_mask_prompt_of_another_size_is_refused(predictor, video):
    state = predictor.init_state(video)
    with pytest.raises(ValueError, match="video's size"):
        predictor.add_new_mask(state, 0, 1, np.ones((H + 1, W), dtype=bool))


@pytest.mark.parametrize(("use_windows", "kept"), [(True, "centre"), (False, "corner")])
def test_kept_mask_part_uses_the_centre_prior_only_in_windows(video, use_windows, kept):
    predictor = make_predictor(use_search_window=use_windows)
    state = predictor.init_state(video)
    m = predictor.model.mask_size
    logits = torch.full((1, m, m), -5.0)
    logits[0, :3, -3:] = 9.0  # a confident part in the corner
    logits[0, m // 2 - 1 : m // 2 + 1, m // 2 - 1 : m // 2 + 1] = 4.0  # a weaker one at the centre
    result = predictor.keep_result(state, logits, torch.ones(1), torch.tensor([0, 0, 64, 64.0]))
    centre = result.mask_logits[0, m // 2, m // 2] > 0
    corner = result.mask_logits[0, 0, -1] > 0
    assert (centre, corner) == ((True, False) if kept == "centre" else (False, True))
