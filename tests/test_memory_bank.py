"""Memory bank: stores, eviction, keyframe policies, pointers, scene memory, bounds, bad input."""

import numpy as np
import pytest
import torch

from sam2_enhanced.config import MemoryBankConfig
from sam2_enhanced.modeling.memory_bank import MemoryBank, MemoryItem
from sam2_enhanced.modeling.memory_compression import MemoryCompressor
from sam2_enhanced.modeling.significance import (
    AdaptiveThresholdPolicy,
    FixedThresholdPolicy,
    KeyframeDecision,
    KeyframePolicy,
    TopKPolicy,
)

MEM_DIM, HEIGHT, WIDTH, PTR_DIM = 4, 4, 4, 8


def item(
    frame_idx, is_cond=False, significance=0.5, num_tokens=2, value=None, visible=True
) -> MemoryItem:
    """An item whose tensors are all filled with ``value`` (default: the frame index)."""
    fill = float(frame_idx if value is None else value)
    return MemoryItem(
        frame_idx=frame_idx,
        features=torch.full((MEM_DIM, HEIGHT, WIDTH), fill),
        obj_ptr=torch.full((PTR_DIM,), fill),
        det_tokens=torch.full((num_tokens, MEM_DIM), fill),
        is_cond=is_cond,
        significance=None if is_cond else significance,
        visible=visible,
    )


def bank(
    policy=None,
    max_cond=2,
    max_recent=3,
    max_key=2,
    max_ptrs=4,
    compressor=None,
    num_scene=2,
    max_longterm=0,
) -> MemoryBank:
    return MemoryBank(
        max_cond_frames=max_cond,
        max_recent_frames=max_recent,
        max_keyframes=max_key,
        keyframe_policy=policy or TopKPolicy(),
        max_obj_ptrs=max_ptrs,
        compressor=compressor
        or MemoryCompressor(spatial_downsample=1, channel_rank=0, storage_dtype=torch.float32),
        num_scene_frames=num_scene,
        max_longterm_frames=max_longterm,
    )


def stored_frames(memory_bank: MemoryBank, obj_id: int = 1) -> list[int]:
    return memory_bank.read(obj_id, 0).frame_indices.tolist()


@pytest.mark.parametrize(
    ("max_cond", "expected"),
    [(2, [0, 10]), (3, [0, 5, 10]), (1, [10])],  # the first prompt stays unless capacity is 1
)
def test_conditioning_store_keeps_first_prompt_and_evicts_oldest(max_cond, expected):
    memory_bank = bank(max_cond=max_cond)
    for frame_idx in (0, 5, 10):
        memory_bank.add(1, item(frame_idx, is_cond=True))
    readout = memory_bank.read(1, 12)
    assert readout.frame_indices.tolist() == expected
    assert readout.ptr_frame_indices.tolist() == expected  # a cond pointer leaves with its memory
    assert readout.is_cond.all()


def test_readding_a_cond_frame_replaces_it_in_place():
    memory_bank = bank(max_cond=2)
    for frame_idx in (0, 5):
        memory_bank.add(1, item(frame_idx, is_cond=True))
    memory_bank.add(1, item(0, is_cond=True, value=7.0))
    memory_bank.add(1, item(9, is_cond=True))  # evicts 5, not the re-added first prompt 0
    readout = memory_bank.read(1, 9)
    assert readout.frame_indices.tolist() == [0, 9]
    assert readout.features[0].unique().tolist() == [7.0]
    assert memory_bank.counts(1) == {"cond": 2, "recent": 0, "longterm": 0, "key": 0, "ptrs": 2}


def test_recent_fifo_keeps_the_last_frames():
    memory_bank = bank(max_recent=3, max_key=0)
    for frame_idx in range(1, 6):
        memory_bank.add(1, item(frame_idx))
    assert stored_frames(memory_bank) == [3, 4, 5]
    assert memory_bank.counts(1)["key"] == 0


SCORES = {1: 0.9, 2: 0.1, 3: 0.5, 4: 0.7, 5: 0.2, 6: 0.0}  # frame 6 stays in the FIFO


