"""SAM mask head: boxes and clicks drawn into the dense prompt (``use_dense_prompt_prior``), and
a click at the centre of the previous mask on tracked frames (``previous_centre_prompt``)."""

import pytest
import torch

from sam2_enhanced.modeling.sam_mask_head import (
    NO_OBJ_SCORE,
    SamMaskHead,
    previous_centre_prompt,
    rasterize_prompts,
)

IMAGE, MASK = 112, 32  # model-input pixels and mask grid: 3.5 px per cell


def head(use_prior: bool, previous_centre: bool = False) -> SamMaskHead:
    torch.manual_seed(0)
    return SamMaskHead(
        d_model=32,
        grid_size=8,
        image_size=IMAGE,
        num_layers=1,
        num_heads=2,
        mlp_dim=32,
        num_multimask_outputs=3,
        iou_head_hidden_dim=16,
        use_dense_prompt_prior=use_prior,
        previous_centre_prompt=previous_centre,
    )


@pytest.mark.parametrize(
    ("coords", "labels", "expected_cells"),
    [
        # a box marks every cell it overlaps: x, y in [7, 21) px -> cells 2..5 on both axes
        ([[7.0, 7.0], [21.0, 21.0]], [2, 3], [(r, c) for r in range(2, 6) for c in range(2, 6)]),
        # corners given in the other order draw the same box
        ([[21.0, 21.0], [7.0, 7.0]], [2, 3], [(r, c) for r in range(2, 6) for c in range(2, 6)]),
        # a box smaller than one cell still marks the cell it lies in
        ([[50.0, 50.2], [50.5, 50.4]], [2, 3], [(14, 14)]),
        # a positive click marks its cell (x=10 -> column 2, y=40 -> row 11)
        ([[10.0, 40.0], [0.0, 0.0]], [1, -1], [(11, 2)]),
        # negative clicks and padding mark nothing
        ([[10.0, 40.0], [60.0, 60.0]], [0, -1], []),
        # a box and a positive click outside it
        ([[0.0, 0.0], [3.0, 3.0], [111.0, 111.0]], [2, 3, 1], [(0, 0), (31, 31)]),
    ],
)
def test_rasterize_prompts(coords, labels, expected_cells):
    masks, marked = rasterize_prompts(
        torch.tensor([coords]), torch.tensor([labels], dtype=torch.int32), IMAGE, MASK
    )
    assert masks.shape == (1, 1, MASK, MASK)
    cells = sorted(map(tuple, torch.nonzero(masks[0, 0]).tolist()))
    assert cells == sorted(expected_cells)
    assert bool(marked[0]) == bool(expected_cells)


def test_rasterize_prompts_rows_are_independent():
    coords = torch.tensor([[[7.0, 7.0], [21.0, 21.0]], [[100.0, 10.0], [0.0, 0.0]]])
    labels = torch.tensor([[2, 3], [1, -1]], dtype=torch.int32)
    batched, _ = rasterize_prompts(coords, labels, IMAGE, MASK)
    for row in range(2):
        single, _ = rasterize_prompts(coords[row : row + 1], labels[row : row + 1], IMAGE, MASK)
        torch.testing.assert_close(batched[row : row + 1], single)


def prompts():
    """Row 0: box; row 1: mask prompt; row 2: nothing (tracked from memory)."""
    coords = torch.tensor([[[7.0, 7.0], [21.0, 21.0]], [[0.0, 0.0]] * 2, [[0.0, 0.0]] * 2])
    labels = torch.tensor([[2, 3], [-1, -1], [-1, -1]], dtype=torch.int32)
    mask_inputs = torch.zeros(3, 1, MASK, MASK)
    mask_inputs[1, 0, 20:24, 20:24] = 1.0
    has_mask = torch.tensor([False, True, False])
    return coords, labels, mask_inputs, has_mask


def test_dense_prior_embeds_the_drawn_box_and_keeps_mask_prompts():
    module = head(use_prior=True)
    coords, labels, mask_inputs, has_mask = prompts()
    dense = module.embed_dense(mask_inputs, has_mask, coords, labels)  # (3, d, g, g)
    drawn, _ = rasterize_prompts(coords[:1], labels[:1], IMAGE, MASK)
    downscale = module.prompt_encoder.mask_downscaling
    torch.testing.assert_close(dense[0], downscale(drawn)[0])
    torch.testing.assert_close(dense[1], downscale(mask_inputs[1:2])[0])
    no_mask = module.prompt_encoder.no_mask_embed.weight.reshape(-1, 1, 1)
    torch.testing.assert_close(dense[2], no_mask.expand_as(dense[2]))


