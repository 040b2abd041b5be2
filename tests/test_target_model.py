"""The online target model's correlation filter and features (pure tensor code, no network)."""

import math

import pytest
import torch
import torch.nn.functional as F

from sam2_enhanced.modeling.target_features import num_feature_channels, target_features
from sam2_enhanced.modeling.target_model import (
    CorrelationFilter,
    FilterState,
    augment_weights,
    augmented_copies,
    crop_patches,
    locate_peaks,
    patch_windows,
    scale_factors,
)

SEARCH_SCALE = 4.0
SIDE = 64


def make_filter(first_frame_share: float = 0.3) -> CorrelationFilter:
    return CorrelationFilter(
        search_scale=SEARCH_SCALE,
        template_side=SIDE,
        cell=2,
        num_orientations=9,
        label_sigma=0.1,
        reg=0.01,
        first_frame_share=first_frame_share,
    )


def background(seed: int = 0, height: int = 160, width: int = 200) -> torch.Tensor:
    """(3, H, W) float textured background in [60, 160]."""
    gen = torch.Generator().manual_seed(seed)
    noise = torch.rand(3, height, width, generator=gen) * 100 + 60
    return F.avg_pool2d(noise[None], 5, stride=1, padding=2)[0]


def with_target(image: torch.Tensor, cx: int, cy: int, colour=(230.0, 40.0, 40.0)):
    """(3, H, W) uint8 frame with an 8 x 6 px target centred at (cx, cy)."""
    frame = image.clone()
    frame[:, cy - 4 : cy + 4, cx - 3 : cx + 3] = torch.tensor(colour)[:, None, None]
    return frame.round().byte()


def patches_at(frame, centres, side=32.0, scales=(1.0,)):
    """(N, S, 3, P, P) patches of ``frame`` around (N, 2) centres."""
    centres = torch.tensor(centres, dtype=torch.float32)
    return torch.stack(
        [
            crop_patches(frame, patch_windows(centres, torch.full((len(centres),), side * s)), SIDE)
            for s in scales
        ],
        dim=1,
    )


def fit_at(cf, frame, centre, side=32.0):
    patch = patches_at(frame, [centre], side)[:, 0]  # (1, 3, P, P)
    copies = augmented_copies(patch)
    return cf.fit(copies, augment_weights(copies.shape[1]))


@pytest.mark.parametrize("shift", [(0, 0), (5, -3), (-6, 4), (3, 7)])
def test_filter_recovers_a_known_shift(shift):
    cf = make_filter()
    image = background()
    state = fit_at(cf, with_target(image, 100, 80), (100.0, 80.0))
    moved = with_target(image, 100 + shift[0], 80 + shift[1])
    located = locate_peaks(
        cf.respond(state, patches_at(moved, [(100.0, 80.0)])), torch.ones(1), 6.0
    )
    pixels_per_cell = 32.0 / SIDE * 2
    offset = located.offset_cells[0] * pixels_per_cell
    assert offset.tolist() == pytest.approx(list(map(float, shift)), abs=0.75)


def test_filter_responds_weakly_where_the_target_is_not():
    cf = make_filter()
    image = background(1)
    state = fit_at(cf, with_target(image, 100, 80), (100.0, 80.0))
    other = background(2)  # another scene, no target
    with_it = cf.respond(state, patches_at(with_target(other, 100, 80), [(100.0, 80.0)])).amax()
    without = cf.respond(state, patches_at(other.round().byte(), [(100.0, 80.0)])).amax()
    assert without < 0.5 * with_it


def test_scale_search_prefers_the_target_s_new_size():
    cf = make_filter()
    image = background(3)
    state = fit_at(cf, with_target(image, 100, 80), (100.0, 80.0))
    big = background(3)
    big[:, 72:88, 94:106] = torch.tensor([230.0, 40.0, 40.0])[:, None, None]  # 1.33x larger
    scales = scale_factors(5, 1.15)
    patches = patches_at(big.round().byte(), [(100.0, 80.0)], scales=scales.tolist())
    located = locate_peaks(cf.respond(state, patches), torch.ones(5), 6.0)
    assert float(scales[located.scale_index[0]]) > 1.0


def test_batched_equals_per_object():
    cf = make_filter()
    image = background(4)
    frame = with_target(with_target(image, 60, 60), 140, 100, colour=(30.0, 200.0, 30.0))
    centres = [(60.0, 60.0), (140.0, 100.0)]
    patches = patches_at(frame, centres)[:, 0]
    batched = cf.fit(augmented_copies(patches), augment_weights(5))
    single = [cf.fit(augmented_copies(p[None]), augment_weights(5)) for p in patches]
    moved = patches_at(frame, [(62.0, 59.0), (139.0, 103.0)], scales=(0.95, 1.0, 1.05))
    together = cf.respond(batched, moved)
    apart = torch.cat([cf.respond(s, moved[i : i + 1]) for i, s in enumerate(single)])
    torch.testing.assert_close(together, apart, rtol=1e-4, atol=1e-5)
    assert FilterState.cat(single).numerator.shape == batched.numerator.shape


