"""The memory policies the memory study compares, as a table of ``MemoryBankConfig`` overrides.

A policy is a name, a group and overrides applied to a copy of the model's config: its
:class:`~sam2_enhanced.config.MemoryBankConfig`, and for the motion group its tracker and
search-window settings (the model is not retrained: which frames are kept, how they are stored
and how large windows are are inference-time choices). :func:`study_policies` lists them:

- ``baseline``: ``default`` (the model's own policy), ``fifo`` (SAM 2's rule: the prompted
  frame plus the 6 most recent frames, no keyframes) and ``keep-all`` (every frame is kept: the
  accuracy upper bound and the memory worst case);
- ``signal``: each significance signal alone, and combinations, under the model's keyframe
  policy (``topk-<signal>``);
- ``fixed``: a fixed-threshold sweep per signal, thresholds in multiples of the signal's
  nominal scale (``fixed-<signal>-x<factor>``);
- ``adaptive``: the adaptive threshold (mean + 1 std of the scores seen) per signal;
- ``topk``: the model's signal with K = 1, 4, 8 keyframes (``topk-k<K>``);
- ``compression``: spatial downsample x1 / x2 / x4, PCA channel rank 4 / 8, and the storage
  dtype float32 / float16 / bfloat16;
- ``longterm``: the long-term store of the last frames the object was seen on, K = 2, 4
  (``longterm-k<K>``), against FIFOs holding as many memories more (``recent-<N>``), so a gain
  in re-acquisition is not just more memory;
- ``motion``: motion classes on (``motion-classes``: labels only, their cost), a static object
  storing a memory every 4th frame (``static-stride-4``), or getting a half-size window
  (``static-window-0.5``);
- ``redetect``: lost objects re-found by full-frame detections (``tracker.redetect_after``
  frames absent), at the default detection threshold and at a low one (``redetect-3``,
  ``redetect-3-low``).
"""

from __future__ import annotations

import dataclasses
import fnmatch
from dataclasses import dataclass
from typing import Any

from sam2_enhanced.config import MemoryBankConfig, ModelConfig
from sam2_enhanced.modeling.signal_set import NOMINAL_SCALES, SEPARATOR

COMBINATIONS = (
    ("mask_iou_change", "optical_flow_magnitude"),
    ("feature_change", "frame_difference"),
)
"""Signal combinations studied (see :mod:`sam2_enhanced.modeling.signal_set`)."""

THRESHOLD_FACTORS = (0.5, 1.0, 2.0)
"""Fixed thresholds of the sweep, in units of each signal's nominal scale."""

ADAPTIVE_NUM_STD = 1.0  # the adaptive policy admits scores above mean + this many std
FIFO_RECENT_FRAMES = 6  # SAM 2 keeps the prompted frame and the 6 most recent ones
KEEP_ALL_FRAMES = 100_000  # "every frame": a FIFO longer than any studied video
TOPK_SIZES = (1, 4, 8)  # keyframe buffer sizes of the top-K group
LONGTERM_SIZES = (2, 4)  # long-term store sizes of the longterm group
STATIC_STRIDE = 4  # a static object stores every 4th frame's memory (motion group)
STATIC_SIDE_FACTOR = 0.5  # and / or gets a window half as large
REDETECT_AFTER = 3  # frames absent before re-detection (redetect group)
REDETECT_LOW_THRESHOLD = 0.1  # the low detection threshold of redetect-3-low
GROUPS = (
    "baseline", "signal", "fixed", "adaptive", "topk", "compression", "longterm", "motion",
    "redetect",
)  # fmt: skip
CLASSIFY = {"tracker.classify_motion": True}  # the override every motion policy needs
REFERENCE_POLICY = "keep-all"  # the accuracy and memory reference of the report's rule


@dataclass(frozen=True)
class MemoryPolicy:
    """One studied policy."""

    name: str  # unique, used in file names and the report
    group: str  # one of GROUPS
    overrides: tuple[tuple[str, Any], ...]  # (key, value): a MemoryBankConfig field, or
    # "tracker.<field>" / "search_window.<field>"

    def apply(self, base: ModelConfig) -> ModelConfig:
        """A copy of ``base`` with the overrides (validated by the configs)."""
        changes: dict[str, dict[str, Any]] = {}
        for key, value in self.overrides:
            section, _, name = key.rpartition(".")
            changes.setdefault(section or "memory_bank", {})[name] = value
        sections = {
            section: dataclasses.replace(getattr(base, section), **fields)
            for section, fields in changes.items()
        }
        return dataclasses.replace(base, **sections)


