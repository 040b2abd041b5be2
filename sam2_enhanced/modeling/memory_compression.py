"""How one spatial memory is stored: spatial pooling, per-memory channel PCA, a storage dtype.

A memory ``(C, h, w)`` is average-pooled by ``spatial_downsample`` to ``(C, h', w')`` with
``h' = ceil(h / k)``; with ``channel_rank = r > 0`` it is then projected on its own top ``r``
principal channel directions (positions are the samples), keeping a ``(C, r)`` basis, the
``(C,)`` channel mean and ``(r, h', w')`` coefficients. Everything is cast to ``storage_dtype``.
Decompression inverts the projection and upsamples bilinearly to the original ``(h, w)``, the
grid the model's RoPE attention expects.

Nothing is detached: in training, gradients flow through compression as through any op.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


def owned_copy(tensor: Tensor, dtype: torch.dtype) -> Tensor:
    """A contiguous copy of ``tensor`` in ``dtype`` that shares no storage with its input.

    Stored tensors own their memory, so their ``nbytes`` is exactly what the store holds (a view
    into a larger batch tensor would keep the whole batch alive).
    """
    return tensor.to(dtype=dtype, memory_format=torch.contiguous_format, copy=True)


@dataclass
class CompressedMemory:
    """One stored memory.

    ``values`` holds the pooled features ``(C, h', w')`` when ``basis`` is None, else the PCA
    coefficients ``(r, h', w')``; features are ``basis @ values + channel_mean``.
    """

    values: Tensor  # (C, h', w') pooled features or (r, h', w') PCA coefficients, storage dtype
    basis: Tensor | None  # (C, r) orthonormal channel basis, storage dtype; None without PCA
    channel_mean: Tensor | None  # (C,) channel mean removed before PCA; None without PCA
    height: int  # original h before pooling
    width: int  # original w before pooling

    @property
    def num_channels(self) -> int:
        """C of the original features."""
        return self.values.shape[0] if self.basis is None else self.basis.shape[0]

    @property
    def num_bytes(self) -> int:
        """Exact bytes held by the stored tensors."""
        tensors = [self.values, self.basis, self.channel_mean]
        return sum(t.nbytes for t in tensors if t is not None)


class MemoryCompressor:
    """Compresses ``(C, h, w)`` memories for storage and restores them.

    Args:
        spatial_downsample: pooling factor ``k >= 1`` (1 keeps full resolution).
        channel_rank: principal channel directions kept per memory (0 keeps all channels as
            they are). PCA stores ``C*r + C + r*h'*w'`` values, which saves memory only when
            ``r < C*h'*w' / (C + h'*w')``.
        storage_dtype: floating dtype of the stored tensors (float32, float16, bfloat16).
    """

    def __init__(self, *, spatial_downsample: int, channel_rank: int, storage_dtype: torch.dtype):
        if isinstance(spatial_downsample, bool) or not isinstance(spatial_downsample, int):
            raise TypeError(f"spatial_downsample must be an int, got {spatial_downsample!r}")
        if spatial_downsample < 1:
            raise ValueError(f"spatial_downsample must be >= 1, got {spatial_downsample}")
        if isinstance(channel_rank, bool) or not isinstance(channel_rank, int):
            raise TypeError(f"channel_rank must be an int, got {channel_rank!r}")
        if channel_rank < 0:
            raise ValueError(f"channel_rank must be >= 0 (0 = off), got {channel_rank}")
        if not isinstance(storage_dtype, torch.dtype) or not storage_dtype.is_floating_point:
            raise TypeError(
                f"storage_dtype must be a floating torch.dtype such as torch.float16, "
                f"got {storage_dtype!r}"
            )
        self.spatial_downsample = spatial_downsample
        self.channel_rank = channel_rank
        self.storage_dtype = storage_dtype

    def __repr__(self) -> str:
        return (
            f"MemoryCompressor(spatial_downsample={self.spatial_downsample}, "
            f"channel_rank={self.channel_rank}, storage_dtype={self.storage_dtype})"
        )

    def compress(self, features: Tensor) -> CompressedMemory:
        """Compress one memory.

        Args:
            features: ``(C, h, w)`` floating tensor.

        Returns:
            A :class:`CompressedMemory` whose tensors own their storage.
        """
        if not isinstance(features, Tensor):
            raise TypeError(f"features must be a torch tensor, got {type(features).__name__}")
        if features.ndim != 3 or min(features.shape) < 1:
            raise ValueError(
                f"features must be a non-empty (C, h, w) tensor, got shape {tuple(features.shape)}"
            )
        if not features.is_floating_point():
            raise TypeError(f"features must be floating, got dtype {features.dtype}")
        num_channels, height, width = features.shape
        pooled = features.float()
        if self.spatial_downsample > 1:
            k = self.spatial_downsample
            pooled = F.avg_pool2d(pooled[None], k, stride=k, ceil_mode=True)[0]  # (C, h', w')
        if self.channel_rank == 0:
            return CompressedMemory(
                owned_copy(pooled, self.storage_dtype), None, None, height, width
            )
        pooled_h, pooled_w = pooled.shape[1:]
        samples = pooled.reshape(num_channels, pooled_h * pooled_w)  # (C, h'w')
        channel_mean = samples.mean(dim=1)  # (C,)
        centered = samples - channel_mean[:, None]  # (C, h'w')
        left, _, _ = torch.linalg.svd(centered, full_matrices=False)  # (C, min(C, h'w'))
        basis = left[:, : self.channel_rank]  # (C, r)
        coeffs = (basis.T @ centered).reshape(-1, pooled_h, pooled_w)  # (r, h', w')
        return CompressedMemory(
            values=owned_copy(coeffs, self.storage_dtype),
            basis=owned_copy(basis, self.storage_dtype),
            channel_mean=owned_copy(channel_mean, self.storage_dtype),
            height=height,
            width=width,
        )

    def decompress(self, memory: CompressedMemory) -> Tensor:
        """Restore ``(C, h, w)`` float32 features at the original resolution."""
        values = memory.values.float()
        if memory.basis is not None:
            assert memory.channel_mean is not None, "PCA memories store their channel mean"
            rank, pooled_h, pooled_w = values.shape
            coeffs = values.reshape(rank, pooled_h * pooled_w)  # (r, h'w')
            flat = memory.basis.float() @ coeffs + memory.channel_mean.float()[:, None]  # (C, h'w')
            values = flat.reshape(-1, pooled_h, pooled_w)  # (C, h', w')
        if values.shape[1:] != (memory.height, memory.width):
            values = F.interpolate(
                values[None],
                size=(memory.height, memory.width),
                mode="bilinear",
                align_corners=False,
            )[0]  # (C, h, w)
        return values
