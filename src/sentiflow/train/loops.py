"""The two training loops behind one interface, and the epoch function that drives either one.

`PlainLoop` is the study's loop as written: random batches padded on the host, every step's loss read back,
in-order evaluation. `FastLoop` is the same recipe without the per-step overhead: length-grouped batches
gathered on the device, deferred read-back, fused AdamW, bf16 autocast and CUDA graphs on a GPU, length-sorted
evaluation. Training (`training.fine_tune`) and the benchmark (`bench`) use them the same way:

    loop = make_loop(cfg, device)
    optimizer, scheduler = make_optimizer(model, cfg, total_steps, loop)
    ... load a resume state into model, optimizer and scheduler ...
    loop.start(model, optimizer, scheduler, train, pad_id)
    step = train_epoch(loop, train, epoch, sums, step)
    val_loss, probs = loop.evaluate(validation, pad_id)
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from sentiflow.train import batches, evaluation, steps
from sentiflow.train.recipe import TrainConfig, steps_per_epoch
from sentiflow.train.tokens import Encoded


class NonFiniteLoss(FloatingPointError):
    pass


class PlainLoop:
    """The study's loop as written."""

    name = "plain"

    def __init__(self, cfg: TrainConfig, device: torch.device):
        self.cfg, self.device = cfg, device
        self.model = self.scheduler = self.batches = self.step = self.log = None

    def optimizer_options(self) -> dict:
        return {}

    def epoch_order(self, lengths: np.ndarray, epoch: int) -> np.ndarray:
        return batches.epoch_order(len(lengths), self.cfg.seed, epoch)

    def start(self, model, optimizer, scheduler, train: Encoded, pad_id: int) -> None:
        """Batches, step and step log, built after any resume state is loaded into the optimizer."""
        self.model, self.scheduler = model, scheduler
        self.batches = batches.HostBatches(train, pad_id, self.device)
        self.step = steps.EagerStep(model, optimizer, scheduler, self.cfg.max_grad_norm)
        self.log = steps.StepLog(self.device, 1)

    def evaluate(self, data: Encoded, pad_id: int) -> tuple[float, np.ndarray]:
        return evaluation.evaluate(self.model, data, pad_id, self.cfg.eval_batch_size, self.device)

    def describe(self) -> dict:
        """What a run's metadata records about the loop it used."""
        return {"name": self.name}


class FastLoop(PlainLoop):
    """The same recipe without per-step overhead."""

    name = "fast"

    def __init__(self, cfg: TrainConfig, device: torch.device):
        super().__init__(cfg, device)
        settings = cfg.fast
        if settings.cuda_graphs is True and device.type != "cuda":
            raise ValueError(
                f"training.fast.cuda_graphs is true but the device is {device}; use auto (graphs on CUDA only)"
            )
        if settings.precision == "tf32" and device.type != "cuda":
            raise ValueError(
                f"training.fast.precision is tf32 (TF32 tensor cores) but the device is {device}; use auto or fp32"
            )
        self.cuda_graphs = device.type == "cuda" and settings.cuda_graphs in ("auto", True)
        self.dtype = steps.autocast_dtype(settings.precision, device, self.cuda_graphs)
        self.tf32 = settings.precision == "tf32"
        # Rounded widths repeat shapes on a GPU; on the CPU extra width only costs time (measured: 10% slower with 8).
        self.multiple = settings.bucket_multiple or (8 if device.type == "cuda" else 1)
        # On the CPU a 512-sentence batch overflows the caches: SST-2's validation took 13.9 s at 512, 8.7 s at 128
        # and 8.5 s at 32 (MiniLM-L6, one thread).
        self.eval_batch_size = settings.eval_batch_size or (512 if device.type == "cuda" else 64)

    def optimizer_options(self) -> dict:
        # One fused kernel instead of a few per parameter tensor; capturable keeps its state on the device.
        return {"fused": True} | ({"capturable": True} if self.cuda_graphs else {})

    def epoch_order(self, lengths: np.ndarray, epoch: int) -> np.ndarray:
        order = super().epoch_order(lengths, epoch)
        if self.cfg.fast.group_by_length:
            rng = np.random.default_rng([self.cfg.seed, epoch, 1])
            order = batches.group_by_length(order, lengths, self.cfg.train_batch_size, rng)
        return order

    def start(self, model, optimizer, scheduler, train: Encoded, pad_id: int) -> None:
        self.model, self.scheduler = model, scheduler
        self.batches = batches.DeviceBatches(train, pad_id, self.device, self.multiple)
        clip = self.cfg.max_grad_norm
        if self.cuda_graphs:
            steps.tensor_learning_rate(optimizer, self.device)
            size = self.cfg.train_batch_size
            self.step = steps.GraphedStep(model, optimizer, scheduler, clip, self.dtype, size, self.tf32)
        else:
            self.step = steps.EagerStep(model, optimizer, scheduler, clip, self.dtype, self.tf32)
        self.log = steps.StepLog(self.device, self.cfg.fast.sync_every)

    def evaluate(self, data: Encoded, pad_id: int) -> tuple[float, np.ndarray]:
        return evaluation.evaluate_by_length(
            self.model, data, pad_id, self.eval_batch_size, self.device, self.dtype, self.multiple, self.tf32
        )

    def describe(self) -> dict:
        described = {
            "name": self.name,
            "cuda_graphs": self.cuda_graphs,
            "autocast": str(self.dtype).removeprefix("torch.") if self.dtype else None,
            "tf32": self.tf32,
            "bucket_multiple": self.multiple,
            "eval_batch_size": self.eval_batch_size,
            "group_by_length": self.cfg.fast.group_by_length,
        }
        if isinstance(self.step, steps.GraphedStep):  # what capturing cost this run: one graph per batch width
            captured = {
                "graph_widths": sorted(self.step.graphs),
                "capture_seconds": round(self.step.capture_seconds, 3),
            }
            described |= captured
        return described


