"""The detection set loss with the weights the loss tests share (one place to build it)."""

from sam2_enhanced.training.losses import SetCriterion
from sam2_enhanced.training.matcher import HungarianMatcher


def set_criterion(**overrides) -> SetCriterion:
    """A :class:`SetCriterion` of weights class 2, L1 5, GIoU 2 on a 100 px input; keyword
    arguments replace any of its settings (small_object_boost, class_loss, ...)."""
    settings = {
        "class_weight": 2.0,
        "l1_weight": 5.0,
        "giou_weight": 2.0,
        "refine_weight": 1.0,
        "small_object_size": 16.0,
        "image_size": 100,
        "small_object_boost": 2.0,
    }
    settings.update(overrides)
    return SetCriterion(
        matcher=HungarianMatcher(class_weight=2.0, l1_weight=5.0, giou_weight=2.0), **settings
    )
