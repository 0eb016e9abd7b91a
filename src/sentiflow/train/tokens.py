"""Tokenize each split once and pad per batch.

Token ids are stored flat (one int32 array plus row offsets) so a cache of SST-2 is a few MB, loads in
milliseconds, and needs neither pickle nor the `datasets` library. A sentence pair is encoded with the tokenizer's
own pair template (`tokenizer(first, second)`: `[CLS] first [SEP] second [SEP]` for BERT, `<s> first </s></s>
second </s>` for RoBERTa), truncated longest-first; its segment ids (`token_type_ids`) are stored beside the ids
when the model takes them.

How a backbone's texts are tokenized (`Tokenization`: where they are cut, whether segment ids go with them) is
decided once, by the tokenize rule, and written to its stats file; training reads the token cache made with it,
and the rules that tokenize again (attribute, behaviour_encoder) read the stats file, so that every rule feeds a
model what training fed it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from sentiflow.atomic import atomic_path, write_json
from sentiflow.data import is_pair, text_fields
from sentiflow.train.modeling import check_backbone, load_config, load_tokenizer, takes_segment_ids

# Tokenizers without a real limit report this sentinel (int(1e30)) as model_max_length.
_NO_LIMIT = 10**6


@dataclass
class Encoded:
    ids: np.ndarray  # int32, all rows concatenated
    offsets: np.ndarray  # int64, len(rows) + 1
    labels: np.ndarray  # int64 class ids
    index: np.ndarray  # int64 row positions in the source split
    cut: np.ndarray | None = None  # tokens truncation removed from each row (known right after encoding only)
    types: np.ndarray | None = None  # int8 segment ids (0 first text, 1 second), laid out like `ids`; pairs only

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def batch(self, rows: np.ndarray, pad_id: int) -> dict[str, torch.Tensor]:
        """Pad the given rows to the longest of them (dynamic padding), not to the model's maximum."""
        lengths = self.lengths[rows]
        width = int(lengths.max())
        input_ids = np.full((len(rows), width), pad_id, dtype=np.int64)
        mask = np.zeros((len(rows), width), dtype=np.int64)
        types = np.zeros((len(rows), width), dtype=np.int64) if self.types is not None else None
        for j, (row, n) in enumerate(zip(rows, lengths)):
            start = self.offsets[row]
            input_ids[j, :n] = self.ids[start : start + n]
            mask[j, :n] = 1
            if types is not None:
                types[j, :n] = self.types[start : start + n]
        batch = {"input_ids": torch.from_numpy(input_ids), "attention_mask": torch.from_numpy(mask)}
        if types is not None:
            batch["token_type_ids"] = torch.from_numpy(types)
        return batch | {"labels": torch.from_numpy(self.labels[rows])}


class TokenizationError(ValueError):
    pass


@dataclass(frozen=True)
class Tokenization:
    """Where a backbone's texts are cut (`max_length`, longest first for a pair) and whether segment ids
    (`token_type_ids`) go with them: the tokenize rule's decision, read back by every rule that tokenizes again."""

    max_length: int
    segment_ids: bool

    @classmethod
    def of(cls, tokenizer, model_config, pairs: bool, requested: int | None = None) -> Tokenization:
        """The one decision. `max_length`: `requested` (training.max_length) or the model's maximum
        (`resolve_max_length`). Segment ids: only for a pair, where the tokenizer makes them and the model's
        classifier reads them (`modeling.takes_segment_ids`); for one text they would all be 0, the model's default."""
        segments = bool(pairs) and "token_type_ids" in tokenizer.model_input_names and takes_segment_ids(model_config)
        return cls(resolve_max_length(tokenizer, model_config, requested), segments)

    @classmethod
    def read(cls, stats_path) -> Tokenization:
        """The decision the tokenize rule wrote to its stats file (`results/{dataset}/tokens/{backbone}.json`)."""
        stats = json.loads(Path(stats_path).read_text())
        missing = [key for key in ("max_length", "segment_ids") if key not in stats]
        if missing:
            raise TokenizationError(f"{stats_path} lacks {', '.join(missing)}: rerun the tokenize rule")
        if not isinstance(stats["max_length"], int) or stats["max_length"] < 1:
            raise TokenizationError(f"{stats_path}: max_length is {stats['max_length']!r}, not a positive integer")
        if not isinstance(stats["segment_ids"], bool):
            raise TokenizationError(f"{stats_path}: segment_ids is {stats['segment_ids']!r}, not true or false")
        return cls(stats["max_length"], stats["segment_ids"])


def resolve_max_length(tokenizer, model_config=None, requested: int | None = None) -> int:
    """The study truncates at the model's maximum length; `requested` overrides it."""
    if requested is not None:
        return int(requested)
    limit = getattr(tokenizer, "model_max_length", None)
    if limit is None or limit >= _NO_LIMIT:
        limit = getattr(model_config, "max_position_embeddings", None)
    if limit is None:
        raise ValueError("the tokenizer has no maximum length; set training.max_length")
    return int(limit)


