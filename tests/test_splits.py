"""The named seed splits of synthetic videos: disjoint, and one place to take seeds from."""

import itertools

import pytest

from sam2_enhanced.data.splits import SPLIT_SEEDS, SPLITS, split_of_seeds, split_seeds


def test_splits_are_disjoint_and_named_train_val_test():
    assert SPLITS == ("train", "val", "test")
    for (name_a, a), (name_b, b) in itertools.combinations(SPLIT_SEEDS.items(), 2):
        assert a.stop <= b.start or b.stop <= a.start, (name_a, name_b)


@pytest.mark.parametrize(
    ("split", "count", "expected"),
    [
        ("train", 3, range(0, 3)),
        ("val", 20, range(10_000_000, 10_000_020)),
        ("test", 2, range(20_000_000, 20_000_002)),
        ("test", 0, range(20_000_000, 20_000_000)),
    ],
)
def test_split_seeds_are_the_first_seeds_of_the_split(split, count, expected):
    assert split_seeds(split, count) == expected
    if count:
        assert split_of_seeds(split_seeds(split, count)) == split


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: split_seeds("validation", 1), "split must be one of"),
        (lambda: split_seeds("test", -1), "count must be an int >= 0"),
        (lambda: split_seeds("test", 10_000_001), "has 10000000 seeds"),
        (lambda: split_of_seeds(range(9_999_999, 10_000_001)), "not inside one split"),
        (lambda: split_of_seeds(range(30_000_000, 30_000_001)), "not inside one split"),
        (lambda: split_of_seeds(range(5, 5)), "empty range"),
    ],
)
def test_bad_split_requests_raise(call, message):
    with pytest.raises(ValueError, match=message):
        call()
