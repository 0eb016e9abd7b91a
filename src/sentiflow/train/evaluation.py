"""Validation loss and class probabilities of every row, in data order: the plain loop's in-order batches, or
the fast loop's length-sorted ones."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from sentiflow.train.batches import DeviceBatches, HostBatches, model_inputs
from sentiflow.train.steps import matmul_precision
from sentiflow.train.tokens import Encoded


def logits_in_order(model, data: Encoded, pad_id: int, batch_size: int, device):
    """(batch, fp32 logits) of every batch of `batch_size` rows in data order, each padded to its longest row."""
    batches = HostBatches(data, pad_id, device)
    for start in range(0, len(data), batch_size):
        batch = batches.batch(start, min(start + batch_size, len(data)))
        yield batch, model(**model_inputs(batch)).logits.float()


@torch.inference_mode()
def evaluate(model, data: Encoded, pad_id: int, batch_size: int, device) -> tuple[float, np.ndarray]:
    """Mean cross-entropy and the softmax probabilities of every row, on batches in data order."""
    model.eval()
    total_loss, probs = 0.0, []
    for batch, logits in logits_in_order(model, data, pad_id, batch_size, device):
        total_loss += F.cross_entropy(logits, batch["labels"], reduction="sum").item()
        probs.append(torch.softmax(logits, dim=-1).cpu().numpy())
    model.train()
    return total_loss / len(data), np.concatenate(probs)


@torch.inference_mode()
def predict(model, data: Encoded, pad_id: int, batch_size: int, device) -> np.ndarray:
    """The predicted class of every row, in data order; the model's mode is the caller's (`data.labels` unused)."""
    classes = [logits.argmax(-1).cpu() for _, logits in logits_in_order(model, data, pad_id, batch_size, device)]
    return torch.cat(classes).numpy() if classes else np.zeros(0, dtype=np.int64)


@torch.inference_mode()
def evaluate_by_length(
    model, data: Encoded, pad_id: int, batch_size: int, device, dtype=None, multiple: int = 8, tf32: bool = False
) -> tuple[float, np.ndarray]:
    """Mean cross-entropy and softmax probabilities in data order, computed on length-sorted bucketed batches.

    Sorting by length removes most padding; the loss is summed on the device and read once.
    """
    model.eval()
    split = DeviceBatches(data, pad_id, device, multiple)
    split.set_order(np.argsort(data.lengths, kind="stable"))
    total = torch.zeros((), dtype=torch.float64, device=device)
    probs = torch.empty((len(data), model.config.num_labels), dtype=torch.float32, device=device)
    for start in range(0, len(data), batch_size):
        stop = min(start + batch_size, len(data))
        batch = split.batch(start, stop)
        autocast = torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None)
        with autocast, matmul_precision(tf32):
            logits = model(**model_inputs(batch)).logits.float()
        total += F.cross_entropy(logits, batch["labels"], reduction="sum").double()
        probs[split.order_on_device[start:stop]] = torch.softmax(logits, dim=-1)
    model.train()
    return float(total) / max(len(data), 1), probs.cpu().numpy()