@pytest.mark.parametrize(
    ("make_policy", "expected_keys"),
    [
        (TopKPolicy, [1, 4]),  # the two best of 0.9, 0.1, 0.5, 0.7, 0.2
        (lambda: FixedThresholdPolicy(0.4), [3, 4]),  # the two newest above 0.4
        # warmup 2; then 0.5 <= 0.5 + 0.5 * 0.4, 0.7 > 0.5 + 0.5 * 0.327, 0.2 rejected
        (lambda: AdaptiveThresholdPolicy(num_std=0.5, warmup=2), [4]),
    ],
)
def test_keyframe_policies_choose_candidates_leaving_the_fifo(make_policy, expected_keys):
    memory_bank = bank(policy=make_policy(), max_recent=1, max_key=2)
    for obj_id in (1, 2):  # each object has its own policy history
        for frame_idx, score in SCORES.items():
            memory_bank.add(obj_id, item(frame_idx, significance=score))
        assert stored_frames(memory_bank, obj_id) == sorted([*expected_keys, 6])
        assert memory_bank.counts(obj_id)["key"] == len(expected_keys)


def test_unscored_items_never_become_keyframes():
    memory_bank = bank(max_recent=1, max_key=2)
    for frame_idx in range(1, 5):
        memory_bank.add(1, item(frame_idx, significance=None))
    assert stored_frames(memory_bank) == [4]


def test_pointers_keep_prompted_frames_and_the_newest_others():
    memory_bank = bank(max_ptrs=3, max_recent=1, max_key=0)
    memory_bank.add(1, item(0, is_cond=True))
    for frame_idx in range(1, 7):
        memory_bank.add(1, item(frame_idx))
    readout = memory_bank.read(1, 7)
    assert readout.ptr_frame_indices.tolist() == [0, 5, 6]  # cond first, then by frame
    assert readout.ptr_offsets.tolist() == [7, 2, 1]
    assert readout.obj_ptrs[:, 0].tolist() == [0.0, 5.0, 6.0]
    assert memory_bank.counts(1) == {"cond": 1, "recent": 1, "longterm": 0, "key": 0, "ptrs": 3}


def test_readout_shapes_values_and_order():
    memory_bank = bank(max_recent=2, max_key=1)
    memory_bank.add(1, item(4, is_cond=True, num_tokens=1))
    memory_bank.add(1, item(5, significance=0.3, num_tokens=0))
    memory_bank.add(1, item(6, num_tokens=3))
    memory_bank.add(1, item(7, num_tokens=2))  # 5 leaves the FIFO and becomes a keyframe
    readout = memory_bank.read(1, 8)
    assert readout.features.shape == (4, MEM_DIM, HEIGHT, WIDTH)
    assert readout.features.dtype == torch.float32
    assert readout.frame_indices.tolist() == [4, 5, 6, 7]
    assert readout.features[:, 0, 0, 0].tolist() == [4.0, 5.0, 6.0, 7.0]
    assert readout.frame_offsets.tolist() == [4, 3, 2, 1]
    assert readout.frame_offsets.dtype == torch.long
    assert readout.is_cond.tolist() == [True, False, False, False]
    assert readout.det_tokens.shape == (1 + 0 + 3 + 2, MEM_DIM)
    assert readout.det_tokens[:, 0].tolist() == [4.0, 6.0, 6.0, 6.0, 7.0, 7.0]
    assert readout.obj_ptrs.shape == (4, PTR_DIM)
    assert memory_bank.read(1, 2).frame_offsets.tolist() == [2, 3, 4, 5]  # reverse: |offset|


def test_readout_with_pointers_but_no_memories():
    memory_bank = bank(max_recent=0, max_key=0, max_ptrs=2)
    memory_bank.add(1, item(1))
    assert memory_bank.has_memory(1)
    readout = memory_bank.read(1, 3)
    assert readout.features.shape == (0, MEM_DIM, HEIGHT, WIDTH)
    assert readout.det_tokens.shape == (0, MEM_DIM)
    assert readout.is_cond.dtype == torch.bool and readout.frame_offsets.shape == (0,)
    assert readout.obj_ptrs.shape == (1, PTR_DIM) and readout.ptr_offsets.tolist() == [2]