def test_update_weights_samples_as_specified():
    cf = make_filter(first_frame_share=0.3)
    image = background(5)
    state = fit_at(cf, with_target(image, 100, 80), (100.0, 80.0))
    new = patches_at(with_target(background(6), 100, 80), [(100.0, 80.0)])[:, 0]
    unchanged = cf.update(state, new, torch.zeros(1))
    torch.testing.assert_close(unchanged.numerator, state.numerator)
    replaced = cf.update(state, new, torch.ones(1))
    sample = cf.fit(new[:, None])
    torch.testing.assert_close(replaced.numerator, sample.numerator, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(replaced.first_numerator, state.first_numerator)  # kept for ever
    half = cf.update(state, new, torch.full((1,), 0.25))
    expected = 0.75 * state.denominator + 0.25 * sample.denominator
    torch.testing.assert_close(half.denominator, expected, rtol=1e-4, atol=1e-3)


def test_a_first_frame_share_of_one_ignores_updates():
    cf = make_filter(first_frame_share=1.0)
    image = background(7)
    state = fit_at(cf, with_target(image, 100, 80), (100.0, 80.0))
    new = patches_at(with_target(background(8), 100, 80), [(100.0, 80.0)])[:, 0]
    probe = patches_at(with_target(image, 102, 80), [(100.0, 80.0)])
    before = cf.respond(state, probe)
    after = cf.respond(cf.update(state, new, torch.ones(1)), probe)
    torch.testing.assert_close(before, after)


def test_locate_peaks_on_a_constructed_response():
    response = torch.zeros(1, 1, 32, 32)
    response[0, 0, 20, 10] = 1.0  # the peak: x = 10, y = 20
    response[0, 0, 5, 25] = 0.4  # a competitor far away
    located = locate_peaks(response, torch.ones(1), 3.0)
    assert located.offset_cells[0].tolist() == pytest.approx([10 - 16, 20 - 16])
    assert float(located.peak[0]) == pytest.approx(1.0)
    assert float(located.second_ratio[0]) == pytest.approx(0.4)
    assert float(located.psr[0]) > 10


def test_features_have_the_stated_shape_and_see_an_edge():
    patches = torch.zeros(2, 3, 32, 32)
    patches[1, :, :, 16:] = 1.0  # a vertical edge in the second patch only
    features = target_features(patches, cell=2, num_orientations=9)
    assert features.shape == (2, num_feature_channels(9), 16, 16)
    assert features[0, :9].abs().max() < 1e-3  # a flat patch has no gradients
    assert features[1, :9].max() > 0.1


@pytest.mark.parametrize(
    ("shape", "cell", "bins"),
    [((2, 1, 32, 32), 2, 9), ((2, 3, 30, 30), 4, 9), ((2, 3, 32, 32), 2, 1), ((3, 32, 32), 2, 9)],
)
def test_features_reject_bad_input(shape, cell, bins):
    with pytest.raises(ValueError):
        target_features(torch.zeros(shape), cell=cell, num_orientations=bins)


@pytest.mark.parametrize(
    "kwargs", [{"template_side": 63}, {"first_frame_share": 1.5}, {"first_frame_share": -0.1}]
)
def test_filter_rejects_bad_settings(kwargs):
    settings = dict(
        search_scale=4.0,
        template_side=64,
        cell=2,
        num_orientations=9,
        label_sigma=0.1,
        reg=0.01,
        first_frame_share=0.3,
    )
    with pytest.raises(ValueError):
        CorrelationFilter(**(settings | kwargs))


def test_fit_rejects_a_batch_without_samples_axis():
    with pytest.raises(ValueError, match="B, K, 3, P, P"):
        make_filter().fit(torch.zeros(1, 3, SIDE, SIDE))


@pytest.mark.parametrize(("num", "step", "expected"), [(1, 1.05, [1.0]), (3, 2.0, [0.5, 1, 2])])
def test_scale_factors(num, step, expected):
    assert scale_factors(num, step).tolist() == pytest.approx(expected)


@pytest.mark.parametrize("num", [0, 2, -1])
def test_scale_factors_reject_even_or_empty(num):
    with pytest.raises(ValueError):
        scale_factors(num, 1.05)


def test_patches_outside_the_frame_repeat_its_border():
    frame = torch.zeros(3, 20, 20, dtype=torch.uint8)
    frame[:, :, :10] = 200  # left half bright
    patch = crop_patches(frame, torch.tensor([[-30.0, 0.0, -10.0, 20.0]]), 16)
    assert patch.shape == (1, 3, 16, 16)
    assert torch.allclose(patch, torch.full_like(patch, 200 / 255))
    assert crop_patches(frame, torch.zeros(0, 4), 16).shape == (0, 3, 16, 16)


def test_augmented_copies_keep_the_patch_first():
    patches = torch.rand(2, 3, SIDE, SIDE)
    copies = augmented_copies(patches)
    weights = augment_weights(copies.shape[1])
    assert copies.shape[:2] == (2, len(weights))
    torch.testing.assert_close(copies[:, 0], patches)
    assert weights[0] == 1 and (weights[1:] < 1).all()
    assert not math.isnan(float(copies.sum()))
