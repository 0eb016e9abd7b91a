"""One optimizer step of the study's recipe: op by op (`EagerStep`) or replayed as a CUDA graph (`GraphedStep`).

At batch 32 and ~13 tokens a sentence a GPU step is a few milliseconds of arithmetic, so the plain loop is
bound by Python: a `.item()` that waits for the GPU every step and dozens of optimizer kernels. The fast loop
reads the loss back every `sync_every` steps (`StepLog`), uses fused AdamW, and on a GPU runs the forward under
bf16 autocast and replays each full-size step of a bucket width as one CUDA graph. Clipping, AdamW and the
schedule are the plain loop's.
"""

from __future__ import annotations

import contextlib
import time

import torch
import torch.nn.functional as F

from sentiflow.train.batches import model_inputs


def autocast_dtype(precision: str, device: torch.device, cuda_graphs: bool) -> torch.dtype | None:
    """The autocast type of the forward: `auto` is bf16 when whole steps replay as CUDA graphs on a GPU that has it.

    Eager steps at these sizes are bound by kernel launches, not arithmetic, and autocast adds a cast kernel
    per weight to the forward and per gradient to the backward, so `auto` keeps eager steps in fp32; on the
    CPU bf16 is slower as well.
    """
    if precision in ("fp32", "tf32"):
        return None
    if precision == "bf16":
        return torch.bfloat16
    if cuda_graphs and device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return None


@contextlib.contextmanager
def matmul_precision(tf32: bool):
    """fp32 matrix products on TF32 tensor cores inside the block, and the process's setting restored after it.

    A switch of the whole process, so it is set around each step and evaluation rather than once: other code in
    the process (the plain loop, a benchmark's other loops) keeps full fp32.
    """
    if not tf32:
        yield
        return
    settings = torch.backends.cuda.matmul
    name, value = ("fp32_precision", "tf32") if hasattr(settings, "fp32_precision") else ("allow_tf32", True)
    before = getattr(settings, name)
    setattr(settings, name, value)
    try:
        yield
    finally:
        setattr(settings, name, before)


class StepLog:
    """Per-step loss and gradient norm kept on the device and read back every `sync_every` steps.

    With `sync_every=1` this is the plain loop's behaviour: every step's loss is on the host (and checked)
    before the next step starts.
    """

    def __init__(self, device: torch.device, sync_every: int):
        self.sync_every = max(1, int(sync_every))
        self.values = torch.zeros((self.sync_every, 2), dtype=torch.float32, device=device)
        self.pending: list[tuple] = []  # (epoch, step, lr, rows) of the steps not read back yet

    def record(self, epoch: int, step: int, lr: float, rows: int, loss: torch.Tensor, grad_norm: torch.Tensor) -> bool:
        k = len(self.pending)
        self.values[k, 0] = loss  # a device-side copy: no wait for the GPU
        self.values[k, 1] = grad_norm
        self.pending.append((epoch, step, lr, rows))
        return len(self.pending) == self.sync_every

    def flush(self) -> list[tuple]:
        """Read the pending steps back: (epoch, step, loss, grad_norm, lr, rows) each; one device sync."""
        if not self.pending:
            return []
        values = self.values[: len(self.pending)].tolist()
        rows = [(e, s, v[0], v[1], lr, n) for (e, s, lr, n), v in zip(self.pending, values)]
        self.pending = []
        return rows


