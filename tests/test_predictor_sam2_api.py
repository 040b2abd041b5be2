"""SAM 2 users' code runs unchanged: SAM 2 1.1's parameter names, positionally and by keyword.

The reference signatures are read from the installed ``sam2`` package itself, so a rename on
either side fails here.
"""

import inspect
import warnings

import numpy as np
import pytest
import torch
from sam2.sam2_video_predictor import SAM2VideoPredictor

from sam2_enhanced import SAM2EnhancedVideoPredictor, build_predictor, load_config
from sam2_enhanced.modeling.sam_mask_head import NO_OBJ_SCORE

H, W, T = 48, 64, 4
SAM2_METHODS = (
    "init_state",
    "add_new_points_or_box",
    "add_new_mask",
    "propagate_in_video",
    "clear_all_prompts_in_frame",
    "reset_state",
    "remove_object",
    "from_pretrained",
)


@pytest.fixture(scope="module")
def predictor():
    torch.manual_seed(0)
    return build_predictor(load_config("tiny"), device="cpu")


@pytest.fixture(scope="module")
def video():
    frames = np.random.default_rng(0).integers(0, 255, size=(T, H, W, 3), dtype=np.uint8)
    frames[:, 10:20, 10:20] = 255
    return frames


def parameter_names(function) -> list[str]:
    names = [p.name for p in inspect.signature(function).parameters.values()]
    return [n for n in names if n not in ("self", "cls", "args", "kwargs")]


@pytest.mark.parametrize("method", SAM2_METHODS)
def test_parameters_start_with_sam2s_names_in_sam2s_order(method):
    ours = parameter_names(getattr(SAM2EnhancedVideoPredictor, method))
    theirs = parameter_names(getattr(SAM2VideoPredictor, method))
    assert ours[: len(theirs)] == theirs


def test_sam2_notebook_calls_by_keyword(predictor, video):
    state = predictor.init_state(video_path=video)
    frame_idx, obj_ids, masks, _ = predictor.add_new_points_or_box(
        inference_state=state,
        frame_idx=0,
        obj_id=1,
        points=np.array([[15, 15]], np.float32),
        labels=np.array([1], np.int32),
    )
    assert frame_idx == 0 and obj_ids == [1] and masks.shape == (1, 1, H, W)
    predictor.add_new_points(
        inference_state=state, frame_idx=0, obj_id=1, points=[[40, 30]], labels=[0],
        clear_old_points=False,
    )  # fmt: skip
    mask = np.zeros((H, W), bool)
    mask[25:40, 30:50] = True
    predictor.add_new_mask(inference_state=state, frame_idx=1, obj_id=2, mask=mask)
    seen = [
        out[0]
        for out in predictor.propagate_in_video(
            inference_state=state, start_frame_idx=0, max_frame_num_to_track=2, reverse=False
        )
    ]
    assert seen == [0, 1, 2]
    predictor.clear_all_prompts_in_frame(
        inference_state=state, frame_idx=1, obj_id=2, need_output=False
    )
    remaining, _ = predictor.remove_object(inference_state=state, obj_id=2, strict=True)
    assert remaining == [1]
    predictor.reset_state(inference_state=state)
    assert state.obj_ids == []


def test_sam2_calls_positionally(predictor, video):
    state = predictor.init_state(video, False, False, False)
    predictor.add_new_points_or_box(state, 0, 1, None, None, True, True, [8, 8, 22, 22])
    assert [out[0] for out in predictor.propagate_in_video(state, 1, 1, True)] == [1, 0]


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda p, s: p.add_new_points_or_box(inference_state=s, frame_idx=0), TypeError, "obj_id"),
        (lambda p, s: p.add_new_points_or_box(s, 0, 1, box=[1, 2]), ValueError, "4 values"),
        (lambda p, s: p.add_new_mask(s, 0, 1, mask=np.zeros((3, 3))), ValueError, "video's size"),
        (lambda p, s: p.remove_object(s, 9, strict=True), ValueError, "does not exist"),
    ],
)
def test_bad_calls_by_keyword_still_get_clear_errors(predictor, video, call, error, match):
    state = predictor.init_state(video_path=video)
    with pytest.raises(error, match=match):
        call(predictor, state)


def test_reverse_from_past_the_only_prompt_is_empty_and_says_so(predictor, video):
    """The documented difference from SAM 2: SAM 2 would track frames 3..1 from frame 0's
    memory; here an object starts at its first prompt in the tracking direction, and a
    warning says so instead of frames silently coming back empty."""
    state = predictor.init_state(video)
    predictor.add_new_points_or_box(state, 0, 1, box=[8, 8, 22, 22])
    with pytest.warns(UserWarning, match="no prompt at or after start_frame_idx 3 .reverse."):
        outputs = list(predictor.propagate_in_video(state, start_frame_idx=3, reverse=True))
    assert [o[0] for o in outputs] == [3, 2, 1, 0]
    assert all((o[2] == NO_OBJ_SCORE).all() for o in outputs[:3])
    assert (outputs[3][2] > NO_OBJ_SCORE).any()  # the prompted frame itself


@pytest.mark.parametrize(
    ("start", "reverse"), [(None, False), (None, True), (0, False), (2, False), (0, True)]
)
def test_propagation_from_a_prompt_or_beyond_it_does_not_warn(predictor, video, start, reverse):
    state = predictor.init_state(video)
    predictor.add_new_points_or_box(state, 0, 1, box=[8, 8, 22, 22])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        outputs = list(predictor.propagate_in_video(state, start, reverse=reverse))
    assert outputs