def encode(tokenizer, frame: pd.DataFrame, max_length: int, segment_ids: bool = False) -> Encoded:
    """Token ids of every text (or pair of texts), truncated at `max_length` (longest first for a pair); how many
    tokens each row lost is kept in `cut`, and with `segment_ids` the tokenizer's token_type_ids in `types`."""
    texts = [frame[field].tolist() for field in text_fields(frame)]
    keys = ["input_ids"] + (["token_type_ids"] if segment_ids else [])
    rows = _tokenized(tokenizer, texts, keys) if len(frame) else {key: [] for key in keys}
    full = np.fromiter((len(r) for r in rows["input_ids"]), dtype=np.int64, count=len(frame))
    long = np.flatnonzero(full > max_length)
    if len(long):  # only these are tokenized again, with the tokenizer's own truncation (special tokens kept)
        cut_rows = _tokenized(tokenizer, [[field[i] for i in long] for field in texts], keys, max_length)
        for key in keys:
            for i, values in zip(long, cut_rows[key]):
                rows[key][i] = values
    encoded = packed(rows["input_ids"], frame["label"], frame["index"], rows.get("token_type_ids"))
    encoded.cut = full - encoded.lengths
    return encoded


def packed(ids: Sequence[Sequence[int]], labels, index=None, types: Sequence[Sequence[int]] | None = None) -> Encoded:
    """Rows of token ids (and their segment ids, where the model reads them) as an `Encoded` split; `index`
    defaults to the row positions."""
    lengths = np.fromiter((len(r) for r in ids), dtype=np.int64, count=len(ids))
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)

    def flat(rows: Sequence[Sequence[int]]) -> np.ndarray:
        return np.fromiter((t for r in rows for t in r), dtype=np.int64, count=int(offsets[-1]))

    return Encoded(
        ids=flat(ids).astype(np.int32),
        offsets=offsets,
        labels=np.asarray(labels, dtype=np.int64),
        index=np.arange(len(ids), dtype=np.int64) if index is None else np.asarray(index, dtype=np.int64),
        types=flat(types).astype(np.int8) if types is not None else None,
    )


def _tokenized(tokenizer, texts: list[list[str]], keys: list[str], max_length: int | None = None) -> dict[str, list]:
    """The tokenizer's own encoding of single texts or pairs (`tokenizer(first, second)`), whole or truncated."""
    truncation = {"truncation": "longest_first", "max_length": max_length} if max_length else {}
    encoded = tokenizer(*texts, verbose=False, **truncation)
    missing = [key for key in keys if key not in encoded]
    if missing:
        raise ValueError(f"the tokenizer {type(tokenizer).__name__} returns no {missing}")
    return {key: list(encoded[key]) for key in keys}


def length_stats(encoded: Encoded, max_length: int) -> dict:
    lengths = encoded.lengths
    if len(lengths) == 0:
        return {"rows": 0, "truncated": 0, "tokens_cut": 0}
    cut = encoded.cut if encoded.cut is not None else np.zeros_like(lengths)
    return {
        "rows": len(lengths),
        "tokens": int(lengths.sum()),
        "mean": round(float(lengths.mean()), 2),
        "median": float(np.median(lengths)),
        "p95": float(np.percentile(lengths, 95)),
        "max": int(lengths.max()),
        "truncated": int((cut > 0).sum()),
        "tokens_cut": int(cut.sum()),
        "max_cut": int(cut.max()),
    }


def save_encoded(path: str | Path, splits: dict[str, Encoded], meta: dict) -> None:
    arrays = {}
    for name, enc in splits.items():
        for field in ("ids", "offsets", "labels", "index", "types"):
            if getattr(enc, field) is not None:
                arrays[f"{name}.{field}"] = getattr(enc, field)
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **arrays)


def load_encoded(path: str | Path) -> tuple[dict[str, Encoded], dict]:
    with np.load(path) as archive:
        meta = json.loads(archive["meta"].tobytes().decode())
        names = sorted({key.split(".")[0] for key in archive.files if key != "meta"})
        splits = {
            name: Encoded(
                *(archive[f"{name}.{field}"] for field in ("ids", "offsets", "labels", "index")),
                types=archive[f"{name}.types"] if f"{name}.types" in archive.files else None,
            )
            for name in names
        }
    return splits, meta


def tokenize_dataset(model: str, split_paths: dict, max_length: int | None, tokens_out, stats_out) -> dict:
    """Tokenize every canonical split with `model`'s tokenizer; write the cache and its length statistics."""

    check_backbone(
        model
    )  # the first job that touches a backbone: fail here, before any training, if it cannot be built
    tokenizer = load_tokenizer(model)
    if tokenizer.pad_token_id is None:
        raise ValueError(f"the tokenizer of {model!r} has no padding token; dynamic padding needs one")
    frames = {name: pd.read_parquet(path) for name, path in split_paths.items()}
    pairs = is_pair(frames["train"])
    tokenization = Tokenization.of(tokenizer, load_config(model), pairs, max_length)
    splits = {name: encode(tokenizer, frame, tokenization.max_length, tokenization.segment_ids)
              for name, frame in frames.items()}  # fmt: skip
    meta = {
        "model": model,
        "pad_id": int(tokenizer.pad_token_id),
        "max_length": tokenization.max_length,
        "tokenizer": type(tokenizer).__name__,
        "vocab_size": len(tokenizer),
        "pairs": pairs,
        "segment_ids": tokenization.segment_ids,
    }
    stats = meta | {"splits": {name: length_stats(enc, tokenization.max_length) for name, enc in splits.items()}}
    save_encoded(tokens_out, splits, meta)
    write_json(stats_out, stats)
    return stats