def test_readding_a_frame_replaces_it_wherever_it_is():
    memory_bank = bank()
    memory_bank.add(1, item(3))
    memory_bank.add(1, item(3, value=9.0))
    assert memory_bank.counts(1) == {"cond": 0, "recent": 1, "longterm": 0, "key": 0, "ptrs": 1}
    assert memory_bank.read(1, 3).features.unique().tolist() == [9.0]
    memory_bank.add(1, item(3, is_cond=True))  # a prompt on that frame replaces the memory
    assert memory_bank.counts(1) == {"cond": 1, "recent": 0, "longterm": 0, "key": 0, "ptrs": 1}


def test_clear_frame_remove_object_and_clear():
    memory_bank = bank()
    memory_bank.add(1, item(0, is_cond=True))
    memory_bank.add(1, item(1))
    memory_bank.add(2, item(1))
    assert memory_bank.object_ids() == [1, 2]
    memory_bank.clear_frame(1, 1)
    memory_bank.clear_frame(1, 99)  # nothing stored there: no-op
    memory_bank.clear_frame(5, 0)  # unknown object: no-op
    assert memory_bank.counts(1) == {"cond": 1, "recent": 0, "longterm": 0, "key": 0, "ptrs": 1}
    memory_bank.clear_frame(1, 0)
    assert not memory_bank.has_memory(1)
    assert memory_bank.read(1, 2) is None
    assert memory_bank.object_ids() == [2]
    memory_bank.remove_object(2)
    memory_bank.remove_object(2)  # idempotent
    assert memory_bank.object_ids() == [] and memory_bank.num_bytes() == 0
    memory_bank.add(3, item(0))
    memory_bank.add_scene(0, torch.ones(2, MEM_DIM))
    memory_bank.clear()
    assert memory_bank.object_ids() == [] and memory_bank.read_scene() is None


COMPRESSIONS = [
    # (spatial_downsample, channel_rank, dtype, bytes of one memory's features)
    (1, 0, torch.float32, MEM_DIM * HEIGHT * WIDTH * 4),
    (1, 0, torch.float16, MEM_DIM * HEIGHT * WIDTH * 2),
    (2, 0, torch.float16, MEM_DIM * 2 * 2 * 2),
    (1, 2, torch.bfloat16, (MEM_DIM * 2 + MEM_DIM + 2 * HEIGHT * WIDTH) * 2),
]


@pytest.mark.parametrize(("downsample", "rank", "dtype", "feature_bytes"), COMPRESSIONS)
def test_num_bytes_is_exact(downsample, rank, dtype, feature_bytes):
    compressor = MemoryCompressor(
        spatial_downsample=downsample, channel_rank=rank, storage_dtype=dtype
    )
    memory_bank = bank(compressor=compressor, max_cond=1, max_recent=3, max_key=2, max_ptrs=4)
    memory_bank.add(1, item(0, is_cond=True))
    for frame_idx, score in enumerate([0.9, 0.8, 0.1, 0.1, 0.1, 0.1], start=1):
        memory_bank.add(1, item(frame_idx, significance=score))
    assert memory_bank.counts(1) == {"cond": 1, "recent": 3, "longterm": 0, "key": 2, "ptrs": 4}
    itemsize = torch.tensor([], dtype=dtype).element_size()
    memory_bytes = feature_bytes + 2 * MEM_DIM * itemsize  # + two det tokens
    expected = 6 * memory_bytes + 4 * PTR_DIM * itemsize
    assert memory_bank.num_bytes(1) == expected
    memory_bank.add_scene(0, torch.ones(3, MEM_DIM))
    assert memory_bank.num_bytes() == expected + 3 * MEM_DIM * itemsize
    assert memory_bank.num_bytes(42) == 0


