"""The encoder-to-LLM cascade answering the behavioural suite, with the threshold the cascade rule fitted.

The cascade rule (`sentiflow.llm.cascade`) stores, per run group, the confidence threshold fitted on all its
validation sentences (`threshold` in cascade.json; the cross-fitted fold thresholds only score it). Its confidence
is the seed majority's: the mean over seeds of the probability of the label most seeds chose, ties broken by the
rule the cascade rule's run groups follow (`analysis.runs.seed_majority`). Here each item of a case the LLM scored
gets the encoder's answer (the majority label, the seed-mean probabilities) when that confidence reaches the
threshold, and the LLM's answer below it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sentiflow.analysis.runs import seed_majority
from sentiflow.behaviour.outcomes import SuiteError, prob_columns


def seed_answers(scores: pd.DataFrame, classes: int) -> pd.DataFrame:
    """Per (case, item): the seed-mean probabilities, the seed majority `pred` (`analysis.runs.seed_majority`, the
    rule `RunGroup.majority` gives the cascade rule: ties to the highest seed-mean probability) and its mean
    probability, `confidence`, as the cascade rule computes it. Every item must have a row for every seed."""
    columns, keys = prob_columns(classes), ["case", "item"]
    ordered = scores.sort_values([*keys, "seed"], kind="stable")
    if not len(ordered):
        return pd.DataFrame(columns=[*keys, *columns, "pred", "confidence"])
    seeds = ordered["seed"].nunique()
    per_item = ordered.groupby(keys, sort=False)["seed"].agg(["size", "nunique"])
    incomplete = per_item[(per_item["size"] != seeds) | (per_item["nunique"] != seeds)]
    if len(incomplete):
        case, item = incomplete.index[0]
        raise SuiteError(f"the encoder's scores of case {case!r} item {item} are not one row per seed of {seeds}")
    probs = ordered[columns].to_numpy(dtype=float).reshape(len(per_item), seeds, classes).transpose(1, 0, 2)
    majority, mean = seed_majority(probs), probs.mean(0)
    answers = pd.DataFrame(mean, columns=columns, index=per_item.index)
    return answers.assign(pred=majority, confidence=mean[np.arange(len(mean)), majority]).reset_index()


def cascade_scores(encoder: pd.DataFrame, llm: pd.DataFrame, threshold: float, classes: int) -> pd.DataFrame:
    """The cascade's score table (seed 0, `pred` beside the probabilities) on the items the LLM scored, and
    `deferred`: whether the item went to the LLM."""
    columns = prob_columns(classes)
    answered = seed_answers(encoder, classes).set_index(["case", "item"])
    asked = llm.set_index(["case", "item"])[columns]
    answered = answered.loc[asked.index]
    deferred = (answered["confidence"] < threshold).to_numpy()
    probs = np.where(deferred[:, None], asked.to_numpy(), answered[columns].to_numpy())
    pred = np.where(deferred, asked.to_numpy().argmax(1), answered["pred"].to_numpy())
    table = pd.DataFrame(probs, columns=columns, index=asked.index).assign(pred=pred, deferred=deferred)
    return table.reset_index().assign(seed=0)
