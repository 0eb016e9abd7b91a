"""Intervals for a rate measured with seeds crossed with clusters of cases, and for the difference of two such rates.

The estimand is the expected rate over the population of seeds (training runs that differ only in their seed) and
the population of clusters (templates, or validation sentences with their perturbations, or sentences): a new seed
on new templates would fail this often. With one seed (an LLM entry, the cascade, one seed's own rate) there is no
seed population: the rate is that model's over the clusters. The rate is the share of failing (seed, case) pairs.

Its variance has three parts (a two-way random-effects design, seeds x clusters, with Bernoulli cases):
- the seeds': the variance of the seeds' own rates over seeds (`seed`), S - 1 degrees of freedom. It holds the
  seeds' offsets and, once, the noise of each seed's cases;
- the clusters': the variance of the clusters' rates (seeds pooled) beyond that noise (`cluster`), C - 1 degrees
  of freedom: what a cluster shares with every seed;
- with one seed the clusters' variance alone (cluster-robust, C - 1 degrees of freedom).
These are the usual two-way cluster-robust sums (Cameron, Gelbach and Miller 2011) with the noise counted once: the
interaction mean square, estimated with (S - 1)(C - 1) degrees of freedom, is taken from the clusters' part.

Three seeds give the seeds' part 2 degrees of freedom, and no interval knows how much of the variance is the
seeds'. Satterthwaite's degrees of freedom, computed from the estimated parts, are too many exactly when three seeds
happen to agree (coverage down to 0.92 in Normal theory); each part at its own t quantile combined in quadrature
(MOVER, Zou and Donner 2008) is exact when one part dominates and covers up to 0.977 when both weigh alike. The
quantile is a weighted mean of the two (`QUADRATURE_WEIGHT`).

The interval inverts a score test whose variance at a candidate rate t scales as each part's mechanism implies: the
cases' Bernoulli noise as t (1 - t) (Wilson's interval on an effective sample size: the design effect), the seeds'
and clusters' random logit offsets as (t (1 - t))^2 (a logit-scale interval). So it is asymmetric near 0 and 1,
never leaves [0, 1], and at a rate of 0 or 1, where no variance can be estimated, it is Wilson's interval on all
(seed, case) pairs at the seeds' t quantile: the limit of one failure's interval, so it does not jump there. With a
single cluster the clusters' variance cannot be estimated: the interval is NaN.

A difference of two rates (`Difference`) is Newcombe's hybrid score interval of the two rates' intervals at the
difference's own quantile, scaled to the difference's variance, computed directly: the seeds of two models are
independent and their clusters shared (`paired_models`), or the seeds shared and the clusters disjoint
(`shared_seeds`, the failure modes' with and without a cue).

Coverage, simulated under a known truth at the sizes the report meets: docs/statistics.md, tests/test_coverage.py.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy import stats

from sentiflow.analysis.proportions import mover

# The quantile's weight on the quadrature rule, against Satterthwaite's: a calibration. With three seeds, in Normal
# theory, it keeps the coverage within 0.941 and 0.965 whatever the seeds' share of the variance (0.3 would balance
# the worst under- and over-coverage there, 0.938 and 0.962), and the simulations of tests/test_coverage.py, whose
# skewed rates undercover a little more where the seeds dominate, within [0.93, 0.97].
QUADRATURE_WEIGHT = 0.4
# Bisection steps of the score inversion: the interval's ends to 2^-50 of the distance to 0 or 1.
STEPS = 50
# The seeds' part is at least this quantile of what the cases' noise alone gives it (the interaction mean square x
# chi2(S - 1) / (S - 1)): seed rates are counts, which tie by chance (two seeds failing one case each), and a tie
# would otherwise give an interval of no width.
SEED_FLOOR = 0.05


@dataclass(frozen=True)
class Rate:
    """A rate and the parts of its variance, each an array over any leading axes (studies, in a simulation)."""

    rate: np.ndarray
    trials: int  # (seed, case) pairs
    seeds: int
    clusters: int
    seed: np.ndarray  # the seeds' part: the variance of the seed rates / S (0 with one seed)
    cluster: np.ndarray  # the clusters' part beyond the cases' noise (with one seed, the whole variance)
    noise: np.ndarray  # how much of seed + cluster is the cases' noise, which scales as t (1 - t)
    cells: np.ndarray  # the interaction mean square's share: the cases' noise in the seeds' part (0 with one seed)
    independent: bool = False  # one seed, every cluster one case: independent Bernoulli trials

    @property
    def variance(self) -> np.ndarray:
        return self.seed + self.cluster

    def parts(self) -> list[tuple[np.ndarray, float]]:
        """(variance part, its degrees of freedom), the seeds' first."""
        if self.independent:
            return [(self.cluster, np.inf)]
        if self.seeds == 1:
            return [(self.cluster, self.clusters - 1)]
        return [(self.seed, self.seeds - 1), (self.cluster, self.clusters - 1)]


