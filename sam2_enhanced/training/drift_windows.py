"""Drift training: windows placed by the model's own previous prediction, as at inference.

The dataset places each frame's window around the target's true box on the frame before, with
jitter. At inference the window follows the model's own mask instead, and once that mask drifts
(onto a look-alike, swollen, empty), the next window drifts with it; a model that never saw such
windows cannot recover. :class:`DriftWindows` follows one clip's target the way the predictor
does (``WindowPlanner``: the mask's main component with the centre prior, its box, the object's
motion, growth while judged absent) and, on a ``prob`` share of the frames after the first, hands
the step that window instead of the dataset's. The window is cut from the frame's context
(``ClipBatch.context_xyxy``), so it is kept inside it (``fit_inside``).
"""

from __future__ import annotations

import torch
from torch import Tensor

from sam2_enhanced.modeling.sam_mask_head import NO_OBJ_SCORE, MaskHeadOutput
from sam2_enhanced.modeling.search_window import ObjectMotion, fit_inside, main_component
from sam2_enhanced.predictor.object_windows import WindowPlanner, box_in_frame


class DriftWindows:
    """Windows of one clip's single tracked target that follow the model's predictions.

    Args:
        planner: the predictor's window planner (the model's search-window settings).
        prob: chance that a frame after the first gets the followed window.
        contexts_xyxy: (T, 4) video pixels each frame of the clip can be cut from.
        video_hw: (H, W) of the clip's video (windows are clamped to it as the predictor's).
    """

    def __init__(
        self,
        planner: WindowPlanner,
        prob: float,
        contexts_xyxy: Tensor,
        video_hw: tuple[int, int],
    ) -> None:
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f"prob must be in [0, 1], got {prob}")
        self.planner = planner
        self.prob = prob
        self.contexts_xyxy = contexts_xyxy.float().cpu()
        self.video_hw = video_hw
        self.motion: ObjectMotion | None = None

    def window(self, t: int, generator: torch.Generator) -> Tensor | None:
        """(4,) video-pixel window of frame ``t`` from the followed motion, or None: the step
        takes the dataset's window (frame 0, nothing followed yet, or not drawn)."""
        if t == 0 or self.motion is None:
            return None
        if float(torch.rand((), generator=generator)) >= self.prob:
            return None
        window = self.planner.tracking_windows([self.motion], self.video_hw)  # (1, 4)
        return fit_inside(window, self.contexts_xyxy[t][None])[0]

    def follow(self, masks: MaskHeadOutput, window_xyxy: Tensor) -> None:
        """Record the target's prediction (row 0 of ``masks``) over ``window_xyxy`` (4,)."""
        cfg = self.planner.cfg
        logits = masks.mask_logits[0].detach().float()  # (1, m, m)
        if cfg.keep_main_component:
            logits = main_component(logits, NO_OBJ_SCORE, cfg.centre_prior)
        visible = bool(masks.object_score_logits[0, 0] > 0)
        box = box_in_frame(logits, window_xyxy) if visible else None
        if self.motion is None:
            self.motion = self.planner.motion_from(box, window_xyxy.detach().float().cpu())
        else:
            self.planner.update(self.motion, box)
