"""Batches of a tokenized split: padded on the host (the plain loop) or gathered on the device (the fast loop).

A batch of 32 randomly drawn SST-2 sentences is padded to its longest, about three times the real tokens, so the
fast loop draws batches of similar-length sentences (`group_by_length`, as `group_by_length` in HF Trainer) and
pads them to a bucket width (a multiple of 8 on a GPU) so that a few shapes repeat all epoch. Padding is masked.
"""

from __future__ import annotations

import numpy as np
import torch

from sentiflow.train.tokens import Encoded


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    # Derived from (seed, epoch) alone, so a resumed run shuffles exactly like an uninterrupted one.
    return np.random.default_rng([seed, epoch]).permutation(n)


def model_inputs(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """What the model is called with: every tensor of the batch but the labels (the loss is computed outside)."""
    return {name: tensor for name, tensor in batch.items() if name != "labels"}


def bucket_width(longest: int, multiple: int) -> int:
    return -(-int(longest) // multiple) * multiple


# Sentences are sorted by length within chunks of this many batches: small enough that every chunk is a
# random sample of the split, large enough that neighbours in a chunk have nearly the same length.
GROUP_CHUNK_BATCHES = 50


def group_by_length(order: np.ndarray, lengths: np.ndarray, batch_size: int, rng: np.random.Generator) -> np.ndarray:
    """`order` rearranged so that each run of `batch_size` rows holds sentences of similar length.

    `order` (a shuffled permutation) is cut into chunks of GROUP_CHUNK_BATCHES batches, each chunk is sorted by
    length and cut into batches, and the full batches are shuffled across the epoch (`rng`), so a batch's
    length says nothing about its place in the epoch. The one short batch, if any, stays last, where the
    loop expects it. Every row appears exactly once.
    """
    chunk = GROUP_CHUNK_BATCHES * batch_size
    parts = [order[i : i + chunk] for i in range(0, len(order), chunk)]
    grouped = np.concatenate([part[np.argsort(lengths[part], kind="stable")] for part in parts]) if parts else order
    full = len(grouped) // batch_size
    batches = grouped[: full * batch_size].reshape(full, batch_size)
    return np.concatenate([batches[rng.permutation(full)].ravel(), grouped[full * batch_size :]])


class HostBatches:
    """The plain loop's batches: padded on the host to their longest sentence, then copied to the device."""

    def __init__(self, data: Encoded, pad_id: int, device: torch.device):
        self.data, self.pad_id, self.device = data, pad_id, device
        self.lengths = data.lengths
        self.order = np.arange(len(data))

    def set_order(self, order: np.ndarray) -> None:
        self.order = order

    def width(self, start: int, stop: int) -> int:
        return int(self.lengths[self.order[start:stop]].max())

    def batch(self, start: int, stop: int) -> dict[str, torch.Tensor]:
        batch = self.data.batch(self.order[start:stop], self.pad_id)
        return {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}


class DeviceBatches:
    """A split resident on the device as one padded matrix: a batch is a gather on the device, not a host copy.

    Widths are rounded up to `multiple` from the host copy of the lengths, so choosing one never waits
    for the device, and a handful of shapes repeat all epoch.
    """

    def __init__(self, data: Encoded, pad_id: int, device: torch.device, multiple: int = 8):
        self.device, self.multiple = device, multiple
        self.lengths = data.lengths
        width = bucket_width(max(int(self.lengths.max(initial=1)), 1), multiple)
        filled = np.arange(width)[None, :] < self.lengths[:, None]
        ids = np.full((len(data), width), pad_id, dtype=np.int64)
        ids[filled] = data.ids  # row-major order of `filled` is the order of the flat token array
        self.ids = torch.from_numpy(ids).to(device)
        self.mask = torch.from_numpy(filled.astype(np.int64)).to(device)
        self.types = None  # segment ids of a sentence pair, where the model reads them
        if data.types is not None:
            types = np.zeros((len(data), width), dtype=np.int64)
            types[filled] = data.types
            self.types = torch.from_numpy(types).to(device)
        self.labels = torch.tensor(data.labels, dtype=torch.int64, device=device)
        self.set_order(np.arange(len(data)))

    def set_order(self, order: np.ndarray) -> None:
        self.order = order
        self.order_on_device = torch.from_numpy(np.ascontiguousarray(order)).to(self.device)

    def width(self, start: int, stop: int) -> int:
        return bucket_width(self.lengths[self.order[start:stop]].max(), self.multiple)

    def batch(self, start: int, stop: int) -> dict[str, torch.Tensor]:
        width = self.width(start, stop)
        rows = self.order_on_device[start:stop]
        batch = {
            "input_ids": self.ids.index_select(0, rows)[:, :width],
            "attention_mask": self.mask.index_select(0, rows)[:, :width],
        }
        if self.types is not None:
            batch["token_type_ids"] = self.types.index_select(0, rows)[:, :width]
        return batch | {"labels": self.labels.index_select(0, rows)}
