"""Which items the LLM is asked about, and the examples it is shown first.

The encoders' votes per validation sentence (`encoder_votes`), the errors and a matched control set
(`select_items`), the cascade's sample of validation (`cascade_sample`), both put together as the rows a compare
job scores (`items_to_score`), and the few-shot examples drawn from train (`few_shot_examples`) that an entry's
prompt shows (`prompt_with_shots`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from sentiflow.data import PAIR, TEXT, is_pair
from sentiflow.llm.scorer import Item, LLMError, PromptConfig


def encoder_votes(runs, labels: Sequence[str]) -> dict[str, pd.DataFrame]:
    """Per run group (of a `runs.RunSet`) and validation sentence: the majority label over seeds, its mean
    probability, and how many seeds got the sentence wrong."""
    votes = {}
    for label, group in runs.groups.items():
        majority = group.majority()
        votes[label] = pd.DataFrame({
            "index": group.index,
            "predicted": majority,
            "confidence": group.mean_probs()[np.arange(len(majority)), majority],
            "wrong_in_seeds": group.wrong_in_seeds(),
        })  # fmt: skip
    return votes


def select_items(validation, votes: dict, items: dict, seed: int):
    """Errors (wrong for some backbone in some seed; only `errors_of` backbones' when set), a same-size seeded
    control set those runs got right, and optionally the rest of the validation set."""
    unknown = set(items.get("errors_of") or []) - set(votes)
    if unknown:
        raise LLMError(f"llm.items.errors_of names backbones that are not configured: {sorted(unknown)}")
    wrong = np.zeros(len(validation), dtype=bool)
    for backbone, table in votes.items():
        if not items.get("errors_of") or backbone in items["errors_of"]:
            wrong |= table["wrong_in_seeds"].to_numpy() > 0
    rng = np.random.default_rng(seed)
    errors = np.flatnonzero(wrong) if items["errors"] else np.array([], dtype=int)
    if items.get("max_errors") is not None and len(errors) > items["max_errors"]:
        errors = np.sort(rng.choice(errors, items["max_errors"], replace=False))
    group = np.full(len(validation), "", dtype=object)
    group[errors] = "error"
    if items["control"]:
        right = np.flatnonzero(~wrong)
        control = rng.choice(right, min(len(errors), len(right)), replace=False)
        group[control] = "control"
    if items["all_validation"]:
        group[group == ""] = "other"
    chosen = validation.assign(group=group)
    return chosen[chosen["group"] != ""].reset_index(drop=True)


def cascade_sample(n: int, cascade: dict) -> np.ndarray:
    """Positions of the validation sentences the cascade is studied on: all of them, or a seeded sample."""
    if not cascade["enabled"]:
        return np.array([], dtype=int)
    if cascade.get("sentences") is None or cascade["sentences"] >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(cascade["seed"]).choice(n, cascade["sentences"], replace=False))


def items_to_score(validation, votes: dict, items: dict, sample: dict, seed: int):
    """The validation rows to ask about, with their `group` (error, control, other) and `in_cascade`."""
    chosen = select_items(validation, votes, items, seed)
    in_cascade = np.zeros(len(validation), dtype=bool)
    in_cascade[cascade_sample(len(validation), sample)] = True
    group = pd.Series("", index=validation["index"].to_numpy(), dtype=object)
    group[chosen["index"].to_numpy()] = chosen["group"].to_numpy()
    group[(group == "").to_numpy() & in_cascade] = "other"
    scored = validation.assign(group=group.to_numpy(), in_cascade=in_cascade, position=np.arange(len(validation)))
    return scored[scored["group"] != ""].reset_index(drop=True)


def items_of(split) -> list[Item]:
    """A split's items as the LLM is asked them: each sentence, or each pair of texts."""
    if is_pair(split):
        return list(zip(split[TEXT], split[PAIR]))
    return split["text"].tolist()


def prompt_with_shots(prompt: dict, train_path, labels: Sequence[str]) -> PromptConfig:
    """An entry's prompt (`llm.prompt` laid over by the entry's) with its `shots` examples drawn from train."""
    shots = few_shot_examples(pd.read_parquet(train_path), prompt["shots"], labels, prompt["seed"])
    return PromptConfig.from_settings(prompt, shots=shots)


def few_shot_examples(train, k: int, labels: Sequence[str], seed: int) -> list[tuple[Item, str]]:
    """k examples from train, balanced over labels as far as k allows, in a seeded order."""
    if k == 0:
        return []
    rng = np.random.default_rng(seed)
    picks = []
    for i in range(k):
        label = i % len(labels)
        pool = train.index[train["label"] == label]
        picks.append(int(rng.choice(pool)))
    rng.shuffle(picks)
    items = items_of(train)
    return [(items[train.index.get_loc(i)], labels[int(train.loc[i, "label"])]) for i in picks]
