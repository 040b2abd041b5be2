"""Validate a checkpoint folder on fresh synthetic videos and print mean mask IoU and AP50.

``python scripts/validate.py [CHECKPOINT_DIR] [--config default] [--num-videos 20]``; without a
folder the bundled default model is validated. Videos follow the ``data:`` section of the
training config.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging

import torch

from sam2_enhanced.training.config import load_train_config
from sam2_enhanced.training.validate import validate
from sam2_enhanced.weights.checkpoint import load_pretrained


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", nargs="?", help="save_pretrained folder (default: bundled)")
    parser.add_argument("--config", default="default", help="training config for the data")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--num-videos", type=int, default=20)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.threads:
        torch.set_num_threads(args.threads)
    run = load_train_config(args.config, args.overrides)
    model = load_pretrained(args.checkpoint)
    result = validate(model, run.data, args.num_videos)
    for field in dataclasses.fields(result):
        print(f"{field.name}: {getattr(result, field.name)}")


if __name__ == "__main__":
    main()
