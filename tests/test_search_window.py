"""Search-window geometry (modeling/search_window.py): placement, crop / paste, coordinate maps,
motion, and bad input."""

import pytest
import torch

from sam2_enhanced.modeling.search_window import (
    ObjectMotion,
    crop_windows,
    fit_inside,
    grow_windows,
    main_component,
    mask_boxes,
    next_windows,
    paste_windows,
    remap_logits,
    square_windows,
    to_frame_coords,
    to_window_coords,
    windows_around_boxes,
)


@pytest.mark.parametrize(
    ("box", "frame_hw", "expected"),
    [
        ([40, 40, 60, 60], (200, 200), [10, 10, 90, 90]),  # 4 x 20 px around the centre
        ([40, 40, 42, 42], (200, 200), [17, 17, 65, 65]),  # tiny object: the 48 px minimum
        ([0, 0, 100, 50], (60, 120), [-10, -35, 110, 85]),  # large object: at most the frame
        ([190, 190, 210, 210], (200, 200), [160, 160, 240, 240]),  # may reach outside
    ],
)
def test_windows_around_boxes(box, frame_hw, expected):
    windows = windows_around_boxes(
        torch.tensor([box], dtype=torch.float32), frame_hw, search_scale=4.0, min_side=48.0
    )
    assert windows.tolist() == [expected]


@pytest.mark.parametrize(
    ("box", "error"),
    [
        ([float("nan"), 0, 10, 10], "finite"),
        ([0, 0, float("inf"), 10], "finite"),
        ([0, 0, 10], r"shape \(N, 4\)"),
    ],
)
def test_bad_boxes_raise(box, error):
    with pytest.raises(ValueError, match=error):
        windows_around_boxes(torch.tensor([box]), (100, 100), search_scale=4.0, min_side=48.0)


def test_zero_size_box_gets_the_minimum_window_and_far_centres_are_clamped():
    windows = windows_around_boxes(
        torch.tensor([[10.0, 10.0, 10.0, 10.0]]), (100, 100), search_scale=4.0, min_side=32.0
    )
    assert windows.tolist() == [[-6, -6, 26, 26]]
    far = square_windows(torch.tensor([[1e6, -1e6]]), torch.tensor([20.0]), (50, 80), min_side=8)
    assert far.tolist() == [[70, -10, 90, 10]]  # centre clamped onto the frame's corner


def test_crop_then_paste_is_identity_on_the_window_and_fill_outside():
    frame = torch.arange(40 * 60, dtype=torch.float32).reshape(1, 40, 60)
    windows = torch.tensor([[10.0, 5.0, 30.0, 25.0], [-10.0, -10.0, 10.0, 10.0]])
    crops = crop_windows(frame, windows, out_size=20)  # 20 px windows at 20 px: no resampling
    assert crops.shape == (2, 1, 20, 20)
    torch.testing.assert_close(crops[0, 0], frame[0, 5:25, 10:30])
    assert (crops[1, 0, :10, :] == 0).all() and (crops[1, 0, 10:, :10] == 0).all()  # padding
    torch.testing.assert_close(crops[1, 0, 10:, 10:], frame[0, :10, :10])
    pasted = paste_windows(crops, windows, (40, 60), fill=-5.0)
    torch.testing.assert_close(pasted[0, 0, 5:25, 10:30], frame[0, 5:25, 10:30])
    assert (pasted[0, 0, :5] == -5).all() and (pasted[1, 0, 10:, :] == -5).all()


def test_crop_of_a_uint8_frame_is_float_and_shrinks_with_antialias():
    frame = torch.zeros(3, 100, 100, dtype=torch.uint8)
    frame[:, ::2] = 255  # one-pixel stripes: aliasing would give 0 or 255 rows
    crops = crop_windows(frame, torch.tensor([[0.0, 0.0, 100.0, 100.0]]), out_size=10)
    assert crops.dtype == torch.float32
    assert torch.allclose(crops, torch.full_like(crops, 127.5), atol=15)


def test_crop_of_no_channels_is_empty():
    crops = crop_windows(torch.zeros(0, 10, 10), torch.tensor([[0.0, 0.0, 5.0, 5.0]]), 8)
    assert crops.shape == (1, 0, 8, 8)


def test_bad_window_raises():
    with pytest.raises(ValueError, match="at least 1 px"):
        crop_windows(torch.zeros(1, 10, 10), torch.tensor([[5.0, 5.0, 5.0, 9.0]]), 8)


def test_coordinate_maps_are_inverse():
    windows = torch.tensor([[10.0, 20.0, 50.0, 60.0], [-8.0, 0.0, 24.0, 32.0]])
    points = torch.tensor([[[10.0, 20.0], [50.0, 60.0]], [[0.0, 0.0], [8.0, 16.0]]])
    inside = to_window_coords(points, windows, out_size=224)
    assert inside[0].tolist() == [[0.0, 0.0], [224.0, 224.0]]
    assert inside[1].tolist() == [[56.0, 0.0], [112.0, 112.0]]
    torch.testing.assert_close(to_frame_coords(inside, windows, out_size=224), points)


def test_remap_moves_a_mask_with_its_window():
    logits = torch.full((1, 1, 16, 16), -10.0)
    logits[0, 0, 4:8, 4:8] = 10.0  # object at video x, y 4..8 in a window at the origin
    old = torch.tensor([[0.0, 0.0, 16.0, 16.0]])
    new = torch.tensor([[4.0, 4.0, 20.0, 20.0]])  # moved by 4 px: object now at 0..4
    moved = remap_logits(logits, old, new, fill=-10.0)
    assert (moved[0, 0, :4, :4] > 0).all() and (moved[0, 0, 5:, :] < 0).all()
    assert (moved[0, 0, 13:, 13:] == -10).all()  # outside the old window: fill
    torch.testing.assert_close(remap_logits(logits, old, old, fill=-10.0), logits)


