"""One significance signal or a combination of several, as named by ``memory_bank.significance``.

A name is one entry of :data:`~sam2_enhanced.modeling.significance.SIGNALS`
(``"feature_change"``) or several joined by ``+`` (``"mask_iou_change+optical_flow_magnitude"``).
A single signal scores exactly as its function does. A combination divides each signal's score
by its nominal scale (:data:`NOMINAL_SCALES`: the score of a clear change, so every normalised
signal reads about 1 there) and takes the largest: a frame is significant when any of its
signals says so. Signals whose input is not available yet (no previous mask, say) are left out;
with none available the score is None, which the bank treats as "never a keyframe".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sam2_enhanced.modeling.significance import SIGNALS, InputKind, Signal, get_signal

SEPARATOR = "+"

NOMINAL_SCALES: dict[str, float] = {
    "frame_difference": 0.05,  # mean |difference| of 5 % of the grey range
    "histogram_distance": 0.2,  # Bhattacharyya distance of a visible colour shift
    "ssim_distance": 0.3,  # 1 - SSIM of a visibly different frame
    "edge_change_ratio": 0.3,  # a third of the edges moved
    "optical_flow_magnitude": 0.01,  # mean flow of 1 % of the frame diagonal per frame
    "mask_iou_change": 0.3,  # the mask lost 30 % IoU to the previous one
    "feature_change": 0.1,  # cosine distance of a clear appearance change
}
"""Score of a clear change per signal; combined signals are measured in these units."""


def signal_names(spec: str) -> tuple[str, ...]:
    """``"a+b"`` -> ``("a", "b")``, each a known signal, no repeats.

    Raises:
        ValueError: an empty or unknown name, or a repeated one.
    """
    if not isinstance(spec, str):
        raise TypeError(f"significance must be a string such as 'feature_change', got {spec!r}")
    names = tuple(part.strip() for part in spec.split(SEPARATOR))
    if not all(names):
        raise ValueError(
            f"significance {spec!r} has an empty name; join names of {sorted(SIGNALS)} with "
            f"'{SEPARATOR}', e.g. 'mask_iou_change+optical_flow_magnitude'"
        )
    for name in names:
        get_signal(name)  # raises ValueError naming the valid signals
    if len(set(names)) != len(names):
        raise ValueError(f"significance {spec!r} repeats a signal; name each one once")
    return names


def combine_scores(scores: Mapping[str, float | None]) -> float | None:
    """Largest normalised score (``score / NOMINAL_SCALES[name]``) of the signals that have one.

    Args:
        scores: signal name -> raw score, or None where the signal had no input.

    Returns:
        The combined score (>= 0), or None when no signal has a score.
    """
    normalised = [s / NOMINAL_SCALES[name] for name, s in scores.items() if s is not None]
    return max(normalised) if normalised else None


@dataclass(frozen=True)
class SignalSet:
    """The signals of one ``memory_bank.significance`` name (see the module docstring)."""

    names: tuple[str, ...]  # signal names, in the order given

    @classmethod
    def parse(cls, spec: str) -> SignalSet:
        """Parse ``"a"`` or ``"a+b"`` (raises ``ValueError`` on an unknown or repeated name)."""
        return cls(signal_names(spec))

    @property
    def signals(self) -> dict[str, Signal]:
        return {name: SIGNALS[name] for name in self.names}

    def needs(self, kind: InputKind) -> bool:
        """Whether some signal scores inputs of ``kind``: "frame", "mask" or "feature"."""
        return any(signal.input_kind == kind for signal in self.signals.values())

    def score(self, pairs: Mapping[str, tuple[Any, Any]]) -> float | None:
        """Score the ``(prev, cur)`` input pairs, keyed by input kind.

        A kind missing from ``pairs`` leaves its signals out. One signal: its raw score (None
        when its input is missing); several: :func:`combine_scores`.
        """
        scores = {
            name: signal.fn(*pairs[signal.input_kind]) if signal.input_kind in pairs else None
            for name, signal in self.signals.items()
        }
        if len(scores) == 1:
            return next(iter(scores.values()))
        return combine_scores(scores)
