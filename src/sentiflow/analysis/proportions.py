"""Intervals for an error rate and for the difference of two, honest where a rate is 0 or 1.

A percentile bootstrap of a group whose sentences are all right resamples nothing but zeros and returns [0, 0],
as if twelve right answers proved the error rate is exactly zero. Score intervals do not: Wilson's interval of
0 errors in 12 is [0, 0.243] at 95%, and Newcombe's difference built from two of them keeps a width when one
side has no errors.

The rates here are per-sentence shares of seeds wrong, r_i in [0, 1], not 0/1 outcomes. A sentence is the unit
(seeds of one sentence are not independent draws), and a variable in [0, 1] with mean p has a variance of at most
p (1 - p), reached when every seed agrees: so treating n sentences as n Bernoulli trials with sum(r_i) errors gives
the binomial variance or more. They are the usual binomial intervals for one seed, conservative for several.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np


def _z(confidence: float) -> float:
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson_interval(rates: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson's score interval (Wilson 1927) of the mean of `rates` (one per sentence, each in [0, 1]), counting the
    sentences as trials and the rates' sum as successes; (nan, nan) for no sentence."""
    rates = np.asarray(rates, dtype=float)
    n = len(rates)
    if n == 0:
        return math.nan, math.nan
    if rates.min() < 0 or rates.max() > 1:
        raise ValueError("a rate's interval needs values in [0, 1] (a share of seeds wrong per sentence)")
    return wilson_of_share(float(rates.mean()), n, confidence)


def wilson_of_share(p: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson's score interval of a share `p` of `n` trials (successes / n); (nan, nan) for no trial."""
    if n == 0:
        return math.nan, math.nan
    z = _z(confidence)
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe_difference(a: np.ndarray, b: np.ndarray, confidence: float = 0.95) -> tuple[float, float]:
    """Newcombe's hybrid score interval (Newcombe 1998, method 10) of mean(a) - mean(b), two independent groups of
    per-sentence rates: each side's distance to its Wilson limits, combined in quadrature. Chosen over a bootstrap of
    the difference because that collapses with a group of no errors (its resamples are all zero), and over the Wald
    interval because that does too; in Newcombe's comparison of eleven methods its coverage stayed close to nominal,
    near rates of 0 included. (nan, nan) when a group is empty."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) == 0 or len(b) == 0:
        return math.nan, math.nan
    p1, p2 = float(a.mean()), float(b.mean())
    (l1, u1), (l2, u2) = wilson_interval(a, confidence), wilson_interval(b, confidence)
    d = p1 - p2
    return d - math.hypot(p1 - l1, u2 - p2), d + math.hypot(u1 - p1, p2 - l2)
