"""The long-video yardstick: synthetic single-object videos at real resolution.

Short 128 px clips hide what decides whether a tracker is usable: a small target lost after a
few frames and never found again. These videos are ``LONG_FRAMES`` frames long, alternately
640x512 and 1280x720 (by seed), with targets of 4-24 px, look-alike distractors, occlusions of
``LONG_OCCLUSION_FRAMES`` frames behind a covering occluder, camera pans and a share with the
thermal look. The tracked target is the video's first object (as :mod:`.cases` does). ``val``
seeds are for choosing, ``test`` seeds for reporting (:mod:`sam2_enhanced.data.splits`).
"""

from __future__ import annotations

from functools import partial

from sam2_enhanced.data.splits import split_seeds
from sam2_enhanced.data.synthetic_config import SyntheticVideoConfig
from sam2_enhanced.evaluation.cases import CaseRef, case_loader, synthetic_case

LONG_FRAMES = 300  # frames per long video
LONG_SIZES = ((512, 640), (720, 1280))  # (H, W) of even and odd seeds
LONG_OCCLUSION_FRAMES = 12  # frames an occluded target stays hidden


def long_video_config(frame_hw: tuple[int, int], num_frames: int = LONG_FRAMES):
    """The generator's settings for one long video of ``frame_hw`` (H, W)."""
    height, width = frame_hw
    return SyntheticVideoConfig(
        height=height,
        width=width,
        num_frames=num_frames,
        min_objects=1,
        max_objects=3,
        min_object_size=4,
        max_object_size=24,
        prob_occlusion=0.5,
        long_occlusion_frames=LONG_OCCLUSION_FRAMES,
        prob_exit=0.1,
        prob_distractor=0.7,
        prob_camera_motion=0.75,
        prob_thermal=0.3,
    )


def long_synthetic_cases(
    num_videos: int, split: str = "test", max_frames: int | None = None
) -> list[CaseRef]:
    """The first ``num_videos`` long SOT videos of ``split``, named
    ``long-<W>x<H>-<seed>``."""
    if num_videos < 1:
        raise ValueError(f"--synthetic needs at least 1 video, got {num_videos}")
    refs = []
    for seed in split_seeds(split, num_videos):
        height, width = LONG_SIZES[seed % 2]
        cfg = long_video_config((height, width))
        refs.append(
            CaseRef(
                f"long-{width}x{height}-{seed}",
                case_loader(partial(synthetic_case, "sot", seed, cfg), max_frames),
            )
        )
    return refs
