"""The peer_summary rule: every model's outcomes on a peer's suite (`peer_outcomes`: CheckList's rules), their failure
rates per test with intervals over seeds and cases, the failing cases a reader can check, and a summary.

The models are those of the dataset's own behavioural tests (`sentiflow.behaviour.summary`): every run group over its
seeds, every LLM entry on its bounded draw of cases, and per entry the cascade of the best encoder and the entry with
the threshold the cascade rule fitted. The intervals are `behaviour.statistics`' (the crossed seeds x clusters score
interval; Wilson's for one seed on cases that are their own clusters), with the suite's clusters: each case its own
unless the suite file groups them (`peer_suite`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from sentiflow.atomic import write_csv, write_json
from sentiflow.behaviour.cascade import cascade_scores
from sentiflow.behaviour.outcomes import Reading, ScoreTable, prob_columns, read_scores
from sentiflow.behaviour.peer_outcomes import case_outcomes, item_answers
from sentiflow.behaviour.peer_suite import read_drawn
from sentiflow.behaviour.polarity import POLARITIES, binary_positive
from sentiflow.behaviour.statistics import METHOD, fail_table, failure_rates
from sentiflow.behaviour.summary import Answers, EncoderFiles, LLMFiles, best_encoder, cascade_name

RATE_COLUMNS = ["test", "capability", "type", "model", "kind", "seed", "seeds", "cases", "clusters", "failure_rate",
                "ci_low", "ci_high"]  # fmt: skip
FAILING_COLUMNS = ["test", "capability", "type", "model", "kind", "case", "failed_seeds", "seeds", "seed", "item",
                   "expected", "original", "answer", "p_positive", "perturbed", "perturbed_answer",
                   "perturbed_p_positive", "moved"]  # fmt: skip


def answer_all(cases: Sequence[dict], encoders: Sequence[EncoderFiles], llms: Sequence[LLMFiles], best: str | None,
               reading: Reading, tolerance: float) -> tuple[dict[str, Answers], dict]:  # fmt: skip
    """Every model's answers and outcomes, and per cascade its threshold and the share of items the LLM answered."""
    answers, deferred, classes = {}, {}, len(reading.labels)
    for encoder in encoders:
        scores = read_scores(encoder.scores, classes)
        answers[encoder.label] = Answers("encoder", scores, case_outcomes(cases, scores, reading, tolerance))
    for llm in llms:
        scores = read_scores(llm.scores, classes)
        answers[llm.name] = Answers("llm", scores, case_outcomes(cases, scores, reading, tolerance))
    for llm in llms if best in answers else []:
        if llm.cascade is None:
            continue
        threshold = json.loads(Path(llm.cascade).read_text())["backbones"][best]["threshold"]
        scores = cascade_scores(answers[best].scores, answers[llm.name].scores, threshold, classes)
        name = cascade_name(best, llm.name)
        answers[name] = Answers("cascade", scores, case_outcomes(cases, scores, reading, tolerance))
        deferred[name] = {"threshold": threshold, "items": len(scores),
                          "deferred_share": float(scores["deferred"].mean()) if len(scores) else None}  # fmt: skip
    return answers, deferred


def rates_table(cases: Sequence[dict], answers: dict[str, Answers], confidence: float) -> pd.DataFrame:
    """Per test (suite order) and model, over seeds and per seed (`behaviour.statistics.failure_rates`)."""
    suite = pd.DataFrame(cases, columns=["case", "test", "type", "capability", "cluster"]).rename(
        columns={"capability": "probes"}
    )
    tables = {model: (a.kind, fail_table(a.outcomes)) for model, a in answers.items()}
    rates = failure_rates(suite, tables, confidence).rename(columns={"probes": "capability"})
    return rates[RATE_COLUMNS]


def expected_in_words(case: dict) -> str:
    return " or ".join(case["expected"]) if case["expected"] else "the original's polarity"