@pytest.mark.parametrize(
    ("make_policy", "downsample", "rank", "dtype"),
    [
        (TopKPolicy, 1, 0, torch.float32),
        (lambda: FixedThresholdPolicy(0.3), 1, 0, torch.float16),
        (lambda: AdaptiveThresholdPolicy(num_std=0.5), 1, 2, torch.bfloat16),
    ],  # pooling is covered by test_num_bytes_is_exact (avg_pool2d is slow on a busy CPU)
)
def test_bank_is_bounded_over_a_long_video(make_policy, downsample, rank, dtype):
    compressor = MemoryCompressor(
        spatial_downsample=downsample, channel_rank=rank, storage_dtype=dtype
    )
    memory_bank = bank(policy=make_policy(), compressor=compressor, num_scene=2)
    limit = memory_bank.max_cond_frames + memory_bank.max_recent_frames + memory_bank.max_keyframes
    rng = np.random.default_rng(0)
    bytes_at = {}
    for frame_idx in range(1000):
        is_cond = frame_idx % 50 == 0  # the cond store is full from frame 50 on
        memory_bank.add(1, item(frame_idx, is_cond=is_cond, significance=float(rng.random())))
        memory_bank.add_scene(frame_idx, torch.ones(2, MEM_DIM))
        counts = memory_bank.counts(1)
        assert counts["cond"] + counts["recent"] + counts["key"] <= limit
        assert counts["ptrs"] <= max(memory_bank.max_obj_ptrs, counts["cond"])
        bytes_at[frame_idx + 1] = memory_bank.num_bytes()
    assert bytes_at[1000] == pytest.approx(bytes_at[100], rel=0.05)


def test_from_config_maps_every_field():
    cfg = MemoryBankConfig(
        max_cond_frames=3,
        max_recent_frames=4,
        max_keyframes=5,
        keyframe_policy="adaptive",
        keyframe_threshold=1.5,
        max_obj_ptrs=6,
        spatial_downsample=2,
        channel_rank=3,
        storage_dtype="bfloat16",
        num_scene_frames=7,
    )
    memory_bank = MemoryBank.from_config(cfg)
    assert (memory_bank.max_cond_frames, memory_bank.max_recent_frames) == (3, 4)
    assert (memory_bank.max_keyframes, memory_bank.max_obj_ptrs) == (5, 6)
    assert memory_bank.num_scene_frames == 7
    assert memory_bank.keyframe_policy == AdaptiveThresholdPolicy(num_std=1.5)
    compressor = memory_bank.compressor
    assert (compressor.spatial_downsample, compressor.channel_rank) == (2, 3)
    assert compressor.storage_dtype == torch.bfloat16
    assert isinstance(MemoryBank.from_config(MemoryBankConfig()).keyframe_policy, TopKPolicy)


def test_scene_memory_keeps_the_last_frames():
    memory_bank = bank(num_scene=2)
    assert memory_bank.read_scene() is None
    for frame_idx, num_tokens in enumerate([1, 2, 3]):
        memory_bank.add_scene(frame_idx, torch.full((num_tokens, MEM_DIM), float(frame_idx)))
    memory_bank.add_scene(2, torch.full((1, MEM_DIM), 9.0))  # same frame: replaced
    scene = memory_bank.read_scene()
    assert scene.dtype == torch.float32
    assert scene[:, 0].tolist() == [1.0, 1.0, 9.0]
    disabled = bank(num_scene=0)
    disabled.add_scene(0, torch.ones(2, MEM_DIM))
    assert disabled.read_scene() is None


def test_gradients_reach_stored_memories():
    memory_bank = bank()
    features = torch.randn(MEM_DIM, HEIGHT, WIDTH, requires_grad=True)
    memory_bank.add(
        1, MemoryItem(0, features, torch.ones(PTR_DIM), torch.ones(0, MEM_DIM), True, None)
    )
    memory_bank.read(1, 1).features.sum().backward()
    assert torch.equal(features.grad, torch.ones_like(features))


