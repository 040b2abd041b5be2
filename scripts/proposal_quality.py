"""Score each step of a model's detector on fresh synthetic videos: proposals, selection, decoder.

``python scripts/proposal_quality.py [CHECKPOINT_DIR] [--num-videos 10] [--split val]
[--frame-stride 1] [--threads 1]``; without a folder the bundled default model is scored. The
columns are defined in ``sam2_enhanced/training/proposal_quality.py``; videos follow the
``data:`` section of ``--config`` (default: the 128 px training videos).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging

import torch

from sam2_enhanced.data.splits import SPLITS
from sam2_enhanced.training.config import load_train_config
from sam2_enhanced.training.proposal_quality import proposal_quality
from sam2_enhanced.weights.checkpoint import load_pretrained


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", nargs="?", help="save_pretrained folder (default: bundled)")
    parser.add_argument("--config", default="default", help="training config for the data")
    parser.add_argument("--num-videos", type=int, default=10)
    parser.add_argument("--split", choices=SPLITS, default="val", help="seed range of the videos")
    parser.add_argument("--frame-stride", type=int, default=1, help="score every k-th frame")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.threads:
        torch.set_num_threads(args.threads)
    data = load_train_config(args.config).data
    model = load_pretrained(args.checkpoint)
    result = proposal_quality(
        model, data, args.num_videos, split=args.split, frame_stride=args.frame_stride
    )
    for name, value in dataclasses.asdict(result).items():
        print(f"{name:<18}{value:.4f}" if isinstance(value, float) else f"{name:<18}{value}")


if __name__ == "__main__":
    main()
