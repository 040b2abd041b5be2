"""Trivial baselines: what a method scores without looking at any frame after the prompt.

They run under the same protocols as the real methods (see :mod:`sam2_enhanced.evaluation.harness`)
and set the floor a method must clear before it can be said to track:

- SOT ``static``: the init box (the GT box on the first target-present frame) on that frame and
  every later one; NaN rows before it, like every SOT runner.
- VOS ``empty``: no mask for any object on any frame. Where the object is absent both masks are
  empty and DAVIS scores J = F = 1, so this is not zero.
- VOS ``static-mask``: each object's prompt mask (its GT mask on its first annotated frame where
  it is visible) on that frame and every later annotated frame; empty before. Objects are
  scored one by one, so overlapping masks of two objects are kept as they are.
"""

from __future__ import annotations

import numpy as np

from sam2_enhanced.evaluation.cases import SotCase, VosCase


def sot_static(case: SotCase) -> np.ndarray:
    """(T, 4) float64 ``xyxy``: the init box repeated from the init frame on, NaN before."""
    start = case.init_frame
    boxes = np.full((case.num_frames, 4), np.nan)
    boxes[start:] = case.boxes_xyxy[start]
    return boxes


def vos_empty(case: VosCase) -> np.ndarray:
    """(O, A, H, W) bool, all False."""
    num_annotated, num_objects, height, width = case.masks.shape
    return np.zeros((num_objects, num_annotated, height, width), dtype=bool)


def vos_static_mask(case: VosCase) -> np.ndarray:
    """(O, A, H, W) bool: each object's prompt mask on its prompt frame and every later one."""
    pred = vos_empty(case)
    for o, frame in enumerate(case.prompt_frames()):
        if frame < 0:  # never visible: never prompted, nothing predicted
            continue
        entry = int(np.searchsorted(case.annotated_frames, frame))  # index in A
        pred[o, entry:] = case.masks[entry, o]
    return pred
