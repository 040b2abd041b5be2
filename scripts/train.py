"""Train a model: ``python scripts/train.py --config default [--set train.lr=1e-4 ...]``.

Single process by default; launch with ``torchrun --nproc_per_node=N scripts/train.py ...`` for
DDP (``gloo`` on CPU, ``nccl`` on GPU).
"""

from __future__ import annotations

import argparse
import logging

from sam2_enhanced.training.config import load_train_config
from sam2_enhanced.training.trainer import Trainer


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="training preset name or YAML path")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override a config value, e.g. train.lr=1e-4 or model.decoder.num_layers=3",
    )
    parser.add_argument("--resume", help="checkpoint.pt (or its folder) to continue from")
    parser.add_argument("--output-dir", help="shortcut for --set train.output_dir=DIR")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    overrides = list(args.overrides)
    if args.output_dir:
        overrides.append(f"train.output_dir={args.output_dir}")
    run = load_train_config(args.config, overrides)
    summary = Trainer(run, resume=args.resume).train()
    logging.getLogger("train").info(
        "rank %d done: %d steps in %.0f s, final loss %.4f, validation %s, output in %s",
        summary.rank,
        summary.steps,
        summary.wall_time_s,
        summary.final_loss,
        summary.validation,
        summary.output_dir,
    )


if __name__ == "__main__":
    main()