def failing_cases(cases: Sequence[dict], model: str, answers: Answers, reading: Reading) -> pd.DataFrame:
    """One row per case `model` fails in at least half its seeds, in suite order, as its first failing seed answered
    it: the text that decides it (MFT) or the original and the deciding perturbation (INV), each answer's polarity and
    P(positive) (summed over the positive labels), and for INV how far the original polarity's probability moved."""
    outcomes = answers.outcomes
    per_case = outcomes.groupby("case", sort=False).agg(failed_seeds=("failed", "sum"), seeds=("seed", "size"))
    failing = per_case[(per_case["failed_seeds"] > 0) & (2 * per_case["failed_seeds"] >= per_case["seeds"])]
    first = outcomes[outcomes["failed"]].groupby("case")[["item", "seed"]].first()
    table = ScoreTable(answers.scores, len(reading.labels))
    positive = [k for k, label in enumerate(reading.labels) if reading.polarity.get(label) == "positive"]
    rows = []
    for case in (c for c in cases if c["case"] in failing.index):
        item, seed = (int(x) for x in first.loc[case["case"]])
        probs, predicted = table.case(case["case"], len(case["texts"]))
        at = table.seeds.index(seed)
        frame = pd.DataFrame(probs[at], columns=prob_columns(len(reading.labels))).assign(pred=predicted[at])
        said, three = item_answers(frame, reading)
        shown = 0 if case["type"] == "INV" else item
        inv = case["type"] == "INV"
        rows.append({
            "test": case["test"], "capability": case["capability"], "type": case["type"], "model": model,
            "kind": answers.kind, "case": case["case"], "failed_seeds": int(failing.loc[case["case"], "failed_seeds"]),
            "seeds": int(failing.loc[case["case"], "seeds"]), "seed": seed, "item": item,
            "expected": expected_in_words(case), "original": case["texts"][shown], "answer": POLARITIES[said[shown]],
            "p_positive": float(probs[at, shown, positive].sum()),
            "perturbed": case["texts"][item] if inv else None,
            "perturbed_answer": POLARITIES[said[item]] if inv else None,
            "perturbed_p_positive": float(probs[at, item, positive].sum()) if inv else None,
            "moved": float(abs(three[item, said[0]] - three[0, said[0]])) if inv else None,
        })  # fmt: skip
    return pd.DataFrame(rows, columns=FAILING_COLUMNS)


def summarise(cases: Sequence[dict], draw: dict, encoders, llms, aggregate, reading: Reading, tolerance: float,
              confidence: float, outputs) -> dict:  # fmt: skip
    """The rule. `draw`: the peer_suite rule's summary; `outputs`: failure_rates, failing_cases, summary."""
    best = best_encoder(aggregate, encoders) if encoders else None
    answers, deferred = answer_all(cases, encoders, llms, best, reading, tolerance)
    rates = rates_table(cases, answers, confidence)
    failing = [failing_cases(cases, model, a, reading) for model, a in answers.items()]
    write_csv(outputs["failure_rates"], rates)
    write_csv(outputs["failing_cases"], pd.concat([pd.DataFrame(columns=FAILING_COLUMNS), *failing], ignore_index=True))
    binary = binary_positive(reading.labels, reading.polarity) is not None
    summary = {
        "suite": {key: draw[key] for key in ("file", "sha256", "cases", "seed", "paper_sample", "drawn", "texts")},
        "tests": [{key: t[key] for key in ("test", "type", "capability", "cases", "drawn")} for t in draw["tests"]],
        "models": [{"model": model, "kind": a.kind, "seeds": sorted(int(s) for s in a.outcomes["seed"].unique()),
                    "cases": int(a.outcomes["case"].nunique())} for model, a in answers.items()],
        "best_encoder": best,
        "cascades": deferred,
        "reading": {"labels": list(reading.labels), "polarity": dict(reading.polarity), "binary": binary,
                    "neutral_band": list(reading.band) if binary else None, "inv_tolerance": tolerance},
        "intervals": {"confidence": confidence, "method": METHOD},
    }  # fmt: skip
    write_json(outputs["summary"], summary)
    for model in summary["models"]:
        shown = rates[(rates["model"] == model["model"]) & (rates["seed"] == "all") & (rates["cases"] > 0)]
        print(f"{model['model']} ({model['kind']}): {model['cases']} cases, mean failure rate over its "
              f"{len(shown)} tests {np.mean(shown['failure_rate']) if len(shown) else float('nan'):.3f}", flush=True)  # fmt: skip
    return summary


def run_peer_summary(cases, draw, encoders, llms, aggregate, labels, polarity: dict, band: Sequence[float],
                     tolerance: float, confidence: float, outputs) -> dict:  # fmt: skip
    """The peer_summary rule from its files: the drawn cases and the draw's summary (rule peer_suite), the models'
    score tables, each LLM entry's cascade summary, the aggregate rule's summary (the best encoder)."""
    return summarise(read_drawn(cases), json.loads(Path(draw).read_text()), encoders, llms, aggregate,
                     Reading(labels, polarity, band), tolerance, confidence, outputs)  # fmt: skip
