"""The two training loops behind one interface, chosen once from the config.

`PlainLoop` is the study's loop as written: random batches padded on the host, every step's loss read back,
in-order evaluation. `FastLoop` is the same recipe without the per-step overhead (see `fast`): length-grouped
batches gathered on the device, deferred read-back, fused AdamW, bf16 autocast and CUDA graphs on a GPU,
length-sorted evaluation. Training (`training.fine_tune`) and the benchmark drive either one the same way:

    loop = make_loop(cfg, device)
    optimizer, scheduler = make_optimizer(model, cfg, total_steps, loop)
    ... load a resume state into model, optimizer and scheduler ...
    loop.start(model, optimizer, scheduler, train, pad_id)
    loop.batches.set_order(loop.epoch_order(train.lengths, epoch))
    loss, grad_norm = loop.step(loop.batches.batch(start, stop))
    val_loss, probs = loop.evaluate(model, validation, pad_id)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from sentiflow import fast
from sentiflow.tokens import Encoded

if TYPE_CHECKING:
    from sentiflow.training import TrainConfig


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    # Derived from (seed, epoch) alone, so a resumed run shuffles exactly like an uninterrupted one.
    return np.random.default_rng([seed, epoch]).permutation(n)


@torch.inference_mode()
def evaluate(model, data: Encoded, pad_id: int, batch_size: int, device) -> tuple[float, np.ndarray]:
    """Mean validation cross-entropy and the softmax probabilities of every row, in data order."""
    model.eval()
    total_loss, probs, batches = 0.0, [], fast.HostBatches(data, pad_id, device)
    for start in range(0, len(data), batch_size):
        batch = batches.batch(start, min(start + batch_size, len(data)))
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.float()
        total_loss += F.cross_entropy(logits, batch["labels"], reduction="sum").item()
        probs.append(torch.softmax(logits, dim=-1).cpu().numpy())
    model.train()
    return total_loss / len(data), np.concatenate(probs)


class PlainLoop:
    """The study's loop as written."""

    name = "plain"

    def __init__(self, cfg: TrainConfig, device: torch.device):
        self.cfg, self.device = cfg, device
        self.batches = self.step = self.log = None

    def optimizer_options(self) -> dict:
        return {}

    def epoch_order(self, lengths: np.ndarray, epoch: int) -> np.ndarray:
        return epoch_order(len(lengths), self.cfg.seed, epoch)

    def start(self, model, optimizer, scheduler, train: Encoded, pad_id: int) -> None:
        """Batches, step and step log, built after any resume state is loaded into the optimizer."""
        self.batches = fast.HostBatches(train, pad_id, self.device)
        self.step = fast.EagerStep(model, optimizer, scheduler, self.cfg.max_grad_norm)
        self.log = fast.StepLog(self.device, 1)

    def evaluate(self, model, data: Encoded, pad_id: int) -> tuple[float, np.ndarray]:
        return evaluate(model, data, pad_id, self.cfg.eval_batch_size, self.device)

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
            raise ValueError(f"training.fast.cuda_graphs is true but the device is {device}; use auto (graphs on CUDA only)")
        if settings.precision == "tf32" and device.type != "cuda":
            raise ValueError(f"training.fast.precision is tf32 (TF32 tensor cores) but the device is {device}; use auto or fp32")
        self.cuda_graphs = device.type == "cuda" and settings.cuda_graphs in ("auto", True)
        self.dtype = fast.autocast_dtype(settings.precision, device, self.cuda_graphs)
        self.tf32 = settings.precision == "tf32"
        # Rounded widths repeat shapes on a GPU; on the CPU extra width only costs time (measured: 10% slower with 8).
        self.multiple = settings.bucket_multiple or (8 if device.type == "cuda" else 1)

    def optimizer_options(self) -> dict:
        # One fused kernel instead of a few per parameter tensor; capturable keeps its state on the device.
        return {"fused": True} | ({"capturable": True} if self.cuda_graphs else {})

    def epoch_order(self, lengths: np.ndarray, epoch: int) -> np.ndarray:
        order = super().epoch_order(lengths, epoch)
        if self.cfg.fast.group_by_length:
            order = fast.group_by_length(order, lengths, self.cfg.train_batch_size, np.random.default_rng([self.cfg.seed, epoch, 1]))
        return order

    def start(self, model, optimizer, scheduler, train: Encoded, pad_id: int) -> None:
        self.batches = fast.DeviceBatches(train, pad_id, self.device, self.multiple)
        if self.cuda_graphs:
            fast.tensor_learning_rate(optimizer, self.device)
            self.step = fast.GraphedStep(model, optimizer, scheduler, self.cfg.max_grad_norm, self.dtype, self.cfg.train_batch_size, self.tf32)
        else:
            self.step = fast.EagerStep(model, optimizer, scheduler, self.cfg.max_grad_norm, self.dtype, self.tf32)
        self.log = fast.StepLog(self.device, self.cfg.fast.sync_every)

    def evaluate(self, model, data: Encoded, pad_id: int) -> tuple[float, np.ndarray]:
        return fast.evaluate_by_length(model, data, pad_id, self.cfg.fast.eval_batch_size, self.device, self.dtype, self.multiple, self.tf32)

    def describe(self) -> dict:
        described = {"name": self.name, "cuda_graphs": self.cuda_graphs, "autocast": str(self.dtype).removeprefix("torch.") if self.dtype else None,
                     "tf32": self.tf32, "bucket_multiple": self.multiple, "group_by_length": self.cfg.fast.group_by_length}  # fmt: skip
        if isinstance(self.step, fast.GraphedStep):  # what capturing cost this run: one graph per batch width
            described |= {"graph_widths": sorted(self.step.graphs), "capture_seconds": round(self.step.capture_seconds, 3)}
        return described


LOOPS = {"plain": PlainLoop, "fast": FastLoop}


def make_loop(cfg: TrainConfig, device: torch.device) -> PlainLoop:
    return LOOPS[cfg.loop](cfg, device)


def make_optimizer(model, cfg: TrainConfig, total_steps: int, loop: PlainLoop):
    """AdamW (decay on weight matrices only) with the loop's options, and the linear schedule with warmup."""
    from transformers import get_linear_schedule_with_warmup

    from sentiflow.training import decay_groups

    optimizer = torch.optim.AdamW(decay_groups(model, cfg.weight_decay), lr=cfg.learning_rate, **loop.optimizer_options())
    scheduler = get_linear_schedule_with_warmup(optimizer, round(cfg.warmup_ratio * total_steps), total_steps)
    return optimizer, scheduler


def batch_order(cfg: TrainConfig, lengths: np.ndarray, epoch: int) -> np.ndarray:
    """The row order of one epoch under `cfg`'s loop (the order never depends on the device)."""
    return make_loop(cfg, torch.device("cpu")).epoch_order(lengths, epoch)
