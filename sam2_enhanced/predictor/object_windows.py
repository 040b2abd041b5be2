"""The predictor's side of search windows: which window each object gets on a frame (from its
prompt, or from its motion), the window images for the encoder, and the mask maps between frames.

Geometry is in :mod:`sam2_enhanced.modeling.search_window`; this module applies it with a
:class:`~sam2_enhanced.config.SearchWindowConfig`. With ``use_search_window`` off every object's
window is the whole frame (squashed to the model input, as SAM 2 does), so one code path serves
both.
"""

from __future__ import annotations

import torch
from torch import Tensor

from sam2_enhanced.config import SearchWindowConfig
from sam2_enhanced.modeling.search_window import (
    ObjectMotion,
    crop_windows,
    default_side,
    mask_boxes,
    next_windows,
    square_windows,
    to_frame_coords,
    windows_around_boxes,
)

BOX_CORNER_LABELS = (2, 3)  # point labels of a box's top-left and bottom-right corners


class WindowPlanner:
    """Windows of prompted and tracked objects for one model input size.

    Args:
        cfg: the model's search-window settings.
        image_size: side S of the model input a window is resized to.
    """

    def __init__(self, cfg: SearchWindowConfig, image_size: int) -> None:
        self.cfg = cfg
        self.image_size = image_size

    @property
    def enabled(self) -> bool:
        return self.cfg.use_search_window

    @staticmethod
    def full_frame(frame_hw: tuple[int, int]) -> Tensor:
        """(4,) the whole frame as a window."""
        height, width = frame_hw
        return torch.tensor([0.0, 0.0, float(width), float(height)])

    def around_boxes(self, boxes_xyxy: Tensor, frame_hw: tuple[int, int]) -> Tensor:
        """(N, 4) boxes -> (N, 4) windows of ``search_scale`` times their size."""
        return windows_around_boxes(
            boxes_xyxy.float(),
            frame_hw,
            search_scale=self.cfg.search_scale,
            min_side=self.cfg.min_side,
            max_side_frac=self.cfg.max_side_frac,
        )

    def prompt_window(
        self,
        video_coords: Tensor,
        labels: Tensor,
        mask: Tensor | None,
        frame_hw: tuple[int, int],
    ) -> Tensor:
        """(4,) window of a prompt: around the mask's box, the box, or the positive clicks.

        Args:
            video_coords: (P, 2) points in video pixels (box corners have labels 2, 3).
            labels: (P,) int point labels (-1: padding).
            mask: (H, W) bool mask prompt, or None.
        """
        if not self.enabled:
            return self.full_frame(frame_hw)
        if mask is not None:
            box = mask_boxes(mask[None])[0]
            if box is None:
                return self.full_frame(frame_hw)  # an empty mask says nothing about where
            return self.around_boxes(box[None], frame_hw)[0]
        corners = (labels == BOX_CORNER_LABELS[0]) | (labels == BOX_CORNER_LABELS[1])
        if corners.any():
            box = torch.cat([video_coords[corners].amin(0), video_coords[corners].amax(0)])
            return self.around_boxes(box[None], frame_hw)[0]
        clicks = video_coords[labels == 1] if (labels == 1).any() else video_coords[labels >= 0]
        low, high = clicks.amin(0), clicks.amax(0)
        side = max(
            default_side(frame_hw, self.cfg.click_side_frac),
            float((high - low).max()) * self.cfg.search_scale,
        )
        return square_windows(
            ((low + high) / 2)[None].float(),
            torch.tensor([side]),
            frame_hw,
            min_side=self.cfg.min_side,
            max_side_frac=self.cfg.max_side_frac,
        )[0]

    def tracking_windows(self, motions: list[ObjectMotion], frame_hw: tuple[int, int]) -> Tensor:
        """(O, 4) each tracked object's window on the next frame, from its motion."""
        if not self.enabled:
            return self.full_frame(frame_hw)[None].repeat(len(motions), 1)
        return next_windows(
            motions,
            frame_hw,
            search_scale=self.cfg.search_scale,
            min_side=self.cfg.min_side,
            max_side_frac=self.cfg.max_side_frac,
            use_velocity=self.cfg.motion_model == "constant_velocity",
            lost_growth=self.cfg.lost_growth,
        )

    def window_images(self, frame: Tensor, windows_xyxy: Tensor) -> Tensor:
        """(3, H, W) uint8 frame -> (O, 3, S, S) float window images in [0, 1]."""
        return crop_windows(frame, windows_xyxy, self.image_size) / 255.0

    def motion_from(self, box_xyxy: Tensor | None, window_xyxy: Tensor) -> ObjectMotion:
        """Motion of an object first seen as ``box_xyxy`` (4,) in ``window_xyxy`` (4,): when its
        mask is empty (None), the box the window was made around (its centre, side / scale)."""
        if box_xyxy is None:
            centre = (window_xyxy[:2] + window_xyxy[2:]) / 2
            half = (window_xyxy[2:] - window_xyxy[:2]) / (2 * self.cfg.search_scale)
            box_xyxy = torch.cat([centre - half, centre + half])
        return ObjectMotion.start(box_xyxy)

    def update(self, motion: ObjectMotion, box_xyxy: Tensor | None) -> None:
        """Record an object's box (None: judged absent) on the frame just tracked."""
        motion.update(box_xyxy, self.cfg.velocity_momentum)


def box_in_frame(mask_logits: Tensor, window_xyxy: Tensor) -> Tensor | None:
    """(1, m, m) logits over a window -> (4,) video-pixel box of the mask (None when empty)."""
    box = mask_boxes(mask_logits.detach().float().cpu() > 0)[0]
    if box is None:
        return None
    corners = box.view(1, 2, 2)  # (1, 2, 2) in mask cells
    return to_frame_coords(corners, window_xyxy.float().cpu()[None], mask_logits.shape[-1]).view(4)
