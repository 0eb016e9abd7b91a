"""The behaviour_summary rule: every model's outcomes on a dataset's suite, their failure rates and comparisons,
the cascade applied to the suite, the association table, the failing cases, the summary and the figure."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import pandas as pd

from sentiflow.atomic import write_csv, write_json
from sentiflow.behaviour.association import association
from sentiflow.behaviour.cascade import cascade_scores
from sentiflow.behaviour.examples import COLUMNS as FAILING_COLUMNS
from sentiflow.behaviour.examples import failing_cases
from sentiflow.behaviour.figure import failure_rate_figure
from sentiflow.behaviour.outcomes import Reading, case_outcomes, check_labels, read_scores, read_suite, room
from sentiflow.behaviour.statistics import METHOD, comparisons, fail_table, failure_rates


@dataclass(frozen=True)
class EncoderFiles:
    """One run group's scores on the suite (rule behaviour_encoder)."""

    backbone: str
    variant: str
    label: str  # the run group's label, as the analysis names it (sentiflow.config.run_label)
    scores: Path


@dataclass(frozen=True)
class LLMFiles:
    """One LLM entry's scores on the suite (rule behaviour_llm) and its cascade's summary (none when it is off)."""

    name: str
    scores: Path
    cascade: Path | None


def model_files(params, inputs) -> tuple[list[EncoderFiles], list[LLMFiles]]:
    """The encoders' and LLM entries' files of a summary rule (behaviour_summary, peer_summary): the run groups'
    names in `params.encoders` beside `inputs.encoders`, the entries in `params.llms` beside `inputs.llm` and, one
    per entry, `inputs.cascades` (none when the cascade is off)."""
    encoders = [EncoderFiles(*names, path) for names, path in zip(params.encoders, inputs.encoders)]
    cascades = list(inputs.cascades) or [None] * len(params.llms)
    llms = [LLMFiles(name, path, cascade) for name, path, cascade in zip(params.llms, inputs.llm, cascades)]
    return encoders, llms


@dataclass
class Answers:
    """One model's answers: its kind (encoder, llm, cascade), score table and per (case, seed) outcomes."""

    kind: str
    scores: pd.DataFrame
    outcomes: pd.DataFrame


def best_encoder(aggregate_summary: Path, encoders: Sequence[EncoderFiles]) -> str:
    """The run group with the highest validation accuracy (seed majority, selected epoch) among those scored."""
    scored = [encoder.label for encoder in encoders]
    rows = [row for row in json.loads(Path(aggregate_summary).read_text())["backbones"] if row["backbone"] in scored]
    return max(rows, key=lambda row: row["selected_accuracy"])["backbone"] if rows else scored[0]


def cascade_name(encoder: str, llm: str) -> str:
    return f"cascade {encoder} / {llm}"


def answer_all(suite, encoders, llms, best: str, reading: Reading) -> tuple[dict[str, Answers], dict]:
    """Every model's answers, and per cascade the share of its items the LLM answered."""
    answers, deferred, labels = {}, {}, reading.labels
    for encoder in encoders:
        scores = read_scores(encoder.scores, len(labels))
        answers[encoder.label] = Answers("encoder", scores, case_outcomes(suite, scores, reading))
    for llm in llms:
        scores = read_scores(llm.scores, len(labels))
        answers[llm.name] = Answers("llm", scores, case_outcomes(suite, scores, reading))
    for llm in llms if best in answers else []:
        if llm.cascade is None:
            continue
        threshold = json.loads(Path(llm.cascade).read_text())["backbones"][best]["threshold"]
        scores = cascade_scores(answers[best].scores, answers[llm.name].scores, threshold, len(labels))
        name = cascade_name(best, llm.name)
        answers[name] = Answers("cascade", scores, case_outcomes(suite, scores, reading))
        deferred[name] = {"threshold": threshold, "items": len(scores), "deferred_share": float(scores["deferred"].mean())
                          if len(scores) else None}  # fmt: skip
    return answers, deferred


