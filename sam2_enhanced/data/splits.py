"""The three disjoint seed ranges of synthetic videos, named here and nowhere else.

- ``train``: training videos (``SyntheticClipDataset`` in the trainer).
- ``val``: validation while training, checkpoint selection (``best/``), ``make validate`` and
  the A/B choices in docs/training.md.
- ``test``: ``make results`` / ``sam2e eval --synthetic`` (default) and the bundled-model tests;
  nothing is chosen on it.

A video is ``generate_video(seed, cfg)``; :func:`split_seeds` gives the first seeds of a split.
"""

from __future__ import annotations

import numbers

SPLIT_SEEDS = {
    "train": range(0, 10_000_000),
    "val": range(10_000_000, 20_000_000),
    "test": range(20_000_000, 30_000_000),
}
"""Split name -> its seeds; the ranges are disjoint."""

SPLITS = tuple(SPLIT_SEEDS)
"""Split names: ("train", "val", "test")."""


def split_seeds(split: str, count: int) -> range:
    """The first ``count`` seeds of ``split`` (``count`` >= 0, at most the split's size)."""
    if split not in SPLIT_SEEDS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    seeds = SPLIT_SEEDS[split]
    if isinstance(count, bool) or not isinstance(count, numbers.Integral) or count < 0:
        raise ValueError(f"count must be an int >= 0, got {count!r}")
    if count > len(seeds):
        raise ValueError(f"the {split} split has {len(seeds)} seeds, asked for {count}")
    return seeds[:count]


def split_of_seeds(seeds: range) -> str:
    """The split that holds every seed of the non-empty range ``seeds``.

    Raises ``ValueError`` when the range crosses a split boundary or lies outside every split,
    so that no dataset mixes, say, training and validation videos.
    """
    if len(seeds) == 0:
        raise ValueError("seeds is an empty range; it belongs to no split")
    for split, allowed in SPLIT_SEEDS.items():
        if seeds[0] in allowed and seeds[-1] in allowed:
            return split
    bounds = ", ".join(f"{name} [{r.start}, {r.stop})" for name, r in SPLIT_SEEDS.items())
    raise ValueError(
        f"seeds [{seeds[0]}, {seeds[-1] + 1}) are not inside one split ({bounds}); "
        "take them from one split with split_seeds(split, count)"
    )
