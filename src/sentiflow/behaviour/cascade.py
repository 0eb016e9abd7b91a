"""The encoder-to-LLM cascade answering the behavioural suite, with the threshold the cascade rule fitted.

The cascade rule (`sentiflow.llm.cascade`) stores, per run group, the confidence threshold fitted on all its
validation sentences (`threshold` in cascade.json; the cross-fitted fold thresholds only score it). Its confidence
is the seed majority's: the mean over seeds of the probability of the label most seeds chose. Here each item of a
case the LLM scored gets the encoder's answer (the majority label, the seed-mean probabilities) when that
confidence reaches the threshold, and the LLM's answer below it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sentiflow.behaviour.outcomes import prob_columns


def seed_majority(scores: pd.DataFrame, classes: int) -> pd.DataFrame:
    """Per (case, item): the seed-mean probabilities, the label most seeds chose (ties: the lower class id) and the
    mean probability of that label, as the cascade rule computes its confidence."""
    columns = prob_columns(classes)
    votes = scores[columns].to_numpy().argmax(1)
    counted = scores[["case", "item"]].assign(**{f"vote_{k}": votes == k for k in range(classes)})
    keys = ["case", "item"]
    mean = scores.groupby(keys, sort=False)[columns].mean()
    majority = counted.groupby(keys, sort=False).sum().loc[mean.index].to_numpy().argmax(1)
    probs = mean.to_numpy()
    return mean.assign(pred=majority, confidence=probs[np.arange(len(probs)), majority]).reset_index()


def cascade_scores(encoder: pd.DataFrame, llm: pd.DataFrame, threshold: float, classes: int) -> pd.DataFrame:
    """The cascade's score table (seed 0, `pred` beside the probabilities) on the items the LLM scored, and
    `deferred`: whether the item went to the LLM."""
    columns = prob_columns(classes)
    answered = seed_majority(encoder, classes).set_index(["case", "item"])
    asked = llm.set_index(["case", "item"])[columns]
    answered = answered.loc[asked.index]
    deferred = (answered["confidence"] < threshold).to_numpy()
    probs = np.where(deferred[:, None], asked.to_numpy(), answered[columns].to_numpy())
    pred = np.where(deferred, asked.to_numpy().argmax(1), answered["pred"].to_numpy())
    table = pd.DataFrame(probs, columns=columns, index=asked.index).assign(pred=pred, deferred=deferred)
    return table.reset_index().assign(seed=0)
