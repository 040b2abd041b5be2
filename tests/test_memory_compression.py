"""Memory compression: shapes, reconstruction bounds, exact byte counts, bad input."""

import pytest
import torch

from sam2_enhanced.modeling.memory_compression import MemoryCompressor


def compressor(downsample: int = 1, rank: int = 0, dtype: torch.dtype = torch.float32):
    return MemoryCompressor(spatial_downsample=downsample, channel_rank=rank, storage_dtype=dtype)


def low_rank_features(num_channels: int, rank: int, height: int, width: int) -> torch.Tensor:
    """(C, h, w) features whose centred channel matrix has exactly ``rank``."""
    gen = torch.Generator().manual_seed(0)
    mixing = torch.randn(num_channels, rank, generator=gen)  # (C, r)
    sources = torch.randn(rank, height * width, generator=gen)  # (r, hw)
    mean = torch.randn(num_channels, 1, generator=gen)  # (C, 1)
    return (mixing @ sources + mean).reshape(num_channels, height, width)  # (C, h, w)


@pytest.mark.parametrize(
    ("downsample", "rank", "dtype", "height", "width"),
    [
        (1, 0, torch.float32, 8, 8),
        (2, 0, torch.float16, 8, 8),
        (3, 0, torch.bfloat16, 7, 5),  # sizes not divisible by the factor
        (2, 3, torch.float32, 9, 6),
        (4, 2, torch.float16, 5, 5),
        (1, 64, torch.float32, 4, 4),  # rank above min(C, h*w) keeps what exists
    ],
)
def test_decompress_restores_original_shape_and_float32(downsample, rank, dtype, height, width):
    features = torch.randn(6, height, width)
    memory = compressor(downsample, rank, dtype).compress(features)
    assert memory.values.dtype == dtype
    assert memory.values.shape[1:] == (-(-height // downsample), -(-width // downsample))
    restored = compressor(downsample, rank, dtype).decompress(memory)
    assert restored.shape == (6, height, width)
    assert restored.dtype == torch.float32


def test_full_rank_pca_is_near_exact():
    features = torch.randn(8, 6, 6)
    comp = compressor(rank=8)
    restored = comp.decompress(comp.compress(features))
    assert torch.allclose(restored, features, atol=1e-4)


def test_low_rank_input_is_exact_at_its_rank_and_not_below():
    features = low_rank_features(num_channels=16, rank=3, height=6, width=6)
    exact = compressor(rank=3)
    assert torch.allclose(exact.decompress(exact.compress(features)), features, atol=1e-4)
    truncated = compressor(rank=2)
    error = (truncated.decompress(truncated.compress(features)) - features).abs().max()
    assert error > 1e-2


@pytest.mark.parametrize("rank", [1, 2, 4])
def test_pca_error_equals_discarded_singular_values(rank):
    features = torch.randn(6, 5, 5, dtype=torch.float32)
    samples = features.reshape(6, 25)  # (C, hw)
    singular = torch.linalg.svdvals(samples - samples.mean(dim=1, keepdim=True))
    comp = compressor(rank=rank)
    error_sq = ((comp.decompress(comp.compress(features)) - features) ** 2).sum()
    assert error_sq.item() == pytest.approx((singular[rank:] ** 2).sum().item(), rel=1e-3)


@pytest.mark.parametrize(("height", "width"), [(8, 8), (7, 5), (1, 3)])
def test_pooling_a_constant_is_exact_even_with_partial_windows(height, width):
    features = torch.full((3, height, width), 2.5)
    comp = compressor(downsample=2)
    memory = comp.compress(features)
    assert torch.allclose(memory.values, torch.full_like(memory.values, 2.5))
    assert torch.allclose(comp.decompress(memory), features)


def test_pooling_a_linear_ramp_is_exact_away_from_borders():
    ys, xs = torch.meshgrid(torch.arange(16.0), torch.arange(16.0), indexing="ij")
    features = torch.stack([xs, 2 * ys - xs])  # (2, 16, 16), linear in x and y
    comp = compressor(downsample=2)
    restored = comp.decompress(comp.compress(features))
    inner = (slice(None), slice(2, -2), slice(2, -2))
    assert torch.allclose(restored[inner], features[inner], atol=1e-5)


@pytest.mark.parametrize(
    ("shape", "downsample", "rank", "dtype", "expected_bytes"),
    [
        ((8, 8, 8), 1, 0, torch.float32, 8 * 64 * 4),
        ((8, 8, 8), 1, 0, torch.float16, 8 * 64 * 2),  # fp16 halves
        ((8, 8, 8), 1, 0, torch.bfloat16, 8 * 64 * 2),
        ((8, 8, 8), 2, 0, torch.float32, 8 * 16 * 4),  # downsample 2 divides by 4
        ((8, 7, 7), 2, 0, torch.float32, 8 * 16 * 4),  # ceil(7 / 2) = 4
        ((8, 8, 8), 1, 2, torch.float32, (8 * 2 + 8 + 2 * 64) * 4),  # basis, mean, coeffs
        ((8, 8, 8), 2, 2, torch.float16, (8 * 2 + 8 + 2 * 16) * 2),
    ],
)
def test_num_bytes_is_exact(shape, downsample, rank, dtype, expected_bytes):
    memory = compressor(downsample, rank, dtype).compress(torch.randn(shape))
    assert memory.num_bytes == expected_bytes


def test_stored_tensors_own_their_storage():
    batch = torch.randn(16, 4, 8, 8)  # a view of one item must not keep the batch alive
    memory = compressor().compress(batch[3])
    assert memory.values.untyped_storage().nbytes() == memory.num_bytes == 4 * 64 * 4
    assert memory.values.data_ptr() != batch[3].data_ptr()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_low_precision_storage_error_is_small(dtype):
    features = torch.randn(8, 8, 8)
    comp = compressor(dtype=dtype)
    error = (comp.decompress(comp.compress(features)) - features).abs().max()
    assert 0 < error < 2e-2 * features.abs().max()


def test_gradients_flow_through_compression():
    features = torch.randn(4, 6, 6, requires_grad=True)
    comp = compressor(downsample=2)
    comp.decompress(comp.compress(features)).sum().backward()
    assert features.grad is not None and features.grad.abs().sum() > 0


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"spatial_downsample": 0}, ValueError),
        ({"spatial_downsample": 1.5}, TypeError),
        ({"channel_rank": -1}, ValueError),
        ({"storage_dtype": torch.int8}, TypeError),
        ({"storage_dtype": "float16"}, TypeError),
    ],
)
def test_constructor_rejects_bad_settings(kwargs, error):
    settings = {"spatial_downsample": 1, "channel_rank": 0, "storage_dtype": torch.float16}
    with pytest.raises(error):
        MemoryCompressor(**{**settings, **kwargs})


@pytest.mark.parametrize(
    ("features", "error"),
    [
        (torch.zeros(4, 4), ValueError),  # missing the channel dimension
        (torch.zeros(4, 0, 4), ValueError),  # empty
        (torch.zeros(4, 4, 4, dtype=torch.long), TypeError),
        ([[[0.0]]], TypeError),
    ],
)
def test_compress_rejects_bad_features(features, error):
    with pytest.raises(error):
        compressor().compress(features)
