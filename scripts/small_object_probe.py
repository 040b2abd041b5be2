"""How often the predictor finds one still small object on a large frame, tiles off and on.

``python scripts/small_object_probe.py [CHECKPOINT_DIR] [--num-videos 20] [--size 8]
[--frame 1280x720] [--tiles model|off|on|both] [--threads 1]``; without a folder the bundled
default model is probed. The rate is issue 11's "8-px object on a 1280x720 frame" test over many
videos (``sam2_enhanced/evaluation/small_object_probe.py``); ``model`` keeps the model's own
tile setting.
"""

from __future__ import annotations

import argparse
import logging

import torch

from sam2_enhanced.data.splits import SPLITS
from sam2_enhanced.enhanced_video_predictor import SAM2EnhancedVideoPredictor
from sam2_enhanced.evaluation.small_object_probe import small_object_probe
from sam2_enhanced.weights.checkpoint import load_pretrained

TILE_CHOICES = {"model": (None,), "off": (False,), "on": (True,), "both": (False, True)}


def frame_size(text: str) -> tuple[int, int]:
    """``WIDTHxHEIGHT`` -> (height, width)."""
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"--frame must be WIDTHxHEIGHT, got {text!r}") from error
    return height, width


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", nargs="?", help="save_pretrained folder (default: bundled)")
    parser.add_argument("--num-videos", type=int, default=20)
    parser.add_argument("--size", type=int, default=8, help="object side in video pixels")
    parser.add_argument("--frame", type=frame_size, default=(720, 1280), help="WIDTHxHEIGHT")
    parser.add_argument("--tiles", choices=TILE_CHOICES, default="both")
    parser.add_argument("--split", choices=SPLITS, default="val", help="seed range of the videos")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.threads:
        torch.set_num_threads(args.threads)
    predictor = SAM2EnhancedVideoPredictor(load_pretrained(args.checkpoint), device="cpu")
    height, width = args.frame
    print(
        f"{args.size} px object on {width}x{height} frames, {args.num_videos} {args.split} videos"
    )
    print(
        f"{'tiles':<8}{'found':>10}{'rate':>8}{'mean best IoU':>15}{'dets/frame':>12}{'s/frame':>9}"
    )
    for use_tiles in TILE_CHOICES[args.tiles]:
        probed = predictor if use_tiles is None else predictor.with_detection_tiles(use_tiles)
        result = small_object_probe(
            probed, num_videos=args.num_videos, height=height, width=width,
            object_size=args.size, split=args.split,
        )  # fmt: skip
        name = "on" if probed.tiles.enabled else "off"
        found = f"{result.num_found}/{result.num_videos}"
        print(
            f"{name:<8}{found:>10}{result.found_rate:>8.2f}"
            f"{sum(result.best_ious) / result.num_videos:>15.3f}"
            f"{result.mean_detections:>12.1f}{result.seconds_per_frame:>9.3f}"
        )


if __name__ == "__main__":
    main()
