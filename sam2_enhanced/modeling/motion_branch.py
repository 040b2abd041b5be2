"""Motion branch: what changed since a neighbouring frame, as a stride-4 map for the detector.

A small moving object in clutter is hard to tell from the clutter in one frame and stands out
in the difference of two frames (where it moved, turned or flickered). The branch turns
``frame - neighbour`` (normalized pixels, model input size) into a ``d_model`` map at stride 4
that is added to the detector's high-res level (``EncoderOutput.fpn_s0``, read by the stride-4
proposals and the small-object refinement); the masks keep reading the encoder's own maps.
Every convolution is bias-free and the last one starts at zero, so a model fine-tuned with the
branch starts from the function it had without it, and a frame without a neighbour (a zero
difference) gets exactly no motion. A branch this new learns slowly at a fine-tune's learning
rate: train it with ``train.fast_parts: [motion_branch]``. With ``use_alignment`` the neighbour
is first shifted onto the frame by the global camera shift
(:mod:`~sam2_enhanced.modeling.neighbour_alignment`), so a panning camera does not light up
the whole difference.

A frame's neighbour is the frame before it; the first frame's is the second
(:func:`neighbour_index`).

Shapes: B frames, S the model input side, d ``d_model``.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


def neighbour_of(frame_idx: int, num_frames: int | None) -> int | None:
    """The frame that frame ``frame_idx`` is compared with: ``frame_idx - 1``, and 1 for frame 0;
    None for frame 0 of a one-frame video or of a stream of unknown length (``num_frames`` None:
    the next frame is not there yet)."""
    if frame_idx > 0:
        return frame_idx - 1
    return 1 if num_frames is not None and num_frames > 1 else None


def neighbour_index(num_frames: int) -> list[int]:
    """Index of each frame's neighbour among ``num_frames`` consecutive frames
    (:func:`neighbour_of`; frame 0 of a one-frame clip is its own: no motion)."""
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    return [t if (n := neighbour_of(t, num_frames)) is None else n for t in range(num_frames)]


class MotionBranch(nn.Module):
    """Two bias-free stride-2 convolutions on a frame difference and a zero-initialised 1x1
    projection to ``d_model``."""

    def __init__(self, *, hidden_dim: int, d_model: int, use_alignment: bool = False) -> None:
        super().__init__()
        if hidden_dim < 1:
            raise ValueError(f"hidden_dim must be >= 1, got {hidden_dim}")
        self.use_alignment = use_alignment  # the neighbour is first shifted onto the frame
        self.net = nn.Sequential(
            nn.Conv2d(3, hidden_dim, kernel_size=3, stride=2, padding=1, bias=False),
            nn.GELU(),
            nn.Conv2d(hidden_dim, hidden_dim, kernel_size=3, stride=2, padding=1, bias=False),
            nn.GELU(),
            nn.Conv2d(hidden_dim, d_model, kernel_size=1, bias=False),
        )
        nn.init.zeros_(self.net[-1].weight)

    def forward(self, difference: Tensor, out_size: tuple[int, int]) -> Tensor:
        """(B, 3, S, S) normalized ``frame - neighbour`` -> (B, d, *out_size) motion map, resized
        from stride 4 to the detector's stride-4 level (the encoder's ``4g``)."""
        if difference.ndim != 4 or difference.shape[1] != 3:
            raise ValueError(
                f"difference must be (B, 3, S, S), got shape {tuple(difference.shape)}"
            )
        motion = self.net(difference)  # (B, d, S/4, S/4)
        return F.interpolate(motion, size=out_size, mode="bilinear", align_corners=False)