def test_motion_predicts_constant_velocity_and_grows_when_lost():
    motion = ObjectMotion.start(torch.tensor([0.0, 0.0, 10.0, 10.0]))
    motion.update(torch.tensor([10.0, 0.0, 20.0, 10.0]), momentum=0.0)  # moved 10 px right
    kwargs = dict(search_scale=2.0, min_side=4.0, max_side_frac=1.0, lost_growth=2.0)
    window = next_windows([motion], (100, 100), use_velocity=True, **kwargs)
    assert window.tolist() == [[15.0, -5.0, 35.0, 15.0]]  # centre 25, 5; side 20
    still = next_windows([motion], (100, 100), use_velocity=False, **kwargs)
    assert still.tolist() == [[5.0, -5.0, 25.0, 15.0]]
    motion.update(None, momentum=0.0)  # lost: two frames on, window twice as large
    lost = next_windows([motion], (100, 100), use_velocity=True, **kwargs)
    assert lost.tolist() == [[15.0, -15.0, 55.0, 25.0]]  # centre 35, 5; side 40
    motion.update(torch.tensor([60.0, 60.0, 70.0, 70.0]), momentum=0.0)  # found after a jump
    assert motion.lost_frames == 0 and motion.velocity_xy.tolist() == [0.0, 0.0]


def test_side_factor_scales_an_objects_window():
    motion = ObjectMotion.start(torch.tensor([40.0, 40.0, 50.0, 50.0]))
    kwargs = dict(search_scale=4.0, min_side=4.0, max_side_frac=1.0, lost_growth=2.0)
    assert next_windows([motion], (100, 100), use_velocity=False, **kwargs).tolist() == [
        [25.0, 25.0, 65.0, 65.0]]  # fmt: skip
    motion.side_factor = 0.5  # a static object: half the side, same centre
    assert next_windows([motion], (100, 100), use_velocity=False, **kwargs).tolist() == [
        [35.0, 35.0, 55.0, 55.0]]  # fmt: skip


def test_mask_boxes_of_empty_and_full_masks():
    masks = torch.zeros(2, 8, 8, dtype=torch.bool)
    masks[1, 2:4, 3:7] = True
    boxes = mask_boxes(masks)
    assert boxes[0] is None and boxes[1].tolist() == [3.0, 2.0, 7.0, 4.0]


def test_main_component_keeps_the_part_with_the_highest_logit():
    logits = torch.full((1, 8, 8), -5.0)
    logits[0, 0:2, 0:2] = 3.0  # a larger blob
    logits[0, 5:7, 5:7] = 2.0
    logits[0, 6, 6] = 9.0  # the peak is in the smaller blob
    kept = main_component(logits, fill=-100.0)
    assert (kept[0, 5:7, 5:7] > 0).all() and (kept[0, 0:2, 0:2] == -100).all()
    assert (kept[0][logits[0] <= 0] == -5).all()  # background untouched
    single = torch.full((1, 4, 4), -1.0)
    single[0, 1, 1:3] = 1.0
    assert main_component(single, fill=-100.0) is single  # one part: nothing to drop


def test_centre_prior_prefers_the_part_near_the_centre():
    logits = torch.full((1, 16, 16), -5.0)
    logits[0, 0:3, 13:16] = 9.0  # a confident look-alike in the corner
    logits[0, 7:9, 7:9] = 4.0  # the object, less confident, at the centre
    assert (main_component(logits, -100.0, centre_prior=0.0)[0, 7:9, 7:9] == -100).all()
    kept = main_component(logits, -100.0, centre_prior=0.5)
    assert (kept[0, 7:9, 7:9] == 4).all() and (kept[0, 0:3, 13:16] == -100).all()


@pytest.mark.parametrize(
    "window, factor, expected",
    [
        ([10.0, 20.0, 30.0, 40.0], 2.0, [0.0, 10.0, 40.0, 50.0]),
        ([10.0, 20.0, 30.0, 40.0], 1.0, [10.0, 20.0, 30.0, 40.0]),
        ([-5.0, -5.0, 5.0, 5.0], 3.0, [-15.0, -15.0, 15.0, 15.0]),
    ],
)
def test_grow_windows_keeps_the_centre(window, factor, expected):
    grown = grow_windows(torch.tensor([window]), factor)
    assert grown[0].tolist() == expected


@pytest.mark.parametrize("factor", [0.0, -1.0])
def test_grow_windows_rejects_non_positive_factors(factor):
    with pytest.raises(ValueError, match="factor must be > 0"):
        grow_windows(torch.tensor([[0.0, 0.0, 4.0, 4.0]]), factor)


@pytest.mark.parametrize(
    "window, region, expected",
    [
        ([10.0, 10.0, 20.0, 20.0], [0.0, 0.0, 40.0, 40.0], [10.0, 10.0, 20.0, 20.0]),  # inside
        ([35.0, -5.0, 45.0, 5.0], [0.0, 0.0, 40.0, 40.0], [30.0, 0.0, 40.0, 10.0]),  # shifted
        ([-10.0, -10.0, 70.0, 70.0], [0.0, 0.0, 40.0, 40.0], [0.0, 0.0, 40.0, 40.0]),  # shrunk
    ],
)
def test_fit_inside_shifts_and_shrinks_into_the_region(window, region, expected):
    fitted = fit_inside(torch.tensor([window]), torch.tensor([region]))
    assert fitted[0].tolist() == expected


def test_fit_inside_rejects_nan():
    with pytest.raises(ValueError, match="finite"):
        fit_inside(torch.tensor([[0.0, 0.0, float("nan"), 4.0]]), torch.tensor([[0.0] * 4]))
