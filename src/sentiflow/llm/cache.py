"""LLM scores cached per model, prompt and sentence, outside any rule's outputs.

Scoring a validation split is the slow part of the LLM stage (0.4 s a sentence for a 1.5B model on 2 cores), and
what it scores depends on many settings that do not change a single score: which backbones' errors are asked
about, the cascade's folds, another model entry. A score is stored under a key made of everything that does
change it (the GGUF file's content hash, the rendered prompt's settings, the labels, GPU offload, llama.cpp's
version) and the sentence, so any job that needs it again reads it instead of asking the model. Rows are
committed as they are scored: a job stopped half-way keeps what it scored, and each row is whole or absent.

This module owns the cache's key (`score_identity`, `sentence_key`) and its table (`ScoreCache`).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from sentiflow.data import file_sha256
from sentiflow.llm.scorer import PromptConfig

SCHEMA = """CREATE TABLE IF NOT EXISTS scores (
    key TEXT PRIMARY KEY, probs TEXT NOT NULL, seconds REAL NOT NULL, prompt_tokens INTEGER NOT NULL, reused_tokens INTEGER NOT NULL)"""


def remembered_sha256(path: Path, folder: Path) -> str:
    """The file's content hash, remembered per (path, size, modification time) so a 1 GB model is hashed once."""

    stat = path.stat()
    known_path = folder / "files.json"
    known = json.loads(known_path.read_text()) if known_path.exists() else {}
    stamp = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    if stamp not in known:
        known[stamp] = file_sha256(path)
        folder.mkdir(parents=True, exist_ok=True)
        tmp = known_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(known, indent=1))
        tmp.replace(known_path)
    return known[stamp]


def score_identity(
    model_path: Path, entry: dict, prompt: PromptConfig, labels: Sequence[str], cache_folder: Path
) -> dict:
    """Everything that changes a sentence's scores (and nothing that does not: threads, n_ctx, the entry's name)."""
    # Imported here, like the scorer does: loading llama.cpp's library is for jobs with something to score.
    import llama_cpp

    return {"model_sha256": remembered_sha256(model_path, cache_folder), "labels": list(labels), "system": prompt.system,
            "instruction": prompt.instruction, "answer_prefix": prompt.answer_prefix, "plain_template": prompt.plain_template,
            "verbalizers": {label: prompt.verbalizers[label] for label in labels}, "shots": [list(s) for s in prompt.shots],
            "n_gpu_layers": entry["n_gpu_layers"], "llama_cpp": llama_cpp.__version__}  # fmt: skip


def sentence_key(identity: dict, item) -> str:
    """The cache key of one item: a sentence, or every text of a pair (NUL-separated, so no two pairs share it)."""
    text = item if isinstance(item, str) else "\0".join(item)
    return hashlib.sha256((json.dumps(identity, sort_keys=True) + "\0" + text).encode("utf-8")).hexdigest()


class ScoreCache:
    """A SQLite table of scores; several jobs may read and write it at once (SQLite locks the file)."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.folder / "scores.sqlite", timeout=120)
        self.db.execute(SCHEMA)
        self.db.commit()

    def get(self, keys: list[str]) -> dict[str, dict]:
        found = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            rows = self.db.execute(
                f"SELECT key, probs, seconds, prompt_tokens, reused_tokens FROM scores WHERE key IN ({','.join('?' * len(chunk))})",
                chunk,
            )
            for key, probs, seconds, prompt_tokens, reused in rows:
                found[key] = {
                    "probs": json.loads(probs),
                    "seconds": seconds,
                    "prompt_tokens": prompt_tokens,
                    "reused_tokens": reused,
                }
        return found

    def put(self, rows: dict[str, dict]) -> None:
        self.db.executemany(
            "INSERT OR REPLACE INTO scores VALUES (?, ?, ?, ?, ?)",
            [
                (k, json.dumps(r["probs"]), r["seconds"], r["prompt_tokens"], r["reused_tokens"])
                for k, r in rows.items()
            ],
        )
        self.db.commit()

    def close(self) -> None:
        self.db.close()