def small_sample(groups: int) -> float:
    """G / (G - 1), the sums' small-sample factor; NaN for one group, whose variance cannot be estimated."""
    return groups / (groups - 1) if groups > 1 else float("nan")


def cluster_codes(clusters) -> np.ndarray:
    """Cluster labels as 0..C-1 in order of first appearance (results do not depend on the labels' names)."""
    _, first, codes = np.unique(np.asarray(clusters), return_index=True, return_inverse=True)
    return np.argsort(np.argsort(first))[codes.ravel()]


def cell_counts(fails: np.ndarray, clusters) -> tuple[np.ndarray, np.ndarray]:
    """Failures per seed and cluster (..., seeds, clusters) from `fails` (..., seeds, cases) of 0/1, and the cases
    per cluster."""
    fails = np.asarray(fails, dtype=float)
    codes = cluster_codes(clusters)
    sizes = np.bincount(codes).astype(float)
    if not len(codes):
        return fails, sizes
    order = np.argsort(codes, kind="stable")
    starts = np.r_[0, np.cumsum(sizes[:-1])].astype(int)
    return np.add.reduceat(fails[..., order], starts, axis=-1), sizes


def rate_parts(counts: np.ndarray, sizes: np.ndarray) -> Rate:
    """The rate of cell failures `counts` (..., S, C), `sizes` cases per cluster, and its variance's parts."""
    counts = np.asarray(counts, dtype=float)
    seeds, clusters = counts.shape[-2:]
    trials = seeds * sizes.sum()
    rate = counts.sum((-2, -1)) / trials
    zero = np.zeros_like(rate)
    if seeds == 1 and (sizes == 1).all():  # independent trials of one rate: binomial
        binomial = rate * (1 - rate) / trials
        return Rate(rate, trials, 1, clusters, zero, binomial, binomial, zero, independent=True)
    by_cluster = small_sample(clusters) * (cluster_residuals(counts, sizes, rate, trials) ** 2).sum(-1)
    if seeds == 1:
        # The cases' noise within clusters of two or more cases (unbiased); a single case's cannot be told from its
        # cluster's offset, so it counts as noise at the overall rate (marginally, a Bernoulli trial).
        cell = counts[..., 0, :] / sizes
        many = sizes > 1
        within = np.where(many, sizes**2 * cell * (1 - cell) / np.maximum(sizes - 1, 1), 0).sum(-1)
        within = within + sizes[~many].sum() * rate * (1 - rate)
        return Rate(rate, trials, 1, clusters, zero, by_cluster, np.minimum(within / trials**2, by_cluster), zero)
    by_seed = small_sample(seeds) * (seed_residuals(counts, sizes, rate, trials) ** 2).sum(-1)
    seed_rate = counts.sum(-1) / sizes.sum()
    cluster_rate = counts.sum(-2) / (seeds * sizes)
    interaction = counts - sizes * (seed_rate[..., :, None] + cluster_rate[..., None, :] - rate[..., None, None])
    cells = small_sample(seeds) * small_sample(clusters) * (interaction**2).sum((-2, -1)) / trials**2
    cluster = np.maximum(by_cluster - cells, 0.0)
    by_seed = np.maximum(by_seed, stats.chi2.ppf(SEED_FLOOR, seeds - 1) / (seeds - 1) * cells)
    return Rate(rate, trials, seeds, clusters, by_seed, cluster, np.minimum(by_seed, cells), cells)


def seed_residuals(counts, sizes, rate, trials) -> np.ndarray:
    """Each seed's failures beyond the rate, over the trials: (..., seeds)."""
    return (counts - rate[..., None, None] * sizes).sum(-1) / trials


def cluster_residuals(counts, sizes, rate, trials) -> np.ndarray:
    """Each cluster's failures beyond the rate (seeds pooled), over the trials: (..., clusters)."""
    return (counts - rate[..., None, None] * sizes).sum(-2) / trials


