"""The training loop: AdamW, warmup + cosine schedule, AMP on GPU, gradient clipping,
checkpoint / resume, tqdm progress, CSV logs, periodic validation, and DDP under ``torchrun``.

Launched by ``torchrun`` (``RANK``/``WORLD_SIZE`` set) the trainer joins a process group (``gloo``
on CPU, ``nccl`` on GPU), wraps :class:`SequenceLoss` in ``DistributedDataParallel`` and gives
each rank its share of the videos through a ``DistributedSampler``; only rank 0 logs, validates
and writes files.

Output folder layout::

    checkpoint.pt      training state (model, optimizer, scheduler, step, RNG states)
    model/             save_pretrained folder of the latest checkpoint
    best/              save_pretrained folder of the best validation so far
    train_log.csv      step, elapsed seconds, lr, loss and its unweighted terms
    val_log.csv        step, elapsed seconds and the validation numbers
    train_config.yaml  the full run configuration
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
import yaml
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler
from tqdm import tqdm

from sam2_enhanced.build import build_model
from sam2_enhanced.data.clip_dataset import SyntheticClipDataset, collate_clips
from sam2_enhanced.data.splits import SPLIT_SEEDS
from sam2_enhanced.training.config import TrainRunConfig
from sam2_enhanced.training.mixed_clips import MixedClipDataset
from sam2_enhanced.training.real_clips import RealWindowClipDataset
from sam2_enhanced.training.scaled_clips import ScaledClipDataset
from sam2_enhanced.training.sequence import SequenceLoss
from sam2_enhanced.training.validate import ValidationResult, validate
from sam2_enhanced.training.validate_tracking import TrackingValidation, validate_tracking
from sam2_enhanced.training.window_clips import WindowClipDataset, window_frame_sizes
from sam2_enhanced.weights.checkpoint import load_weights, save_pretrained
from sam2_enhanced.weights.sam2 import load_sam2_weights

logger = logging.getLogger(__name__)

CHECKPOINT_NAME = "checkpoint.pt"


@dataclass
class TrainSummary:
    """What a finished run reports."""

    steps: int  # optimizer steps done in total (including resumed ones)
    final_loss: float  # loss of the last step
    wall_time_s: float  # seconds this process spent in train()
    validation: ValidationResult | TrackingValidation | None  # last validation (rank 0)
    output_dir: Path  # where the files went
    rank: int  # this process's rank (0 when not distributed)


def warmup_cosine(step: int, *, warmup_steps: int, total_steps: int, min_ratio: float) -> float:
    """Learning-rate factor: linear warmup to 1, then cosine decay to ``min_ratio``."""
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = min((step - warmup_steps) / max(total_steps - warmup_steps, 1), 1.0)
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def _param_groups(
    model: torch.nn.Module,
    weight_decay: float,
    lr: float,
    fast_parts: tuple[str, ...] = (),
    fast_lr_scale: float = 1.0,
) -> list[dict]:
    """Weight decay on matrices and kernels only (not on norms, biases, embeddings vectors);
    the top-level parts named in ``fast_parts`` at ``lr * fast_lr_scale``, the rest at ``lr``."""
    parts = dict(model.named_children())
    unknown = sorted(set(fast_parts) - set(parts))
    if unknown:
        raise ValueError(
            f"train.fast_parts names unknown model parts {unknown}; the parts are {sorted(parts)}"
        )
    groups: dict[tuple[bool, bool], list] = {}
    for name, part in parts.items():
        for param in part.parameters():
            if param.requires_grad:
                groups.setdefault((name in fast_parts, param.ndim < 2), []).append(param)
    return [
        {
            "params": params,
            "weight_decay": 0.0 if no_decay else weight_decay,
            "lr": lr * (fast_lr_scale if fast else 1.0),
        }
        for (fast, no_decay), params in sorted(groups.items())
    ]


def freeze_all_but(model: torch.nn.Module, trainable: tuple[str, ...]) -> None:
    """Stop gradients to every top-level part of ``model`` not named in ``trainable`` (empty:
    train everything). Frozen parts still run; what feeds only frozen parts builds no graph."""
    if not trainable:
        return
    parts = dict(model.named_children())
    unknown = sorted(set(trainable) - set(parts))
    if unknown:
        raise ValueError(
            f"train.trainable names unknown model parts {unknown}; the parts are {sorted(parts)}"
        )
    for name, part in parts.items():
        part.requires_grad_(name in trainable)
    frozen = sorted(set(parts) - set(trainable))
    logger.info("training only %s; frozen: %s", list(trainable), frozen)


def append_csv_row(path: Path, row: dict[str, float]) -> None:
    """Append ``row`` to the CSV log at ``path``; a log written by an older version with other
    columns (a resumed run) is rewritten first with the union of both headers, blanks where a
    row has no value, so every row stays under its own column."""
    fields = list(row)
    if path.exists():
        with path.open(newline="") as handle:
            reader = csv.DictReader(handle)
            old_rows = list(reader)
            header = list(reader.fieldnames or fields)
        if header != fields:
            fields = header + [f for f in fields if f not in header]
            with path.open("w", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=fields, restval="")
                writer.writeheader()
                writer.writerows(old_rows)
    new = not path.exists()
    with path.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields, restval="")
        if new:
            writer.writeheader()
        writer.writerow(row)


class Trainer:
    """Trains the model of a :class:`TrainRunConfig` (single process or one rank of torchrun)."""

    def __init__(self, run: TrainRunConfig, resume: str | Path | None = None) -> None:
        self.run = run
        self.cfg = run.train
        self.rank, self.world_size = self._setup_distributed()
        self.device = self._device()
        if self.cfg.num_threads and self.device.type == "cpu":
            torch.set_num_threads(self.cfg.num_threads)
        torch.manual_seed(self.cfg.seed)  # identical init on every rank
        self.model = build_model(run.model).to(self.device)
        with torch.no_grad():  # a buffer, so the scaled frequencies are saved with the weights
            prompt_pe = self.model.mask_head.prompt_encoder.pe_layer
            prompt_pe.positional_encoding_gaussian_matrix.mul_(self.cfg.prompt_pe_scale)
        self._load_initial_weights()
        freeze_all_but(self.model, self.cfg.trainable)
        self.loss_module = SequenceLoss(self.model, self.cfg)
        self.ddp = (
            DistributedDataParallel(self.loss_module, find_unused_parameters=True)
            if self.world_size > 1
            else None
        )
        self.optimizer = torch.optim.AdamW(
            _param_groups(
                self.model,
                self.cfg.weight_decay,
                self.cfg.lr,
                self.cfg.fast_parts,
                self.cfg.fast_lr_scale,
            ),
            lr=self.cfg.lr,
        )
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer,
            lambda step: warmup_cosine(
                step,
                warmup_steps=self.cfg.warmup_steps,
                total_steps=self.cfg.steps,
                min_ratio=self.cfg.min_lr_ratio,
            ),
        )
        self.amp_dtype = self._amp_dtype()
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        self.generator = torch.Generator().manual_seed(self.cfg.seed * 1000 + self.rank)
        self.step = 0
        self.output_dir = Path(self.cfg.output_dir)
        self.best_score = -math.inf
        if resume is not None:
            self.load_checkpoint(resume)

    def _load_initial_weights(self) -> None:
        """Real SAM 2.1 parts, then a saved model, over the fresh init (each if configured).

        Loaded weights replace the scaled prompt frequencies too: they are what those weights
        were trained with.
        """
        if self.cfg.sam2_checkpoint:
            load_sam2_weights(self.model, self.cfg.sam2_checkpoint)
        if self.cfg.init_from:
            source = load_weights(self.model, self.cfg.init_from, self.cfg.init_from_strict)
            logger.info("initialized the model from %s", source)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def _setup_distributed(self) -> tuple[int, int]:
        world_size = int(os.environ.get("WORLD_SIZE", "1"))
        if world_size <= 1:
            return 0, 1
        if not dist.is_initialized():
            backend = "nccl" if torch.cuda.is_available() else "gloo"
            dist.init_process_group(backend=backend)
        return dist.get_rank(), dist.get_world_size()

    def _device(self) -> torch.device:
        if not torch.cuda.is_available():
            return torch.device("cpu")
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local_rank)
        return torch.device("cuda", local_rank)

    def _amp_dtype(self) -> torch.dtype | None:
        if self.cfg.amp == "none":
            return None
        if self.device.type != "cuda":
            logger.warning("train.amp=%s ignored on CPU; training in float32", self.cfg.amp)
            return None
        return torch.bfloat16 if self.cfg.amp == "bf16" else torch.float16

    def train_dataset(self) -> torch.utils.data.Dataset:
        """Whole synthetic clips (rendered at ``train.frame_sides`` when given), or one target's
        search windows (``train.use_windows``), a ``train.real_fraction`` share of them cut from
        the real sequences in ``train.real_data_dir``."""
        if self.cfg.frame_sides:
            return ScaledClipDataset(
                self.cfg.num_train_videos,
                self.cfg.clip_len,
                self.run.data,
                SPLIT_SEEDS["train"].start,
                frame_sides=list(self.cfg.frame_sides),
                output_side=self.model.image_size,
            )
        if not self.cfg.use_windows:
            return SyntheticClipDataset(
                self.cfg.num_train_videos,
                self.cfg.clip_len,
                self.run.data,
                SPLIT_SEEDS["train"].start,
            )
        windows = dict(
            image_size=self.model.image_size,
            window=self.model.config.search_window,
            centre_jitter=self.cfg.window_centre_jitter,
            scale_jitter=self.cfg.window_scale_jitter,
            context_scale=self.cfg.window_context,
        )
        synthetic = WindowClipDataset(
            self.cfg.num_train_videos,
            self.cfg.clip_len,
            self.run.data,
            SPLIT_SEEDS["train"].start,
            frame_sizes=window_frame_sizes(list(self.cfg.window_frame_sides)),
            **windows,
        )
        if self.cfg.real_fraction == 0:
            return synthetic
        real = RealWindowClipDataset(
            self.cfg.real_data_dir,
            self.cfg.num_train_videos,
            self.cfg.clip_len,
            self.cfg.seed,
            max_stride=self.cfg.real_max_stride,
            **windows,
        )
        return MixedClipDataset(synthetic, real, self.cfg.real_fraction, self.cfg.seed)

    def data_loader(self, start_step: int) -> DataLoader:
        """Batches for steps ``start_step`` onwards of this rank (resumes mid-epoch)."""
        dataset = self.train_dataset()
        sampler = DistributedSampler(
            dataset, num_replicas=self.world_size, rank=self.rank, shuffle=True, seed=self.cfg.seed
        )
        batches_per_epoch = len(sampler) // self.cfg.batch_size
        if batches_per_epoch < 1:
            raise ValueError(
                f"train.num_train_videos ({self.cfg.num_train_videos}) gives less than one batch "
                f"of {self.cfg.batch_size} per process; raise num_train_videos"
            )
        epoch, offset = divmod(start_step, batches_per_epoch)
        sampler.set_epoch(epoch)
        indices = list(sampler)[
            offset * self.cfg.batch_size : batches_per_epoch * self.cfg.batch_size
        ]
        return DataLoader(
            torch.utils.data.Subset(dataset, indices),
            batch_size=self.cfg.batch_size,
            shuffle=False,
            num_workers=self.cfg.num_workers,
            collate_fn=collate_clips,
            drop_last=True,
        )

    def batches(self):
        """Endless stream of batches continuing from ``self.step``."""
        while True:
            for batch in self.data_loader(self.step):
                yield batch.to(self.device)

    def train_step(self, batch) -> dict[str, float]:
        """One optimizer step; returns the loss, its terms and the learning rate used."""
        self.model.train()
        module = self.ddp if self.ddp is not None else self.loss_module
        autocast = (
            torch.autocast(device_type="cuda", dtype=self.amp_dtype)
            if self.amp_dtype is not None
            else contextlib.nullcontext()
        )
        with autocast:
            out = module(batch, self.generator)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(out.total).backward()
        if self.cfg.grad_clip > 0:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        lr = self.optimizer.param_groups[0]["lr"]
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        self.step += 1
        return {"loss": float(out.total.detach()), "lr": lr, **out.terms}

    def train(self) -> TrainSummary:
        """Run until ``train.steps``; checkpoints, logs and validates on the way."""
        start = time.perf_counter()
        if self.is_main:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            (self.output_dir / "train_config.yaml").write_text(
                yaml.safe_dump(self.run.to_dict(), sort_keys=False)
            )
        progress = tqdm(
            total=self.cfg.steps,
            initial=self.step,
            disable=None if self.is_main else True,
            desc="train",
        )
        stats: dict[str, float] = {"loss": float("nan")}
        validation = None
        batches = self.batches()
        while self.step < self.cfg.steps:
            stats = self.train_step(next(batches))
            progress.update(1)
            progress.set_postfix(loss=f"{stats['loss']:.3f}")
            elapsed = time.perf_counter() - start
            if self.is_main and (self.step % self.cfg.log_interval == 0 or self.step == 1):
                self._log_csv("train_log.csv", {"step": self.step, "elapsed_s": elapsed, **stats})
            done = self.step == self.cfg.steps
            if self.cfg.val_interval and self.step % self.cfg.val_interval == 0 or done:
                validation = self.validate_and_log(elapsed) or validation
            if self.step % self.cfg.ckpt_interval == 0 or done:
                self.save_checkpoint()
        progress.close()
        if self.world_size > 1:
            dist.barrier()
        return TrainSummary(
            steps=self.step,
            final_loss=stats["loss"],
            wall_time_s=time.perf_counter() - start,
            validation=validation,
            output_dir=self.output_dir,
            rank=self.rank,
        )

    def validate_and_log(self, elapsed: float) -> ValidationResult | TrackingValidation | None:
        """Rank 0 validates (others wait) and keeps ``best/``: with ``train.use_windows`` by
        the predictor's SOT AUC on val-split videos (:mod:`.validate_tracking`), else by the
        training loop's mean IoU + AP50."""
        result = None
        if self.is_main and self.cfg.num_val_videos > 0:
            if self.cfg.use_windows:
                result = validate_tracking(self.model, self.run.data, self.cfg.num_val_videos)
                message = f"SOT AUC {result.sot_auc:.3f} (static {result.static_auc:.3f})"
                score = result.sot_auc
            else:
                result = validate(self.model, self.run.data, self.cfg.num_val_videos)
                message = f"mask IoU {result.mean_mask_iou:.3f}, AP50 {result.detection_ap50:.3f}"
                ap50 = result.detection_ap50
                score = result.mean_mask_iou + (0.0 if math.isnan(ap50) else ap50)
            row = {"step": self.step, "elapsed_s": elapsed, **dataclasses.asdict(result)}
            self._log_csv("val_log.csv", row)
            tqdm.write(f"step {self.step}: {message}")
            if score > self.best_score:
                self.best_score = score
                save_pretrained(self.model, self.output_dir / "best")
        if self.world_size > 1:
            dist.barrier()
        return result

    def _log_csv(self, name: str, row: dict[str, float]) -> None:
        append_csv_row(self.output_dir / name, row)

    def save_checkpoint(self) -> None:
        """Rank 0 writes ``checkpoint.pt`` and the ``model/`` folder."""
        if self.is_main:
            state = {
                "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "scaler": self.scaler.state_dict(),
                "step": self.step,
                "best_score": self.best_score,
                "torch_rng": torch.get_rng_state(),
                "generator": self.generator.get_state(),
            }
            tmp = self.output_dir / (CHECKPOINT_NAME + ".tmp")
            torch.save(state, tmp)
            tmp.replace(self.output_dir / CHECKPOINT_NAME)
            save_pretrained(self.model, self.output_dir / "model")
        if self.world_size > 1:
            dist.barrier()

    def load_checkpoint(self, path: str | Path) -> None:
        """Restore the training state written by :meth:`save_checkpoint` (file or its folder)."""
        path = Path(path)
        if path.is_dir():
            path = path / CHECKPOINT_NAME
        if not path.is_file():
            raise FileNotFoundError(
                f"no training checkpoint at {path}; pass the {CHECKPOINT_NAME} file or the "
                "output folder of an earlier run"
            )
        state = torch.load(path, map_location=self.device, weights_only=True)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.scaler.load_state_dict(state["scaler"])
        self.step = int(state["step"])
        self.best_score = float(state["best_score"])
        torch.set_rng_state(state["torch_rng"].cpu())
        self.generator.set_state(state["generator"].cpu())
        if self.rank:  # each rank continues its own prompt stream
            self.generator.manual_seed(self.cfg.seed * 1000 + self.rank + self.step)
        logger.info("resumed from %s at step %d", path, self.step)
