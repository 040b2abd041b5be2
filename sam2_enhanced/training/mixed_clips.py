"""Two clip datasets mixed per index: item ``i`` comes from the second with probability
``fraction``, decided by ``(seed, i)`` alone, so a resumed or distributed run sees the same mix."""

from __future__ import annotations

import numpy as np
from torch.utils.data import Dataset

from sam2_enhanced.data.clip_dataset import ClipSample


def mix_choices(num_items: int, fraction: float, seed: int) -> np.ndarray:
    """(num_items,) bool, True where item ``i`` is drawn from the second dataset."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in [0, 1], got {fraction}")
    draws = np.random.default_rng(seed).random(num_items)  # (num_items,) uniform in [0, 1)
    return draws < fraction


class MixedClipDataset(Dataset):
    """Item ``i`` is ``second[i % len(second)]`` where :func:`mix_choices` says so, else
    ``first[i]``; the length is ``len(first)``.

    Args:
        first: the main dataset (e.g. synthetic window clips).
        second: the mixed-in dataset (e.g. real window clips); must not be empty.
        fraction: expected share of items taken from ``second``, in [0, 1].
        seed: seed of the per-index choice.
    """

    def __init__(self, first: Dataset, second: Dataset, fraction: float, seed: int) -> None:
        if len(second) == 0:
            raise ValueError("the mixed-in dataset is empty; give it at least one item")
        self.first = first
        self.second = second
        self.from_second = mix_choices(len(first), fraction, seed)  # (N,) bool

    def __len__(self) -> int:
        return len(self.first)

    def __getitem__(self, index: int) -> ClipSample:
        if self.from_second[index]:
            return self.second[index % len(self.second)]
        return self.first[index]