def test_without_the_prior_boxes_get_no_mask_embed_as_in_sam2():
    module = head(use_prior=False)
    coords, labels, mask_inputs, has_mask = prompts()
    dense = module.embed_dense(mask_inputs, has_mask, coords, labels)
    no_mask = module.prompt_encoder.no_mask_embed.weight.reshape(-1, 1, 1)
    torch.testing.assert_close(dense[0], no_mask.expand_as(dense[0]))
    torch.testing.assert_close(dense[2], no_mask.expand_as(dense[2]))


def test_prior_changes_the_decoding_of_a_box_and_gradients_reach_the_downscaling():
    with_prior, without = head(use_prior=True), head(use_prior=False)
    without.load_state_dict(with_prior.state_dict())  # the flag adds no parameters
    coords, labels, _, _ = prompts()
    kwargs = dict(
        features=torch.randn(1, 32, 8, 8),
        fpn_s1=torch.randn(1, 32, 16, 16),
        fpn_s0=torch.randn(1, 32, 32, 32),
        point_coords=coords[:1],
        point_labels=labels[:1],
        mask_inputs=None,
        has_mask=torch.tensor([False]),
        multimask_output=False,
    )
    out = with_prior(**kwargs)  # untrained: masks are gated to "absent", so compare the rest
    assert not torch.allclose(out.obj_ptr, without(**kwargs).obj_ptr)
    (out.obj_ptr.sum() + out.iou_preds.sum()).backward()
    grads = [p.grad for p in with_prior.prompt_encoder.mask_downscaling.parameters()]
    assert all(g is not None and g.abs().sum() > 0 for g in grads)


def test_previous_centre_prompt_clicks_the_centre_of_each_mask_box():
    logits = torch.full((3, 1, MASK, MASK), -5.0)
    logits[0, 0, 10, 12] = 3.0  # one cell
    logits[1, 0, 0:2, 0:3] = 1.0  # rows 0-1, columns 0-2: centre (x 1.5, y 1) -> cell (1, 1)
    logits[1, 0, 9, 9] = 1.0  # a second blob widens the box to rows 0-9, columns 0-9 -> (5, 5)
    logits[2] = NO_OBJ_SCORE  # absent on the previous frame
    clicks, present = previous_centre_prompt(logits, IMAGE)
    assert clicks.shape == (3, 1, MASK, MASK)
    assert present.tolist() == [True, True, False]
    assert torch.nonzero(clicks[:, 0]).tolist() == [[0, 10, 12], [1, 5, 5]]


def test_previous_centre_is_the_dense_prompt_of_unprompted_rows_only():
    module = head(use_prior=True, previous_centre=True)
    coords, labels, mask_inputs, has_mask = prompts()
    previous = torch.full((3, 1, MASK, MASK), -5.0)
    previous[:, 0, 5:7, 5:7] = 5.0  # every object had a mask on the previous frame
    dense = module.embed_dense(mask_inputs, has_mask, coords, labels, previous)
    alone = module.embed_dense(mask_inputs, has_mask, coords, labels)
    torch.testing.assert_close(dense[:2], alone[:2])  # the box and the mask prompt win
    clicks, _ = previous_centre_prompt(previous[2:], IMAGE)
    downscale = module.prompt_encoder.mask_downscaling
    torch.testing.assert_close(dense[2], downscale(clicks)[0])
    # an object absent on the previous frame keeps SAM's no_mask_embed
    previous[2] = NO_OBJ_SCORE
    dense = module.embed_dense(mask_inputs, has_mask, coords, labels, previous)
    torch.testing.assert_close(dense[2], alone[2])


def test_previous_centre_is_ignored_when_switched_off():
    module = head(use_prior=True, previous_centre=False)
    coords, labels, mask_inputs, has_mask = prompts()
    previous = torch.full((3, 1, MASK, MASK), 5.0)
    torch.testing.assert_close(
        module.embed_dense(mask_inputs, has_mask, coords, labels, previous),
        module.embed_dense(mask_inputs, has_mask, coords, labels),
    )
