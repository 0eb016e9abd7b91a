"""Intervals for a proportion of independent trials, and MOVER for a difference of two estimates with intervals.

For trials that are independent given what is measured (a witness LLM's answers on validation sentences, the
injected flips the detection finds, the held-out sentences of a slice scored for one run group's seed majority) a
proportion's interval is a binomial one. A percentile bootstrap of a group whose trials all succeeded resamples
nothing but ones and returns [1, 1]; score and Bayesian intervals do not: Wilson's interval of 0 of 12 is [0, 0.243]
at 95%. Their coverage oscillates with n and p (the binomial's discreteness) and is measured in
tests/test_coverage.py over the sizes the report meets (docs/statistics.md).

Rates measured with several seeds or with clustered cases are not binomial: `sentiflow.analysis.crossed`.

Every function takes scalars or arrays (one interval per element).
"""

from __future__ import annotations

import numpy as np
from scipy import stats


def _z(confidence: float) -> float:
    return float(stats.norm.ppf(0.5 + confidence / 2))


def wilson_of_share(p, n, confidence: float = 0.95):
    """Wilson's score interval (Wilson 1927) of a share `p` of `n` trials; NaN for no trial."""
    p, n = np.asarray(p, dtype=float), np.asarray(n, dtype=float)
    z = _z(confidence)
    with np.errstate(invalid="ignore", divide="ignore"):
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z / (1 + z * z / n) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
        low, high = np.maximum(0.0, centre - half), np.minimum(1.0, centre + half)
    empty = n == 0
    return _scalar(np.where(empty, np.nan, low)), _scalar(np.where(empty, np.nan, high))


def jeffreys_interval(successes, n, confidence: float = 0.95):
    """The Jeffreys interval (the Beta(1/2, 1/2) prior's equal-tailed posterior interval, Brown, Cai and DasGupta
    2001) of `successes` in `n` trials, with the end at 0 (or 1) when none (or all) succeed; NaN for no trial."""
    k, n = np.asarray(successes, dtype=float), np.asarray(n, dtype=float)
    tail = (1 - confidence) / 2
    with np.errstate(invalid="ignore"):
        low = np.where(k == 0, 0.0, stats.beta.ppf(tail, k + 0.5, n - k + 0.5))
        high = np.where(k == n, 1.0, stats.beta.ppf(1 - tail, k + 0.5, n - k + 0.5))
    empty = n == 0
    return _scalar(np.where(empty, np.nan, low)), _scalar(np.where(empty, np.nan, high))


def mover(a, a_ci, b, b_ci, correlation=0.0):
    """MOVER limits of a - b from each estimate's interval and their correlation (Zou and Donner 2008): each side's
    distance to its limits combined in quadrature, less their covariance. With Wilson's intervals and correlation 0
    it is Newcombe's hybrid score interval (1998, method 10), which keeps a width where a rate is 0."""
    (a_low, a_high), (b_low, b_high) = a_ci, b_ci
    a, b, r = np.asarray(a, dtype=float), np.asarray(b, dtype=float), np.clip(correlation, -1.0, 1.0)
    below_a, above_a, below_b, above_b = a - a_low, a_high - a, b - b_low, b_high - b
    low = a - b - np.sqrt(np.maximum(below_a**2 + above_b**2 - 2 * r * below_a * above_b, 0.0))
    high = a - b + np.sqrt(np.maximum(above_a**2 + below_b**2 - 2 * r * above_a * below_b, 0.0))
    return _scalar(np.maximum(low, -1.0)), _scalar(np.minimum(high, 1.0))


def _scalar(values: np.ndarray):
    """A float for a 0-d result (a single interval), the array otherwise."""
    return float(values) if np.ndim(values) == 0 else values