LOOPS = {"plain": PlainLoop, "fast": FastLoop}


def make_loop(cfg: TrainConfig, device: torch.device) -> PlainLoop:
    return LOOPS[cfg.loop](cfg, device)


def decay_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Weight decay on weight matrices and embeddings only; biases and LayerNorm parameters are left alone."""
    no_decay = set()
    for module in model.modules():
        if isinstance(module, torch.nn.LayerNorm):
            no_decay.update(id(p) for p in module.parameters(recurse=False))
    decay, plain = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        (plain if id(param) in no_decay or name.endswith("bias") else decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": plain, "weight_decay": 0.0}]


def make_optimizer(model, cfg: TrainConfig, total_steps: int, loop: PlainLoop):
    """AdamW (decay on weight matrices only) with the loop's options, and the linear schedule with warmup."""
    from transformers import get_linear_schedule_with_warmup

    groups = decay_groups(model, cfg.weight_decay)
    optimizer = torch.optim.AdamW(groups, lr=cfg.learning_rate, **loop.optimizer_options())
    scheduler = get_linear_schedule_with_warmup(optimizer, round(cfg.warmup_ratio * total_steps), total_steps)
    return optimizer, scheduler


def batch_order(cfg: TrainConfig, lengths: np.ndarray, epoch: int) -> np.ndarray:
    """The row order of one epoch under `cfg`'s loop (the order never depends on the device)."""
    return make_loop(cfg, torch.device("cpu")).epoch_order(lengths, epoch)


@dataclass
class EpochSums:
    """An epoch's progress: the next batch to train, its steps and running sums. A run stopped by a signal
    saves it, and the resumed run continues the epoch at that batch with these sums."""

    batch: int = 0
    steps: list[tuple] = field(default_factory=list)  # (epoch, step, loss, grad_norm, lr) per step read back
    loss_sum: float = 0.0  # loss x rows, summed
    tokens: int = 0  # non-padding tokens trained on
    seconds: float = 0.0

    def read_back(self, log: steps.StepLog, bar=None) -> None:
        """Take the steps the log holds (one device sync); a non-finite loss stops the run, naming its step."""
        for epoch, step, loss, grad_norm, lr, rows in log.flush():
            if not math.isfinite(loss):
                raise NonFiniteLoss(f"loss is {loss} at epoch {epoch}, step {step}; run stopped")
            self.loss_sum += loss * rows
            self.steps.append((epoch, step, loss, grad_norm, lr))
            if bar is not None:
                bar.set_postfix(loss=f"{loss:.4f}", refresh=False)


def train_epoch(loop: PlainLoop, train: Encoded, epoch: int, sums: EpochSums, step: int, *, until: int | None = None,
                stop=None, bar=None) -> int:  # fmt: skip
    """Train `epoch` from batch `sums.batch` up to batch `until` (default: the epoch's end), or until `stop`
    (a `training.stop_signals`) has received a signal; returns the global step count after the last step.

    `sums` is updated in place; every step it counts has been read back and checked when this returns.
    """
    size = loop.cfg.train_batch_size
    order = loop.epoch_order(train.lengths, epoch)
    loop.batches.set_order(order)
    started = time.perf_counter()
    for batch in range(sums.batch, until if until is not None else steps_per_epoch(len(train), size)):
        start, end = batch * size, min((batch + 1) * size, len(train))
        lr = steps.scheduled_lr(loop.scheduler)
        loss, grad_norm = loop.step(loop.batches.batch(start, end))
        step += 1
        sums.batch = batch + 1
        sums.tokens += int(loop.batches.lengths[order[start:end]].sum())
        if loop.log.record(epoch, step, lr, end - start, loss, grad_norm):
            sums.read_back(loop.log, bar)
        if bar is not None:
            bar.update()
        if stop is not None and stop.received:  # a scheduler's preemption or time-limit warning
            break
    sums.read_back(loop.log, bar)
    sums.seconds += time.perf_counter() - started
    return step
