"""The attribute rule: the words behind one run group's errors, whether they matter, and whether they are shortcuts.

Every validation sentence the seed majority gets wrong (or a seeded sample of `sentences` of them) and a seeded
sample of as many it gets right are attributed with each seed's published checkpoint (`attribution`), toward the
seed majority's prediction, truncated as training truncated them; the deletion test checks the attributions; an
error whose top word (toward the wrong prediction, averaged over seeds) is a lexical shortcut of the training split
links the attributions to the shortcut statistic: the attributions' words are the shortcut statistic's
(`sentiflow.words`), so "n't" is one word on both sides.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import pandas as pd

from sentiflow.analysis.metrics import bootstrap_ci, ci_settings
from sentiflow.analysis.runs import RunGroup
from sentiflow.atomic import write_csv, write_json, write_parquet
from sentiflow.data import PAIR, TEXT, is_pair
from sentiflow.errors import attribution
from sentiflow.train.tokens import Tokenization

TOP_WORDS = 5  # the words a sentence's summary lists, strongest toward the prediction first


def chosen_sentences(group: RunGroup, sentences: int | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the seed majority's errors (all, or a seeded sample of `sentences`) and of as many correct
    sentences (seeded), each in index order."""
    rng = np.random.default_rng(seed)
    wrong = np.flatnonzero(group.majority() != group.gold)
    if sentences is not None and len(wrong) > sentences:
        wrong = np.sort(rng.choice(wrong, sentences, replace=False))
    right = np.flatnonzero(group.majority() == group.gold)
    return wrong, np.sort(rng.choice(right, min(len(wrong), len(right)), replace=False))


def explain_group(group: RunGroup, validation: pd.DataFrame, shortcut_words: pd.DataFrame, labels: Sequence[str],
                  settings: dict, bootstrap: dict, device, outputs, tokenization: Tokenization) -> dict:  # fmt: skip
    """Attribute one run group (a `runs.RunGroup`; `validation` in index order) and write `outputs`: words,
    sentences, deletion, summary. `tokenization`: how training tokenized the texts (the tokenize rule's)."""

    started = time.perf_counter()
    wrong, right = chosen_sentences(group, settings["sentences"], settings["seed"])
    chosen = np.concatenate([wrong, right])
    order = np.argsort(validation["index"].to_numpy()[chosen])
    chosen = chosen[order]
    checkpoints = {run.seed: run.folder / "model" for run in group.runs}
    pairs = validation[PAIR].to_numpy()[chosen] if is_pair(validation) else None
    if len(chosen):
        words, convergence, deletions = attribution.attribute_group(
            checkpoints, validation[TEXT].to_numpy()[chosen], pairs, group.gold[chosen], group.predictions()[:, chosen],
            group.majority()[chosen], settings, device, index=validation["index"].to_numpy()[chosen],
            tokenization=tokenization,
        )  # fmt: skip
    else:  # the seed majority makes no error: tables with their columns and nothing in them
        columns = (attribution.WORD_COLUMNS, attribution.CONVERGENCE_COLUMNS, attribution.DELETION_COLUMNS)
        words, convergence, deletions = (pd.DataFrame(columns=c) for c in columns)
    summary_rows = sentence_summary(words, group, validation, chosen, set(validation["index"].to_numpy()[wrong]), labels,
                                    shortcut_words)  # fmt: skip
    deletion = attribution.deletion_summary(deletions, bootstrap)
    errors = summary_rows[summary_rows["error"].astype(bool)]
    shortcut_share = errors["top_word_is_shortcut"].to_numpy(float)
    summary = {
        "run_group": group.label, "seeds": group.seeds, "errors": len(wrong), "correct": len(right),
        "errors_of_majority": int((group.majority() != group.gold).sum()),
        "max_length": tokenization.max_length, "segment_ids": tokenization.segment_ids,
        "convergence": attribution.convergence_summary(convergence, settings, validation["index"].to_numpy()[wrong]),
        "top_word_is_shortcut": {"errors": len(errors), "share": float(shortcut_share.mean()) if len(errors) else None,
                                 "ci": bootstrap_ci(shortcut_share, **ci_settings(bootstrap))},
        "seconds": round(time.perf_counter() - started, 1), "device": str(device),
    }  # fmt: skip
    write_parquet(outputs["words"], words.assign(backbone=group.label))
    write_csv(outputs["sentences"], summary_rows)
    write_csv(outputs["deletion"], deletion.assign(backbone=group.label))
    write_json(outputs["summary"], summary)
    return summary


def sentence_summary(words: pd.DataFrame, group: RunGroup, validation: pd.DataFrame, chosen: np.ndarray, errors: set,
                     labels: Sequence[str], shortcut_words: pd.DataFrame) -> pd.DataFrame:  # fmt: skip
    """Per attributed sentence: the top words toward the predicted class (scores averaged over seeds) and whether
    the top word is a lexical shortcut toward a label other than gold."""
    shortcut_of = shortcut_words.groupby("word")["label"].agg(set).to_dict() if len(shortcut_words) else {}
    majority = group.majority()
    position = {index: i for i, index in enumerate(group.index)}
    mean = words.groupby(["index", "field", "position", "word"], as_index=False)[
        ["score_predicted", "score_gold"]
    ].mean()
    rows = []
    for index, scored in mean.groupby("index", sort=True):
        i = position[index]
        top = scored.sort_values("score_predicted", ascending=False)
        gold = labels[group.gold[i]]
        first = top["word"].iloc[0].lower() if len(top) else ""
        rows.append({
            "index": int(index), "error": index in errors, "gold": gold, "predicted": labels[majority[i]],
            "wrong_in_seeds": int(group.wrong_in_seeds()[i]),
            "top_words": "; ".join(top["word"].head(TOP_WORDS)),
            "top_word_is_shortcut": bool(shortcut_of.get(first, set()) - {gold}),
        })  # fmt: skip
    return pd.DataFrame(rows, columns=["index", "error", "gold", "predicted", "wrong_in_seeds", "top_words",
                                       "top_word_is_shortcut"])  # fmt: skip