def comparison_pairs(encoders: Sequence[EncoderFiles], llms: Sequence[LLMFiles], best: str, models) -> list:
    """(kind, a, b): backbone vs backbone within a variant, each variant vs its backbone's base recipe, the best
    encoder vs each LLM entry and its cascade, each LLM entry vs its cascade."""
    pairs = [("backbones", a.label, b.label) for a, b in combinations(encoders, 2)
             if a.variant == b.variant and a.backbone != b.backbone]  # fmt: skip
    base = {e.backbone: e.label for e in encoders if e.variant == "base"}
    pairs += [("variant", e.label, base[e.backbone]) for e in encoders if e.variant != "base" and e.backbone in base]
    for llm in llms:
        cascade = cascade_name(best, llm.name)
        pairs.append(("llm", best, llm.name))
        if cascade in models:
            pairs += [("cascade", best, cascade), ("cascade", llm.name, cascade)]
    return [pair for pair in pairs if pair[1] in models and pair[2] in models]


def with_room(rates: pd.DataFrame, suite: pd.DataFrame, answers: dict[str, Answers]) -> pd.DataFrame:
    """The failure rates with `can_fail`: the (case, seed) pairs of each row that could fail at all."""
    counts = [room(suite, a.outcomes).assign(model=model) for model, a in answers.items()]
    counts = pd.concat([pd.DataFrame(columns=["test", "seed", "can_fail", "model"]), *counts], ignore_index=True)
    merged = rates.merge(counts, on=["test", "model", "seed"], how="left")
    return merged.assign(can_fail=merged["can_fail"].fillna(0).astype(int))


def edit_counts(cases: pd.DataFrame, top: int = 20) -> dict:
    """The words a test's perturbations replaced (`before`) and put in (`after`), most frequent first, as [word,
    perturbed texts] pairs; an appended tail counts as its `after` with an empty `before`."""
    pairs = [pair for edits in cases["edits"] if edits for items in edits for pair in items]
    before = Counter(b for b, _ in pairs if b)
    after = Counter(a for _, a in pairs if a)
    return {"before": [list(x) for x in before.most_common(top)], "after": [list(x) for x in after.most_common(top)]}


def summarise(suite: pd.DataFrame, encoders, llms, paths: dict, reading: Reading, confidence: float, outputs) -> dict:
    """The rule. `paths`: suite, failure_modes, aggregate (the aggregate rule's summary.json); `outputs`:
    failure_rates, comparisons, association, failing_cases, summary, png, pdf."""
    best = best_encoder(paths["aggregate"], encoders) if encoders else None
    answers, deferred = answer_all(suite, encoders, llms, best, reading)
    tables = {model: (a.kind, fail_table(a.outcomes)) for model, a in answers.items()}
    rates = with_room(failure_rates(suite, tables, confidence), suite, answers)
    pairs = comparison_pairs(encoders, llms, best, answers)
    failing = [failing_cases(suite, model, a.kind, a.outcomes, a.scores, reading) for model, a in answers.items()]
    write_csv(outputs["failure_rates"], rates)
    write_csv(outputs["comparisons"], comparisons(suite, tables, pairs, confidence))
    write_csv(outputs["association"], association(pd.read_csv(paths["failure_modes"]), rates, suite))
    write_csv(outputs["failing_cases"], pd.concat([pd.DataFrame(columns=FAILING_COLUMNS), *failing], ignore_index=True))
    summary = {
        "cases": len(suite),
        "tests": [{"test": test, "type": rows["type"].iloc[0], "probes": rows["probes"].iloc[0], "cases": len(rows),
                   "clusters": int(rows["cluster"].nunique()), "edits": edit_counts(rows)}
                  for test, rows in suite.groupby("test", sort=False)],
        "neutral_band": list(reading.band) if reading.band is not None else None,
        "models": [{"model": model, "kind": a.kind, "seeds": sorted(int(s) for s in a.outcomes["seed"].unique()),
                    "cases": int(a.outcomes["case"].nunique())} for model, a in answers.items()],
        "best_encoder": best,
        "cascades": deferred,
        "intervals": {"confidence": confidence, "method": METHOD},
    }  # fmt: skip
    write_json(outputs["summary"], summary)
    failure_rate_figure(rates, outputs["png"], outputs["pdf"])
    return summary


def run_summary(suite, encoders, llms, failure_modes, aggregate, labels, confidence: float, outputs,
                polarity: dict | None = None, band: Sequence[float] | None = None) -> dict:  # fmt: skip
    """The behaviour_summary rule from its files (see `summarise`); `polarity` (label -> polarity) and `band`
    (`behaviour.neutral_band`) read an MFT answer as a polarity."""
    paths = {"failure_modes": failure_modes, "aggregate": aggregate}
    cases = read_suite(suite)
    check_labels(cases, labels, suite)
    return summarise(cases, encoders, llms, paths, Reading(labels, polarity or {}, band), confidence, outputs)