class AdmitsWithoutEvicting(KeyframePolicy):
    """A faulty policy: admits everything and never names a keyframe to evict."""

    def _decide(self, score, kept_scores, capacity):
        return KeyframeDecision(True)

    def fresh(self):
        return self


def test_a_policy_overfilling_the_buffer_is_reported():
    memory_bank = bank(policy=AdmitsWithoutEvicting(), max_recent=0, max_key=1)
    memory_bank.add(1, item(1))
    with pytest.raises(RuntimeError, match="without naming one to evict"):
        memory_bank.add(1, item(2))


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda: item(-1), ValueError),  # negative frame index
        (lambda: item(1.0), TypeError),  # float frame index
        (
            lambda: MemoryItem(0, torch.ones(4, 4), torch.ones(8), torch.ones(0, 4), False, 0.1),
            ValueError,
        ),
        (
            lambda: MemoryItem(
                0, torch.ones(4, 4, 4), torch.ones(1, 8), torch.ones(0, 4), False, 0.1
            ),
            ValueError,
        ),
        (
            lambda: MemoryItem(0, torch.ones(4, 4, 4), torch.ones(8), torch.ones(2, 5), False, 0.1),
            ValueError,
        ),
        (
            lambda: MemoryItem(
                0,
                torch.ones(4, 4, 4, dtype=torch.long),
                torch.ones(8),
                torch.ones(0, 4),
                False,
                0.1,
            ),
            TypeError,
        ),
        (
            lambda: MemoryItem(0, torch.ones(4, 4, 4), torch.ones(8), torch.ones(0, 4), 1, 0.1),
            TypeError,
        ),
        (lambda: item(1, significance=-0.5), ValueError),
        (lambda: item(1, significance=float("nan")), ValueError),
        (lambda: item(1, significance="high"), TypeError),
        (lambda: item(1, visible=1), TypeError),
    ],
)
def test_memory_item_rejects_bad_input(make, error):
    with pytest.raises(error):
        make()


def snapshot(memory_bank: MemoryBank) -> tuple:
    readout = memory_bank.read(1, 10)
    return memory_bank.counts(1), memory_bank.num_bytes(), readout.features.clone()


@pytest.mark.parametrize(
    ("obj_id", "new_item", "error"),
    [
        ("1", item(5), TypeError),  # non-int object id
        (1.0, item(5), TypeError),
        (True, item(5), TypeError),
        (1, {"frame_idx": 5}, TypeError),  # not a MemoryItem
        (
            1,
            MemoryItem(5, torch.ones(4, 4, 4), torch.ones(16), torch.ones(0, 4), False, 0.1),
            ValueError,
        ),
        (
            1,
            MemoryItem(5, torch.ones(8, 4, 4), torch.ones(8), torch.ones(0, 8), False, 0.1),
            ValueError,
        ),
        (
            1,
            MemoryItem(5, torch.ones(4, 8, 8), torch.ones(8), torch.ones(0, 4), False, 0.1),
            ValueError,
        ),
    ],
)
def test_rejected_add_leaves_the_bank_unchanged(obj_id, new_item, error):
    memory_bank = bank(max_recent=1)
    for frame_idx in range(4):
        memory_bank.add(1, item(frame_idx, is_cond=frame_idx == 0))
    before = snapshot(memory_bank)
    with pytest.raises(error):
        memory_bank.add(obj_id, new_item)
    after = snapshot(memory_bank)
    assert before[:2] == after[:2] and torch.equal(before[2], after[2])