def quantile(parts: list[tuple[np.ndarray, float]], confidence: float) -> np.ndarray:
    """A weighted mean of Satterthwaite's t quantile and the parts' own t quantiles in quadrature (see the module's
    docstring). Where every part is 0, the first part's quantile: the limit as it starts to count."""
    level = 0.5 + confidence / 2
    total = sum(variance for variance, _ in parts)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = [np.where(total > 0, variance / total, float(i == 0)) for i, (variance, _) in enumerate(parts)]
        quadrature = np.sqrt(sum(w * stats.t.ppf(level, df) ** 2 for w, (_, df) in zip(shares, parts)))
        satterthwaite = stats.t.ppf(level, 1 / sum(w**2 / df for w, (_, df) in zip(shares, parts)))
    return QUADRATURE_WEIGHT * quadrature + (1 - QUADRATURE_WEIGHT) * satterthwaite


def pooled(parts: list[tuple[np.ndarray, float]]) -> tuple[np.ndarray, np.ndarray]:
    """Parts of one kind (two models' seeds) as one, with Satterthwaite's degrees of freedom (Welch's); the
    fewest where all are 0."""
    total = sum(variance for variance, _ in parts)
    with np.errstate(invalid="ignore", divide="ignore"):
        df = total**2 / sum(variance**2 / df for variance, df in parts)
    return total, np.where(total > 0, df, min(df for _, df in parts))


def score_limits(rate, q, linear, quadratic) -> tuple[np.ndarray, np.ndarray]:
    """The rates t with (t - rate)^2 = q^2 (linear x + quadratic x^2), x = t (1 - t), below and above `rate`: the
    root of a function convex on each side (its square-root term is concave in t), found by bisection."""
    rate, q, linear, quadratic = np.broadcast_arrays(
        *(np.asarray(v, dtype=float) for v in (rate, q, linear, quadratic))
    )

    def excess(t):
        x = t * (1 - t)
        return (t - rate) ** 2 - q * q * (linear * x + quadratic * x * x)

    def root(inside, outside):  # excess <= 0 at `inside`, > 0 at `outside`
        for _ in range(STEPS):
            middle = (inside + outside) / 2
            below = excess(middle) <= 0
            inside, outside = np.where(below, middle, inside), np.where(below, outside, middle)
        return inside

    zeros, ones = np.zeros_like(rate), np.ones_like(rate)
    low = np.where(excess(zeros) <= 0, 0.0, root(rate, zeros))
    high = np.where(excess(ones) <= 0, 1.0, root(rate, ones))
    return low, high


def at_edge(parts: Rate) -> np.ndarray:
    """Where no variance is estimated (a rate of 0 or 1, or nothing that varies): the interval is Wilson's on all
    trials at the first part's quantile, not a variance's."""
    return (parts.rate * (1 - parts.rate) == 0) | (parts.variance <= 0)


