"""Training throughput: model inputs (frames or search windows) through forward + backward per
second, for a training preset: ``python scripts/train_throughput.py --config windows_finetune``.

Builds the trainer as ``scripts/train.py`` does, runs ``--warmup`` untimed steps, then times
``--steps`` optimizer steps (data generation included, as in training) and prints one line.
Nothing is saved.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch

from sam2_enhanced.training.config import load_train_config
from sam2_enhanced.training.trainer import Trainer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="training preset name or YAML path")
    parser.add_argument("--steps", type=int, default=20, help="timed optimizer steps")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.warmup < 0:
        parser.error(f"--steps must be >= 1 and --warmup >= 0, got {args.steps}, {args.warmup}")
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as out:
        run = load_train_config(
            args.config,
            [f"train.output_dir={out}", f"train.num_threads={args.threads}", "train.num_workers=0"],
        )
        trainer = Trainer(run)
        batches = trainer.batches()
        for _ in range(args.warmup):
            trainer.train_step(next(batches))
        start = time.perf_counter()
        for _ in range(args.steps):
            trainer.train_step(next(batches))
        seconds = time.perf_counter() - start
    inputs = args.steps * run.train.batch_size * run.train.clip_len
    print(
        f"{args.config}: {inputs / seconds:.2f} inputs/s ({run.model.encoder.image_size} px, "
        f"{run.train.batch_size} clips x {run.train.clip_len} frames per step, "
        f"{seconds / args.steps:.2f} s/step, {args.threads} thread(s), data generation included)"
    )


if __name__ == "__main__":
    main()
