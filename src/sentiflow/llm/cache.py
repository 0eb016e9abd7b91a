"""LLM scores cached per model, prompt and sentence, outside any rule's outputs: the cache's key.

Scoring a validation split is the slow part of the LLM stage (0.4 s a sentence for a 1.5B model on 2 cores), and
what it scores depends on many settings that do not change a single score: which backbones' errors are asked
about, the cascade's folds, another model entry. A score is stored under a key made of everything that does
change it (the GGUF file's content hash, the rendered prompt's settings, the labels, GPU offload, llama.cpp's
version) and the sentence, so any job that needs it again reads it instead of asking the model.

This module owns the key (`score_identity`, `sentence_key`) and the memo of model files' hashes
(`remembered_sha256`); `store` owns the files the scores are kept in (`ScoreCache`), safe for many jobs at once
on a cluster's shared file system.
"""

from __future__ import annotations

import errno
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

from sentiflow.atomic import write_json
from sentiflow.data import file_sha256
from sentiflow.llm.scorer import LLMError, PromptConfig

MEMO = "files.json"


def remembered_sha256(path: Path, folder: Path) -> str:
    """The file's content hash, remembered per (path, size, modification time) so a 1 GB model is hashed once.

    Jobs on several machines may add to the memo at once: each writes a whole new memo under a unique temporary
    name and renames it into place, so none fails and none reads half a memo. The last rename wins, so an entry
    another job added a moment earlier may be lost; that costs one more hashing of that file, never a wrong hash."""
    stat = path.stat()
    stamp = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    known = read_memo(folder / MEMO)
    if stamp not in known:
        digest = file_sha256(path)
        # Read again just before writing: what others added while this file was hashed is kept.
        write_json(folder / MEMO, read_memo(folder / MEMO) | {stamp: digest})
        return digest
    return known[stamp]


def read_memo(path: Path) -> dict[str, str]:
    try:
        text = path.read_text()
    except OSError as error:
        # Absent, or replaced by another machine's rename while an NFS client read it (ESTALE): hash again.
        if error.errno in (errno.ENOENT, errno.ESTALE):
            return {}
        raise
    try:
        known = json.loads(text)
    except ValueError as error:
        raise LLMError(f"{path}: not JSON ({error}); it only remembers model files' hashes: delete it") from None
    if not isinstance(known, dict):
        raise LLMError(f"{path}: not a JSON object; it only remembers model files' hashes: delete it")
    return known


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