def _policy(name: str, group: str, **overrides: Any) -> MemoryPolicy:
    return MemoryPolicy(name, group, tuple(sorted(overrides.items())))


def study_policies(base: MemoryBankConfig) -> list[MemoryPolicy]:
    """Every studied policy for a model whose memory bank is ``base`` (see the module doc)."""
    signals = list(NOMINAL_SCALES)
    combos = [SEPARATOR.join(names) for names in COMBINATIONS]
    policies = [
        _policy("default", "baseline"),
        _policy("fifo", "baseline", max_recent_frames=FIFO_RECENT_FRAMES, max_keyframes=0),
        _policy("keep-all", "baseline", max_recent_frames=KEEP_ALL_FRAMES, max_keyframes=0),
    ]
    keyframes = max(base.max_keyframes, 1)
    for signal in [*signals, *combos]:
        policies.append(
            _policy(f"topk-{signal}", "signal", significance=signal, keyframe_policy="topk",
                    max_keyframes=keyframes)
        )  # fmt: skip
    for signal in signals:
        for factor in THRESHOLD_FACTORS:
            policies.append(
                _policy(f"fixed-{signal}-x{factor:g}", "fixed", significance=signal,
                        keyframe_policy="fixed", keyframe_threshold=factor * NOMINAL_SCALES[signal],
                        max_keyframes=keyframes)
            )  # fmt: skip
    for signal in signals:
        policies.append(
            _policy(f"adaptive-{signal}", "adaptive", significance=signal,
                    keyframe_policy="adaptive", keyframe_threshold=ADAPTIVE_NUM_STD,
                    max_keyframes=keyframes)
        )  # fmt: skip
    for k in TOPK_SIZES:
        policies.append(_policy(f"topk-k{k}", "topk", keyframe_policy="topk", max_keyframes=k))
    for factor in (1, 2, 4):
        policies.append(_policy(f"downsample-x{factor}", "compression", spatial_downsample=factor))
    for rank in (4, 8):
        policies.append(_policy(f"pca-{rank}", "compression", channel_rank=rank))
    for dtype in ("float32", "float16", "bfloat16"):
        policies.append(_policy(f"dtype-{dtype}", "compression", storage_dtype=dtype))
    for k in LONGTERM_SIZES:
        policies.append(_policy(f"longterm-k{k}", "longterm", max_longterm_frames=k))
        recent = base.max_recent_frames + k
        policies.append(_policy(f"recent-{recent}", "longterm", max_recent_frames=recent))
    policies += [
        _policy("motion-classes", "motion", **CLASSIFY),
        _policy(f"static-stride-{STATIC_STRIDE}", "motion", static_memory_stride=STATIC_STRIDE,
                **CLASSIFY),
        _policy(f"static-window-{STATIC_SIDE_FACTOR:g}", "motion",
                **{"search_window.static_side_factor": STATIC_SIDE_FACTOR}, **CLASSIFY),
    ]  # fmt: skip
    redetect = {"tracker.redetect_after": REDETECT_AFTER}
    policies += [
        _policy(f"redetect-{REDETECT_AFTER}", "redetect", **redetect),
        _policy(f"redetect-{REDETECT_AFTER}-low", "redetect", **redetect,
                **{"tracker.redetect_threshold": REDETECT_LOW_THRESHOLD}),
    ]  # fmt: skip
    return policies


def select_policies(policies: list[MemoryPolicy], selection: str | None) -> list[MemoryPolicy]:
    """The policies named by ``selection``: comma-separated names, group names or shell
    patterns (``fixed-*``); all of them for None. Order follows ``policies``.

    Raises:
        ValueError: an entry matching no policy, or an empty selection.
    """
    if selection is None:
        return list(policies)
    entries = [e.strip() for e in selection.split(",") if e.strip()]
    if not entries:
        raise ValueError(
            f"--policies {selection!r} names no policy; give names, groups or patterns such as "
            "'fifo,keep-all,fixed-*' (see --list-policies)"
        )
    chosen: set[str] = set()
    for entry in entries:
        matched = {
            p.name for p in policies if p.group == entry or fnmatch.fnmatchcase(p.name, entry)
        }
        if not matched:
            groups = sorted({p.group for p in policies})
            raise ValueError(
                f"--policies: unknown policy {entry!r}; expected a name, a group of {groups} or "
                "a pattern such as 'fixed-*' (see --list-policies)"
            )
        chosen |= matched
    return [p for p in policies if p.name in chosen]
