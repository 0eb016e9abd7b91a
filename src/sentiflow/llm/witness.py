"""The `llm_witness` rule's job: one LLM entry's label probabilities on the validation sentences whose gold labels the
`label_issues` rule judges, an independent witness (it never trained on the data).

Same prompt and score cache as `llm_compare`, so a sentence the comparison already scored is read, not asked again.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from sentiflow.atomic import write_csv
from sentiflow.data import read_split
from sentiflow.errors.label_issues import judged_positions
from sentiflow.llm.compare import LLMJob, ask_labels
from sentiflow.llm.scorer import resolve_model


def witness_table(judged: pd.DataFrame, records: list[dict], labels: Sequence[str]) -> pd.DataFrame:
    """One row per judged sentence: `index`, `gold`, `llm_prob_{label}` per label, `llm_predicted`."""
    table = pd.DataFrame({"index": judged["index"].to_numpy(), "gold": [labels[k] for k in judged["label"]]})
    for k, label in enumerate(labels):
        table[f"llm_prob_{label}"] = [r["probs"][k] for r in records]
    probs = table[[f"llm_prob_{label}" for label in labels]].to_numpy()
    table["llm_predicted"] = [labels[k] for k in probs.argmax(1)] if len(table) else []
    return table


def witness(job: LLMJob, labels: Sequence[str], data: dict, sample: dict, output) -> dict:
    """Score the judged sentences (analysis.label_issues `witness_sentences` and `seed`: `sample`) of `data`'s
    validation with the entry (shots from its train) and write the table to `output`."""
    validation = read_split(data["validation"])
    judged = validation.iloc[judged_positions(len(validation), sample["witness_sentences"], sample["seed"])]
    model_path = resolve_model(job.entry, job.where) if len(judged) else None
    records, session = ask_labels(job, judged, model_path, labels, data["train"])
    write_csv(output, witness_table(judged, records, labels))
    return session
