"""The `label_issues` rule's job: candidates from the encoders, confirmed or not by the LLM witnesses, the detection
measured on injected flips, and accuracy with and without the confirmed issues.

It reads files only (the encoders' runs, validation, the `llm_witness` tables): the errors stage never imports the
LLM stage.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from sentiflow.analysis.runs import RunSet
from sentiflow.atomic import write_csv, write_json
from sentiflow.data import read_split, text_fields
from sentiflow.errors import label_issues, witnesses

LEADING = ["gold", "suggested", "self_confidence", "flagged_pooled", "flagged_by", "status", "witnesses",
           "witness_prob_suggested"]  # fmt: skip


def issue_columns(validation: pd.DataFrame, names: Sequence[str]) -> list[str]:
    per_witness = [f"{name}_{part}" for name in names for part in ("predicted", "prob_suggested")]
    return ["index", *text_fields(validation), *LEADING, *per_witness]


def readable(found: pd.DataFrame, validation: pd.DataFrame, labels: Sequence[str], names: Sequence[str]):
    """The detection's table with the texts and label names, least self-confident first."""
    table = validation.iloc[found["position"].to_numpy()].reset_index(drop=True).drop(columns="label")
    name_of = np.array([*labels, ""], dtype=object)  # -1, a witness that did not score the sentence: empty
    named = {"gold": name_of[found["gold"]], "suggested": name_of[found["suggested"]]}
    named |= {f"{name}_predicted": name_of[found[f"{name}_predicted"].to_numpy(dtype=int)] for name in names}
    kept = found.drop(columns=["position", *named]).reset_index(drop=True)
    table = pd.concat([table, kept, pd.DataFrame(named)], axis=1)
    return table[issue_columns(validation, names)]


def why_none(quality: dict, found: pd.DataFrame) -> str | None:
    """Why no candidate is confirmed, in words; None when some is."""
    if (found["status"] == witnesses.CONFIRMED).any():
        return None
    if not quality:
        return "no LLM witness scored this dataset (no llm.models entry, llm disabled, or label_witnesses: [])"
    if not any(q["good"] for q in quality.values()):
        weak = ", ".join(f"{name} {q['accuracy'] if q['accuracy'] is None else round(q['accuracy'], 3)} "
                         f"(bar {q['bar'] if q['bar'] is None else round(q['bar'], 3)})" for name, q in quality.items())  # fmt: skip
        return f"no witness is good enough (validation accuracy's lower bound above the bar): {weak}"
    if found.empty:
        return "cleanlab flags no candidate"
    return "the good witnesses label every candidate they scored like gold, or with too little confidence"


def study(runs: RunSet, data: dict, labels: Sequence[str], settings: dict, confidence: float, outputs) -> dict:
    """The rule for one dataset. `data`: `validation` (path) and `witnesses` (entry -> llm_witness table path);
    `settings`: analysis.label_issues; `outputs`: table, summary."""
    validation = read_split(data["validation"])
    names = list(data["witnesses"])
    empty = pd.DataFrame(columns=issue_columns(validation, names))
    if not settings["enabled"]:
        return finish(outputs, empty, {"note": "analysis.label_issues.enabled is false"})
    gold = validation["label"].to_numpy()
    encoders = {label: group.mean_probs() for label, group in runs.groups.items()}
    seen = {name: witnesses.as_probabilities(pd.read_csv(Path(path)), validation["index"], labels)
            for name, path in data["witnesses"].items()}  # fmt: skip
    rule = witnesses.Rule.from_settings(settings, confidence)
    try:
        found, quality = witnesses.detect(gold, encoders, seen, rule)
    except ValueError as err:  # a class absent from validation: cleanlab's estimate needs every class
        return finish(outputs, empty, {"note": str(err)})
    judged = label_issues.judged_positions(len(validation), settings["witness_sentences"], settings["seed"])
    flips = witnesses.flip_positions(judged, settings["flip_share"], len(labels), settings["seed"])
    confirmed = found.loc[found["status"] == witnesses.CONFIRMED, "position"]
    correct = {label: 1 - group.wrong_in_seeds() / len(group.runs) for label, group in runs.groups.items()}
    summary = {
        "candidates": len(found), "confirmed": len(confirmed), "note": why_none(quality, found),
        "judged_sentences": len(judged), "witnesses": quality,
        "rule": {"confirm_probability": rule.confirm_probability, "min_witness_accuracy": rule.min_witness_accuracy,
                 "confidence": confidence},
        "injected_flips": witnesses.inject_flips(gold, encoders, seen, judged, rule, flips)
        | {"share": settings["flip_share"], "seed": settings["seed"]},
        "sensitivity": label_issues.sensitivity(correct, np.isin(np.arange(len(gold)), confirmed)).to_dict("records"),
        "missing_runs": runs.missing,
    }  # fmt: skip
    return finish(outputs, readable(found, validation, labels, names), summary)


def finish(outputs, table: pd.DataFrame, summary: dict) -> dict:
    defaults = {"candidates": len(table), "confirmed": 0, "note": None, "witnesses": {}, "injected_flips": None,
                "sensitivity": []}  # fmt: skip
    summary = defaults | summary
    write_csv(outputs["table"], table)
    write_json(outputs["summary"], summary)
    return summary