class EagerStep:
    """Forward, cross-entropy, backward, clipping, AdamW and the schedule for one batch, op by op."""

    def __init__(
        self, model, optimizer, scheduler, max_grad_norm: float, dtype: torch.dtype | None = None, tf32: bool = False
    ):
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        self.max_grad_norm, self.dtype, self.tf32 = max_grad_norm, dtype, tf32

    def loss(self, batch: dict) -> torch.Tensor:
        device_type = batch["input_ids"].device.type
        # No autocast weight cache: a cached cast inside a captured CUDA graph would go stale after an update.
        with torch.autocast(
            device_type, dtype=self.dtype or torch.float32, enabled=self.dtype is not None, cache_enabled=False
        ):
            logits = self.model(**model_inputs(batch)).logits
        return F.cross_entropy(logits.float(), batch["labels"])

    def backward_and_clip(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """Loss and gradients of one batch, gradients clipped; returns (loss, gradient norm before clipping)."""
        with matmul_precision(self.tf32):  # the backward's products too
            loss = self.loss(batch)
            loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.max_grad_norm)
        return loss.detach(), grad_norm.detach()

    def __call__(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        loss, grad_norm = self.backward_and_clip(batch)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return loss, grad_norm


class GraphedStep(EagerStep):
    """Each full-size batch of a bucket width replays one captured CUDA graph of the whole step.

    Capture needs static tensors: inputs are copied into per-width buffers, AdamW is `capturable` with its
    learning rate a device tensor (set from the schedule before every replay), and gradients are never set
    to None. The capture's warm-up runs on a copy of the weights and optimizer state, which are put back,
    so capturing changes no number. Odd-sized batches (the last of an epoch) run eagerly.
    """

    FIRST_WARMUP, LATER_WARMUP = 3, 1  # eager steps before capturing the first width, and each later one

    def __init__(self, model, optimizer, scheduler, max_grad_norm: float, dtype, batch_size: int, tf32: bool = False):
        super().__init__(model, optimizer, scheduler, max_grad_norm, dtype, tf32)
        self.batch_size = batch_size
        self.capture_seconds = 0.0  # warm-up, capture and restore of every width, device synchronised
        self.side = torch.cuda.Stream()
        self.graphs: dict[int, tuple[torch.cuda.CUDAGraph, dict, torch.Tensor, torch.Tensor]] = {}
        if not all(isinstance(group["lr"], torch.Tensor) for group in optimizer.param_groups):
            raise ValueError("GraphedStep needs AdamW with a device tensor learning rate (see tensor_learning_rate)")
        self.params = [p for group in optimizer.param_groups for p in group["params"]]

    def _eager_update(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        loss, grad_norm = self.backward_and_clip(batch)
        self.optimizer.step()
        # Zeroed, never None: the captured graph accumulates into these very tensors. One multi-tensor kernel, not
        # one per parameter (each is a node of the graph and a few microseconds of every replay).
        self.optimizer.zero_grad(set_to_none=False)
        return loss, grad_norm

    def _capture(self, batch: dict) -> tuple:
        started = time.perf_counter()
        static = {k: v.clone() for k, v in batch.items()}
        saved_rng = torch.cuda.get_rng_state(batch["labels"].device)
        saved_params = [p.detach().clone() for p in self.params]
        saved_state = {id(p): {k: v.clone() for k, v in self.optimizer.state[p].items()} for p in self.params
                       if p in self.optimizer.state}  # fmt: skip
        side = self.side
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            # Warm-up: allocator, cuBLAS workspaces, optimizer state; later widths find most of it ready.
            for _ in range(self.FIRST_WARMUP if not self.graphs else self.LATER_WARMUP):
                self._eager_update(static)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        # A private memory pool per width: graphs sharing one must replay in capture order, and widths come in any order.
        with torch.cuda.graph(graph):
            loss, grad_norm = self._eager_update(static)
        # Undo the warm-up and the capture's own run: the first real step must start from the true state.
        with torch.no_grad():
            for p, saved in zip(self.params, saved_params):
                p.copy_(saved)
                if p.grad is not None:  # a parameter the forward never reaches has none
                    p.grad.zero_()
            for p in self.params:
                if id(p) in saved_state:
                    for k, v in saved_state[id(p)].items():
                        self.optimizer.state[p][k].copy_(v)
                else:
                    for v in self.optimizer.state[p].values():
                        v.zero_()
        torch.cuda.set_rng_state(saved_rng, batch["labels"].device)
        torch.cuda.synchronize(batch["labels"].device)
        self.capture_seconds += time.perf_counter() - started
        return graph, static, loss, grad_norm

    def __call__(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        # The schedule's last step filled the shared learning-rate tensor in place; the graph reads it.
        if len(batch["labels"]) != self.batch_size:
            loss, grad_norm = self._eager_update(batch)
        else:
            width = batch["input_ids"].shape[1]
            if width not in self.graphs:
                self.graphs[width] = self._capture(batch)
            graph, static, loss, grad_norm = self.graphs[width]
            for k, v in batch.items():
                static[k].copy_(v)
            graph.replay()
        self.scheduler.step()
        return loss.clone(), grad_norm.clone()


def tensor_learning_rate(optimizer, device: torch.device) -> None:
    """Swap each group's float learning rate for one shared device tensor, filled in place by the schedule.

    The scheduler keeps its float base rates, so it computes each step's rate on the host and writes it
    with a kernel launch, never a device read; a captured graph reads whatever the tensor holds.
    """
    shared = torch.tensor(float(optimizer.param_groups[0]["lr"]), dtype=torch.float32, device=device)
    for group in optimizer.param_groups:
        group["lr"] = shared


def scheduled_lr(scheduler) -> float:
    """The learning rate of the next step, computed on the host (get_last_lr() would return a device tensor)."""
    return float(scheduler.base_lrs[0]) * scheduler.lr_lambdas[0](scheduler.last_epoch)