def test_numpy_integer_ids_are_accepted():
    memory_bank = bank()
    memory_bank.add(np.int64(3), item(np.int32(2)))
    assert memory_bank.object_ids() == [3] and memory_bank.has_memory(3)


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda b: b.read(1, -1), ValueError),
        (lambda b: b.read("1", 0), TypeError),
        (lambda b: b.add_scene(-1, torch.ones(1, MEM_DIM)), ValueError),
        (lambda b: b.add_scene(0, torch.ones(MEM_DIM)), ValueError),
        (lambda b: b.add_scene(0, torch.ones(1, MEM_DIM + 1)), ValueError),  # channel mismatch
        (lambda b: b.add_scene(0, np.ones((1, MEM_DIM))), TypeError),
        (lambda b: MemoryBank.from_config(MemoryBankConfig(max_keyframes=-1)), ValueError),
        (lambda b: bank(max_cond=0), ValueError),
        (lambda b: bank(max_longterm=-1), ValueError),
        (lambda b: MemoryBank.from_config(MemoryBankConfig(max_longterm_frames=-2)), ValueError),
        (lambda b: bank(policy="topk"), TypeError),
        (lambda b: bank(compressor=torch.float16), TypeError),
    ],
)
def test_bank_rejects_bad_input(call, error):
    memory_bank = bank()
    memory_bank.add_scene(0, torch.ones(1, MEM_DIM))
    with pytest.raises(error):
        call(memory_bank)


def test_clear_tracking_keeps_only_prompted_frames():
    bank = MemoryBank.from_config(MemoryBankConfig(max_recent_frames=2, max_keyframes=1))
    feats = torch.ones(4, 3, 3)
    bank.add(1, MemoryItem(0, feats, torch.ones(8), torch.zeros(0, 4), True, None))
    for t in range(1, 6):
        bank.add(1, MemoryItem(t, feats * t, torch.ones(8), torch.zeros(0, 4), False, float(t)))
    bank.add_scene(5, torch.ones(2, 4))
    assert bank.counts(1)["recent"] == 2 and bank.counts(1)["key"] == 1
    bank.clear_tracking(1)
    assert bank.counts(1) == {"cond": 1, "recent": 0, "longterm": 0, "key": 0, "ptrs": 1}
    assert bank.read(1, 9).frame_indices.tolist() == [0]
    assert bank.read_scene() is not None
    bank.clear_scene()
    assert bank.read_scene() is None
    bank.clear_tracking(42)  # unknown id: nothing to do


def test_longterm_store_keeps_the_last_visible_frames_through_a_long_absence():
    """Seen on 1-10, hidden on 11-40: the FIFO holds only hidden frames, the store 9 and 10."""
    memory_bank = bank(max_recent=3, max_key=0, max_longterm=2)
    memory_bank.add(1, item(0, is_cond=True))
    for frame_idx in range(1, 41):
        memory_bank.add(1, item(frame_idx, visible=frame_idx <= 10))
    assert stored_frames(memory_bank) == [0, 9, 10, 38, 39, 40]
    assert memory_bank.counts(1)["longterm"] == 2
    without = bank(max_recent=3, max_key=0)
    without.add(1, item(0, is_cond=True))
    for frame_idx in range(1, 41):
        without.add(1, item(frame_idx, visible=frame_idx <= 10))
    assert stored_frames(without) == [0, 38, 39, 40]  # the look before the absence is gone
    more_bytes = memory_bank.num_bytes(1) - without.num_bytes(1)
    assert more_bytes == 2 * (MEM_DIM * HEIGHT * WIDTH + 2 * MEM_DIM) * 4  # two float32 memories


def test_memories_leaving_the_longterm_store_become_keyframe_candidates():
    memory_bank = bank(max_recent=1, max_key=1, max_longterm=1)
    memory_bank.add(1, item(1, significance=0.9))
    memory_bank.add(1, item(2, significance=0.1))  # 1 leaves the FIFO: long-term
    memory_bank.add(1, item(3, significance=0.2))  # 2 long-term, 1 a candidate: keyframe
    memory_bank.add(1, item(4, significance=0.3, visible=False))
    memory_bank.add(1, item(5, significance=0.1, visible=False))  # 4 (hidden): candidate only
    counts = memory_bank.counts(1)
    assert (counts["recent"], counts["longterm"], counts["key"]) == (1, 1, 1)
    assert stored_frames(memory_bank) == [1, 3, 5]  # key 1 (0.9 beat 0.3), long-term 3, FIFO 5
    memory_bank.clear_tracking(1)
    assert not memory_bank.has_memory(1)