def interval(parts: Rate, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """The rate's interval (see the module's docstring); NaN with fewer than two clusters."""
    rate, variance = parts.rate, parts.variance
    if parts.clusters < 2:
        return np.full_like(rate, np.nan), np.full_like(rate, np.nan)
    spread = rate * (1 - rate)
    edge = at_edge(parts)  # nothing varies: the limit of one failure, Wilson on all trials
    with np.errstate(invalid="ignore", divide="ignore"):
        linear = np.where(edge, 1 / parts.trials, parts.noise / spread)
        quadratic = np.where(edge, 0.0, (variance - parts.noise) / spread**2)
    return score_limits(rate, quantile(parts.parts(), confidence), linear, quadratic)


def rate_interval(fails: np.ndarray, clusters, confidence: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rate, low, high) of `fails` (..., seeds, cases) of 0/1 with each case's cluster."""
    parts = rate_parts(*cell_counts(fails, clusters))
    return (parts.rate, *interval(parts, confidence))


@dataclass(frozen=True)
class Difference:
    """Two rates with their intervals, and the interval of a's rate minus b's."""

    a: Rate
    b: Rate
    a_ci: tuple[np.ndarray, np.ndarray]
    b_ci: tuple[np.ndarray, np.ndarray]
    ci: tuple[np.ndarray, np.ndarray]

    @classmethod
    def of(cls, a: Rate, b: Rate, parts: list[tuple[np.ndarray, float]], confidence: float, shapes=None) -> Difference:
        """Newcombe's hybrid score interval (1998, method 10: MOVER of two score intervals, Zou and Donner 2008) of
        the rates' intervals at the difference's own quantile (that of its variance `parts`), its distances then
        scaled by the difference's standard error against that of independent rates. `shapes`: the rates whose
        intervals give the shape, where a part of each rate's variance cancels in the difference (shared seeds)."""
        a_ci, b_ci = interval(a, confidence), interval(b, confidence)
        shape_a, shape_b = shapes or (a, b)
        q = quantile(parts, confidence)
        # A rate at the edge keeps its interval as it is: its width is no variance's, and the difference's parts
        # hold none of it.
        at_q = [
            rescaled(m.rate, interval(m, confidence), np.where(at_edge(m), 1.0, q / quantile(m.parts(), confidence)))
            for m in (shape_a, shape_b)
        ]
        low, high = mover(a.rate, at_q[0], b.rate, at_q[1])
        d, independent, variance = a.rate - b.rate, shape_a.variance + shape_b.variance, sum(part for part, _ in parts)
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = np.where(independent > 0, np.sqrt(variance / independent), 1.0)
        low, high = d - (d - low) * scale, d + (high - d) * scale
        return cls(a, b, a_ci, b_ci, (np.maximum(low, -1.0), np.minimum(high, 1.0)))


def rescaled(estimate, ci, factor) -> tuple[np.ndarray, np.ndarray]:
    """An interval with its distances from the estimate multiplied by `factor` (another quantile's interval)."""
    low, high = ci
    return estimate - (estimate - low) * factor, estimate + (high - estimate) * factor


def paired_counts(a_counts, b_counts, sizes, confidence: float) -> Difference:
    """Model a's rate minus model b's on the same clusters (cell failures of each, their own seeds): the two models'
    seeds are independent, their clusters shared."""
    a, b = rate_parts(a_counts, sizes), rate_parts(b_counts, sizes)
    residual = cluster_residuals(a_counts, sizes, a.rate, a.trials) - cluster_residuals(
        b_counts, sizes, b.rate, b.trials
    )
    # Both models' case noise is in the clusters' part of the difference; a model with several seeds has it in its
    # seeds' part already.
    by_cluster = np.maximum(small_sample(a.clusters) * (residual**2).sum(-1) - a.cells - b.cells, 0.0)
    parts = [(by_cluster, np.inf if a.independent and b.independent else a.clusters - 1)]
    seeds = [(m.seed, m.seeds - 1) for m in (a, b) if m.seeds > 1]
    if seeds:  # the seeds' part: each model's, independent, with Welch's degrees of freedom
        parts = [pooled(seeds), *parts]
    return Difference.of(a, b, parts, confidence)


def paired_models(a_fails, b_fails, clusters, confidence: float) -> Difference:
    """Model a's rate minus model b's on the same cases (`a_fails`: ..., a's seeds, cases; `b_fails` likewise)."""
    (a_counts, sizes), (b_counts, _) = cell_counts(a_fails, clusters), cell_counts(b_fails, clusters)
    return paired_counts(a_counts, b_counts, sizes, confidence)


def shared_seed_counts(a_counts, a_sizes, b_counts, b_sizes, confidence: float) -> Difference:
    """The rate on one set of clusters minus the rate on another, disjoint set, both measured by the same seeds
    (cell failures of each): the seeds shared, the clusters not. A seed's offset moves both rates, so much of the
    seeds' part cancels in the difference; the rates whose intervals give the difference its shape keep of their
    seeds' part the share that does not cancel."""
    a, b = rate_parts(a_counts, a_sizes), rate_parts(b_counts, b_sizes)
    parts = [(m.cluster, m.parts()[-1][1]) for m in (a, b)]
    if a.seeds == 1:
        return Difference.of(a, b, parts, confidence)
    residual = seed_residuals(a_counts, a_sizes, a.rate, a.trials) - seed_residuals(b_counts, b_sizes, b.rate, b.trials)
    by_seed = small_sample(a.seeds) * (residual**2).sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        kept = np.clip((by_seed - a.noise - b.noise) / (a.seed - a.noise + b.seed - b.noise), 0.0, 1.0)
    kept = np.nan_to_num(kept, nan=1.0)
    shapes = tuple(replace(m, seed=m.noise + kept * (m.seed - m.noise)) for m in (a, b))
    return Difference.of(a, b, [(by_seed, a.seeds - 1), *parts], confidence, shapes)


def shared_seeds(a_fails, a_clusters, b_fails, b_clusters, confidence: float) -> Difference:
    """`shared_seed_counts` of failures (..., seeds, cases) on two disjoint sets of cases."""
    (a_counts, a_sizes), (b_counts, b_sizes) = cell_counts(a_fails, a_clusters), cell_counts(b_fails, b_clusters)
    return shared_seed_counts(a_counts, a_sizes, b_counts, b_sizes, confidence)
