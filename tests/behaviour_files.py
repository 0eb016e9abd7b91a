"""Hand-made files in the behaviour stage's contract (docs/outputs.md): a suite.jsonl and score tables."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd


def case(name: str, test: str, kind: str, texts: list[str], cluster: str, **fields) -> dict:
    """A suite line; `fields` may set probes, expected_labels, direction, texts_b, source."""
    return {
        "case": name,
        "test": test,
        "type": kind,
        "probes": fields.get("probes", "negation_contrast"),
        "source": fields.get("source", f"template:{cluster}" if kind == "MFT" else cluster),
        "cluster": cluster,
        "texts": texts,
        "texts_b": fields.get("texts_b"),
        "expected_labels": fields.get("expected_labels"),
        "direction": fields.get("direction"),
    }


def write_suite(path: Path, cases: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(c) + "\n" for c in cases), encoding="utf-8")
    return path


def write_scores(path: Path, probs: dict[str, list], classes: int) -> Path:
    """`probs`: case -> seeds x items x classes (nested lists); seeds are numbered 0, 1, ... unless the case's
    value is a dict {seed: items x classes}."""
    rows = []
    for name, given in probs.items():
        per_seed = given if isinstance(given, dict) else dict(enumerate(given))
        for seed, items in per_seed.items():
            for item, p in enumerate(items):
                rows.append(
                    {"case": name, "item": item, "seed": int(seed)} | {f"prob_{k}": float(p[k]) for k in range(classes)}
                )
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_parquet(path, index=False)
    return path


def two(p_positive: float) -> list[float]:
    """Probabilities over (negative, positive)."""
    return [1 - p_positive, p_positive]


def onehot(k: int, classes: int, weight: float = 0.9) -> list[float]:
    p = np.full(classes, (1 - weight) / (classes - 1))
    p[k] = weight
    return p.tolist()
