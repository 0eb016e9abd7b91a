"""The `label_issues` rule's job: candidates from the encoders, judged by the LLM witnesses (confirmed, disputed or
left a candidate, with the estimated share of wrong gold labels), the detection measured on injected flips, and
accuracy with and without the confirmed issues.

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

LEADING = ["gold", "suggested", "self_confidence", "flagged_pooled", "flagged_by", "status", "p_gold_wrong", "witnesses",
           "against_gold", "witness_prob_suggested"]  # fmt: skip


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


def why_none(quality: dict, found: pd.DataFrame, min_precision: float) -> str | None:
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
    if not any(q["votes"] for q in quality.values()):
        return (
            "no good witness votes ("
            + "; ".join(f"{name} {q['vote']}" for name, q in quality.items() if q["good"])
            + ")"
        )
    disputed = found.loc[found["status"] == witnesses.DISPUTED, "p_gold_wrong"]
    if len(disputed):
        return (f"the good witnesses read {len(disputed)} candidate(s) against gold, but the estimated probability "
                f"that the gold label is wrong is at most {disputed.max():.2f} there, below min_precision "
                f"{min_precision}: disputed, not confirmed")  # fmt: skip
    return "the good witnesses label every candidate they scored like gold, or with too little confidence"


def flip_note(settings: dict, found: pd.DataFrame, judged: np.ndarray, flips: tuple) -> str | None:
    """Why no label is flipped, in words; None when some are."""
    if len(flips[0]):
        return None
    if settings["flip_share"] == 0:
        return "flip_share is 0"
    if found.empty:
        return "no candidate: the flips have no encoder confidence to follow"
    if not len(np.setdiff1d(judged, found["position"])):
        return "every judged sentence is a candidate: none is left to flip"
    return (f"no judged sentence's encoder confidence came within the caliper of the {flips[2]} candidate(s) drawn "
            "for flips")  # fmt: skip


def study(runs: RunSet, data: dict, labels: Sequence[str], settings: dict, confidence: float, outputs) -> dict:
    """The rule for one dataset. `data`: `validation` (path) and `witnesses` (entry -> llm_witness table path);
    `settings`: analysis.label_issues; `outputs`: table, summary."""
    validation = read_split(data["validation"])
    names = list(data["witnesses"])
    empty = pd.DataFrame(columns=issue_columns(validation, names))
    rule = witnesses.Rule.from_settings(settings, confidence)
    stated = {"rule": {"confirm_probability": rule.confirm_probability, "min_witness_accuracy": rule.min_witness_accuracy,
                       "min_precision": rule.min_precision, "families": rule.families, "confidence": confidence}}  # fmt: skip
    if not settings["enabled"]:
        return finish(outputs, empty, stated | {"note": "analysis.label_issues.enabled is false"})
    gold = validation["label"].to_numpy()
    encoders = {label: group.mean_probs() for label, group in runs.groups.items()}
    seen = {name: witnesses.as_probabilities(pd.read_csv(Path(path)), validation["index"], labels)
            for name, path in data["witnesses"].items()}  # fmt: skip
    try:
        found, quality, judge, read = witnesses.detect(gold, encoders, seen, rule)
    except ValueError as err:  # a class absent from validation: cleanlab's estimate needs every class
        return finish(outputs, empty, stated | {"note": str(err)})
    judged = label_issues.judged_positions(len(validation), settings["witness_sentences"], settings["seed"])
    pooled = witnesses.pooled_probabilities(encoders)
    flips = witnesses.flip_positions(judged, settings["flip_share"], pooled, gold, found, settings["seed"])
    injected = None
    if len(flips[0]):
        injected = witnesses.inject_flips(gold, encoders, seen, judged, rule, flips, judge) | {
            "share": settings["flip_share"], "seed": settings["seed"],
            "candidates_self_confidence_median": float(found["self_confidence"].median()),
        }  # fmt: skip
    confirmed = found.loc[found["status"] == witnesses.CONFIRMED, "position"]
    correct = {label: 1 - group.wrong_in_seeds() / len(group.runs) for label, group in runs.groups.items()}
    summary = {
        "candidates": len(found), "confirmed": len(confirmed),
        "disputed": int((found["status"] == witnesses.DISPUTED).sum()),
        "note": why_none(quality, found, rule.min_precision), "judged_sentences": len(judged), "witnesses": quality,
        "voters": list(judge.voters), **witnesses.figures(found, read, judge, confidence), **stated,
        "injected_flips": injected, "injected_flips_note": flip_note(settings, found, judged, flips),
        "sensitivity": label_issues.sensitivity(correct, np.isin(np.arange(len(gold)), confirmed)).to_dict("records"),
        "missing_runs": runs.missing,
    }  # fmt: skip
    return finish(outputs, readable(found, validation, labels, names), summary)


def finish(outputs, table: pd.DataFrame, summary: dict) -> dict:
    defaults = {"candidates": len(table), "confirmed": 0, "disputed": 0, "note": None, "witnesses": {}, "voters": [],
                "base_rate": None, "precision": None, "patterns": [], "injected_flips": None,
                "injected_flips_note": None, "sensitivity": []}  # fmt: skip
    summary = defaults | summary
    write_csv(outputs["table"], table)
    write_json(outputs["summary"], summary)
    return summary
