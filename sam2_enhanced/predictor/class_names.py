"""Class names of a predictor's detections: ``class_id -> name``, the unknown class included.

A prompted object that no detection has matched has ``class_id`` :data:`UNKNOWN_CLASS_ID` (-1),
which is not a class index: :func:`class_names_map` (the predictor's ``names``) maps it to
:data:`UNKNOWN_CLASS`, so ``names[class_id]`` never reads -1 as the last class.
"""

from __future__ import annotations

from collections.abc import Sequence

from sam2_enhanced.data.synthetic import CLASS_NAMES
from sam2_enhanced.predictor.video_state import UNKNOWN_CLASS_ID

UNKNOWN_CLASS = "object"  # name of UNKNOWN_CLASS_ID: a prompted object of no known class


def default_class_names(num_classes: int) -> tuple[str, ...]:
    """Names of a model's classes: the synthetic classes it is trained on, else ``class k``."""
    if num_classes == len(CLASS_NAMES):
        return tuple(CLASS_NAMES)
    return tuple(f"class {k}" for k in range(num_classes))


def class_names_map(num_classes: int) -> dict[int, str]:
    """``class_id -> name`` for every class_id a predictor reports: ``UNKNOWN_CLASS_ID`` (-1)
    -> :data:`UNKNOWN_CLASS`, then ``0..num_classes-1`` -> :func:`default_class_names`. A dict,
    so ``names[-1]`` is "object", not the last class, and an id it lacks raises ``KeyError``."""
    return {UNKNOWN_CLASS_ID: UNKNOWN_CLASS, **dict(enumerate(default_class_names(num_classes)))}


def class_name(class_id: int, class_names: Sequence[str]) -> str:
    """``class_names[class_id]``, or :data:`UNKNOWN_CLASS` when the id is out of range."""
    return class_names[class_id] if 0 <= class_id < len(class_names) else UNKNOWN_CLASS
