"""Validate a checkpoint folder on fresh synthetic videos and print mean mask IoU and AP50.

``python scripts/validate.py [CHECKPOINT_DIR] [--config default] [--num-videos 20]
[--split val]``; without a folder the bundled default model is validated. Videos are the first
seeds of the split (``val`` by default, see ``sam2_enhanced/data/splits.py``) and follow the
``data:`` section of the training config. The mask IoU table puts the model next to the two
trivial baselines (``empty``: no mask; ``static``: the prompt box filled on every frame).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging

import torch

from sam2_enhanced.data.splits import SPLITS
from sam2_enhanced.training.config import load_train_config
from sam2_enhanced.training.validate import validate
from sam2_enhanced.weights.checkpoint import load_pretrained


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", nargs="?", help="save_pretrained folder (default: bundled)")
    parser.add_argument("--config", default="default", help="training config for the data")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--num-videos", type=int, default=20)
    parser.add_argument("--split", choices=SPLITS, default="val", help="seed range of the videos")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.threads:
        torch.set_num_threads(args.threads)
    run = load_train_config(args.config, args.overrides)
    model = load_pretrained(args.checkpoint)
    result = validate(model, run.data, args.num_videos, split=args.split)
    title = f"mask IoU, {args.num_videos} {args.split} videos"
    print(f"{title:<32}" + "".join(f"{column:>9}" for column in ("all", "prompted", "tracked")))
    rows = (
        ("model", "mean_mask_iou"),
        ("empty", "empty_mask_iou"),
        ("static (prompt box)", "static_mask_iou"),
    )
    for name, prefix in rows:
        values = [getattr(result, prefix + suffix) for suffix in ("", "_prompted", "_tracked")]
        print(f"{name:<32}" + "".join(f"{value:>9.3f}" for value in values))
    for field in dataclasses.fields(result):
        print(f"{field.name}: {getattr(result, field.name)}")


if __name__ == "__main__":
    main()
