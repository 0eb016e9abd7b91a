"""The polarity of a model's answer (negative, neutral or positive), as CheckList scores sentiment models.

A model of a binary dataset (one negative and one positive label) has no neutral label, yet a test may accept
"positive or unsure" (a negated negative: "the plot was not bad"). CheckList (Ribeiro et al. 2020) scores such
models on its three-label suite by a band: P(positive) below its low end is negative, above its high end positive,
in between (both ends included) neutral; its default is [1/3, 2/3] (`behaviour.neutral_band`). A multi-class
model's answer has the polarity of the label it predicts, by the dataset's polarity map (`config.label_polarity`:
SST-5's "very negative" is negative). Every score that reads an answer as a polarity goes through `answer_polarity`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

POLARITIES = ("negative", "neutral", "positive")


def binary_positive(labels: Sequence[str], polarity: Mapping[str, str | None]) -> int | None:
    """The index of the positive label of a dataset whose two labels are one negative and one positive, else None."""
    kinds = [polarity.get(label) for label in labels]
    return kinds.index("positive") if sorted(map(str, kinds)) == ["negative", "positive"] else None


def answer_polarity(probs: np.ndarray, labels: Sequence[str], polarity: Mapping[str, str | None],
                    band: Sequence[float] | None, predicted: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """The polarity of each answer: `probs` (... x classes, in `labels` order) -> an array of "negative", "neutral"
    or "positive" of the leading shape. Binary: by the band on P(positive). Otherwise: the polarity of the
    predicted label, `predicted` (label ids of the leading shape) where the label is not the most probable class
    (the cascade's seed majority), else the most probable; a label without a polarity is an error."""
    probs = np.asarray(probs, dtype=float)
    positive = binary_positive(labels, polarity)
    if positive is not None:
        if band is None:
            raise ValueError("a binary model's answer is read as a polarity by a neutral band, and none was given")
        low, high = band
        p = probs[..., positive]
        return np.where(p < low, "negative", np.where(p > high, "positive", "neutral"))
    predicted = probs.argmax(-1) if predicted is None else np.asarray(predicted)
    lacking = [label for label in labels if polarity.get(label) not in POLARITIES]
    if lacking:
        raise ValueError(f"label(s) {lacking} have no polarity, so an answer cannot be read as one")
    # A str array indexed by an array of any shape, a 0-d one included (one answer), keeps the leading shape.
    return np.asarray(np.array([polarity[label] for label in labels], dtype=str)[predicted])


def polarity_probabilities(probs: np.ndarray, labels: Sequence[str], polarity: Mapping[str, str | None],
                           band: Sequence[float] | None) -> np.ndarray:  # fmt: skip
    """Each answer's probabilities of negative, neutral and positive (... x 3, in POLARITIES order), as CheckList turns
    a model's answer into its three labels' probabilities (the tutorial's `pred_and_conf`), where a test weighs how far
    an answer moved (INV's tolerance). Binary: outside the band [1 - p, 0, p] for p = P(positive); inside it neutral
    takes 1 - |p - c| / (high - low), c the band's centre (1 there, 1/2 at the band's ends: CheckList's 1 - 3|p - 0.5|
    for [1/3, 2/3]), and the nearer pole the rest. Otherwise each polarity's labels' summed probability."""
    probs = np.asarray(probs, dtype=float)
    positive = binary_positive(labels, polarity)
    if positive is None:
        lacking = [label for label in labels if polarity.get(label) not in POLARITIES]
        if lacking:
            raise ValueError(f"label(s) {lacking} have no polarity, so an answer cannot be read as one")
        kinds = np.array([polarity[label] for label in labels])
        return np.stack([probs[..., kinds == kind].sum(-1) for kind in POLARITIES], axis=-1)
    if band is None:
        raise ValueError("a binary model's answer is read as a polarity by a neutral band, and none was given")
    low, high = band
    p = probs[..., positive]
    centre, width = (low + high) / 2, high - low
    inside = (p >= low) & (p <= high)
    with np.errstate(invalid="ignore", divide="ignore"):
        neutral = np.where(width > 0, 1 - np.abs(p - centre) / width, 1.0)
    rest = 1 - neutral
    return np.stack([
        np.where(inside, np.where(p < centre, rest, 0.0), 1 - p),
        np.where(inside, neutral, 0.0),
        np.where(inside, np.where(p < centre, 0.0, rest), p),
    ], axis=-1)  # fmt: skip
