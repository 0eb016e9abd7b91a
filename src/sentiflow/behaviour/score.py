"""The behaviour_encoder and behaviour_llm rules' jobs: every model's class probabilities on every text of a suite.

A row per (case, item, seed): `item` is the position in the case's `texts` (and `texts_b`), `prob_K` the softmax
probability of the dataset's K-th label. A text that several cases share (an MFT template drawn twice, a
validation sentence perturbed by several tests) is scored once per model and seed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from sentiflow.atomic import write_json, write_parquet
from sentiflow.llm.compare import LLMJob, score_sentences
from sentiflow.llm.items import prompt_with_shots
from sentiflow.llm.scorer import resolve_model
from sentiflow.train.evaluation import logits_in_order
from sentiflow.train.modeling import load_trained
from sentiflow.train.tokens import Tokenization, encode

BATCH_SIZE = 64  # rows a forward pass; sorted by length, so padding stays small
Text = tuple[str, ...]  # a case item's texts: one, or a pair's two


def case_items(cases: Sequence[dict]) -> list[tuple[str, int, Text]]:
    """(case, item, texts) of every item of every case, in suite order."""
    rows = []
    for case in cases:
        seconds = case["texts_b"] or [None] * len(case["texts"])
        for item, (text, pair) in enumerate(zip(case["texts"], seconds)):
            rows.append((case["case"], item, (text,) if pair is None else (text, pair)))
    return rows


def probability_table(items: list[tuple[str, int, Text]], probs: dict[Text, np.ndarray], seed: int,
                      classes: int) -> pd.DataFrame:  # fmt: skip
    table = pd.DataFrame({"case": [c for c, _, _ in items], "item": [i for _, i, _ in items], "seed": seed})
    matrix = np.array([probs[texts] for _, _, texts in items], dtype=float).reshape(len(items), classes)
    return table.assign(**{f"prob_{k}": matrix[:, k] for k in range(classes)})


@torch.inference_mode()
def checkpoint_probs(folder: str | Path, texts: Sequence[Text], tokenization: Tokenization, device) -> np.ndarray:
    """Softmax probabilities of a published checkpoint on `texts` (in that order), tokenised as training did
    (`tokenization`, the tokenize rule's)."""
    model, tokenizer = load_trained(folder)
    model.to(device).eval()
    order = np.argsort([sum(len(t) for t in pair) for pair in texts], kind="stable")
    frame = pd.DataFrame({"text": [texts[i][0] for i in order], "label": 0, "index": np.arange(len(texts))})
    if texts and len(texts[0]) == 2:
        frame["text_pair"] = [texts[i][1] for i in order]
    data = encode(tokenizer, frame, tokenization.max_length, tokenization.segment_ids)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    sorted_probs = [
        torch.softmax(logits, dim=-1).cpu().numpy()
        for _, logits in tqdm(logits_in_order(model, data, pad, BATCH_SIZE, device), desc=f"{folder}",
                              total=-(-len(data) // BATCH_SIZE), mininterval=5.0)
    ]  # fmt: skip
    probs = np.empty((len(texts), model.config.num_labels))
    probs[order] = np.concatenate(sorted_probs) if sorted_probs else probs[:0]
    return probs


def score_encoders(cases: Sequence[dict], checkpoints: dict[int, Path], classes: int, tokenization: Tokenization,
                   device, output) -> pd.DataFrame:  # fmt: skip
    """The behaviour_encoder rule for one run group: each seed's checkpoint on every distinct text of the suite."""
    items = case_items(cases)
    distinct = list(dict.fromkeys(texts for _, _, texts in items))
    tables = []
    for seed, folder in checkpoints.items():
        started = time.perf_counter()
        probs = checkpoint_probs(folder, distinct, tokenization, device) if distinct else np.zeros((0, classes))
        if probs.shape[1] != classes:
            raise ValueError(f"{folder}: the checkpoint has {probs.shape[1]} classes, the dataset {classes}")
        tables.append(probability_table(items, dict(zip(distinct, probs)), seed, classes))
        print(f"seed {seed}: {len(distinct)} texts of {len(items)} items in {time.perf_counter() - started:.1f} s",
              flush=True)  # fmt: skip
    table = pd.concat(tables, ignore_index=True) if tables else probability_table([], {}, 0, classes)
    write_parquet(output, table)
    return table


def llm_cases(cases: Sequence[dict], bound: int, seed: int) -> list[dict]:
    """At most `bound` cases, stratified over tests: each test's cases in a seeded order, taken a case of each
    test in turn (tests in suite order) until the bound; returned in suite order."""
    rng = np.random.default_rng(seed)
    by_test: dict[str, list[int]] = {}
    for position, case in enumerate(cases):
        by_test.setdefault(case["test"], []).append(position)
    queues = [list(rng.permutation(positions)) for positions in by_test.values()]
    chosen: list[int] = []
    while len(chosen) < bound and any(queues):
        for queue in queues:
            if queue and len(chosen) < bound:
                chosen.append(int(queue.pop(0)))
    return [cases[i] for i in sorted(chosen)]


def score_llm(cases: Sequence[dict], job: LLMJob, labels: Sequence[str], train_path, selection: dict,
              outputs) -> dict:  # fmt: skip
    """The behaviour_llm rule for one entry: the chosen cases' items through the score cache (`seed` 0), and a
    summary of cases, items, cache hits and seconds."""
    started = time.perf_counter()
    chosen = llm_cases(cases, selection["llm_cases"], selection["seed"])
    items = case_items(chosen)
    distinct = list(dict.fromkeys(texts for _, _, texts in items))
    session = {"scored_now": 0, "from_cache": 0, "load_seconds": 0.0, "score_seconds": 0.0}
    probs: dict[Text, np.ndarray] = {}
    if distinct:
        prompt = prompt_with_shots(job.prompt, train_path, labels)
        asked = [texts[0] if len(texts) == 1 else texts for texts in distinct]
        records, session = score_sentences(asked, resolve_model(job.entry, job.where), job, prompt, labels)
        probs = {texts: np.asarray(record["probs"], dtype=float) for texts, record in zip(distinct, records)}
    table = probability_table(items, probs, 0, len(labels))
    summary = {
        "entry": job.name, "cases": len(chosen), "suite_cases": len(cases), "items": len(items),
        "texts": len(distinct), "scored_now": session["scored_now"], "from_cache": session["from_cache"],
        "tests": {test: sum(c["test"] == test for c in chosen) for test in dict.fromkeys(c["test"] for c in cases)},
        "load_seconds": round(session["load_seconds"], 2), "score_seconds": round(session["score_seconds"], 2),
        "seconds": round(time.perf_counter() - started, 2),
    }  # fmt: skip
    write_parquet(outputs["table"], table)
    write_json(outputs["summary"], summary)
    return summary
