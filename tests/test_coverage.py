"""Every interval the report shows covers its truth: simulated studies under a known truth, seeded and vectorised.

A study draws what the report measures from a model whose truth is known, computes the interval as the workflow
does, and counts whether it covers. Each setting runs STUDIES studies at once (numpy arrays over the studies) and a
nominal 95% interval must cover in BAND, [0.93, 0.97]. Some settings are held to another band, named where it is
used: a difference of two models that have seeds, and a rate near 0 (a truth of 0.02), conservative up to 0.98
(WIDE); a handful of trials (the smoke run's 10 sentences, an LLM entry's 18, a family of 12 sentences), where
coverage oscillates with n and p, each at least 0.88 and their mean in [0.93, 0.98] (SMALL); the binomial intervals
(Jeffreys, Wilson) likewise, the grid's mean in BAND (BINOMIAL); and the one known undercoverage (KNOWN).
`python tests/test_coverage.py` prints the table of docs/statistics.md.

The model (seeds crossed with clusters of Bernoulli cases): a seed draws a logit offset (sd 0, 0.3 or 0.8), a cluster
(a template, a validation sentence with its perturbations, a sentence) its own (sd CLUSTER_SD), and a case fails
with probability expit(mu + seed + cluster). The truth of a rate over seeds is its expectation over both
populations, expit(mu + seed + cluster) averaged over both (mu solves that for the wanted truth); of a model with one
seed (an LLM entry, a cascade), its own rate over the clusters.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy import optimize, special

from sentiflow.analysis import crossed
from sentiflow.analysis.proportions import jeffreys_interval, wilson_of_share

STUDIES = 4000
FEWER = 2000  # the slices' Jeffreys intervals: studies of three seeds' majority on up to 400 sentences
CONFIDENCE = 0.95


class Band(NamedTuple):
    low: float
    high: float
    name: str


BAND = Band(0.93, 0.97, "[0.93, 0.97]")
WIDE = Band(0.93, 0.98, "[0.93, 0.98]")
SMALL = Band(0.88, 1.0, "few trials: [0.88, 1], their mean in [0.93, 0.98]")
BINOMIAL = Band(0.88, 1.0, "binomial grid: [0.88, 1], its mean in [0.93, 0.97]")
KNOWN = Band(0.85, 1.0, "known limit")  # the one setting that undercovers, shown in the table and docs/statistics.md
CLUSTER_SD = 1.0
SEED_SDS = (0.0, 0.3, 0.8)
TRUTHS = (0.02, 0.1, 0.3, 0.5)
# The default suite (behaviour.max_cases 180): an MFT test's cases over its templates (at least 20 each), an INV or
# DIR test's validation sentences (each a cluster of one case: its perturbations are one case); the smoke run's
# 10 cases a test with its two seeds; an LLM entry's share of behaviour.llm_cases (200 over about 11 tests). A peer's
# suite (behaviour.suites): CheckList's draw of 500 cases a test, each its own cluster, and an LLM entry's share of
# its llm_cases (300 over 30 tests).
DESIGNS = {
    "MFT, 20 templates x 9 cases": [9] * 20,
    "INV/DIR, 180 sentences": [1] * 180,
    "smoke run, 10 sentences": [1] * 10,
    "LLM entry, 18 sentences": [1] * 18,
    "all tests, LLM entry's 200 sentences": [1] * 200,
    "peer's suite, 500 cases": [1] * 500,
    "LLM entry on a peer's suite, 10 cases": [1] * 10,
}
RATE_DESIGNS = [design for design in DESIGNS if not design.startswith("all tests")]
NODES, WEIGHTS = np.polynomial.hermite_e.hermegauss(80)
WEIGHTS = WEIGHTS / WEIGHTS.sum()


@dataclass
class Result:
    method: str
    setting: str
    coverage: float
    width: float
    studies: int
    band: Band = BAND

    def ok(self) -> bool:
        return self.band.low <= self.coverage <= self.band.high


def mean_rate(mu, sd) -> float:
    """E expit(mu + sd Z), Z standard normal (Gauss-Hermite)."""
    return float((special.expit(mu + sd * NODES) * WEIGHTS).sum())


def intercept(truth: float, sd: float) -> float:
    return optimize.brentq(lambda mu: mean_rate(mu, sd) - truth, -40, 40)


def measured(method: str, setting: str, low, high, truth, band=BAND) -> Result:
    covered = (low <= truth) & (truth <= high)
    return Result(method, setting, float(covered.mean()), float(np.nanmean(high - low)), len(covered), band)


def missed(results: list[Result]) -> list[str]:
    return [f"{r.method}, {r.setting}: {r.coverage:.3f} outside {r.band.name}" for r in results if not r.ok()]


def mean_coverage(results: list[Result]) -> float:
    return float(np.mean([r.coverage for r in results]))


def crossed_counts(rng, seeds: int, sizes: list[int], truth: float, seed_sd: float, offsets=None):
    """Failures per seed and cluster (studies, seeds, clusters) and the cases per cluster; `offsets` (studies,
    clusters): the clusters' logit offsets when another model shares them. With one seed there is no seed offset:
    the truth is the model's own rate over the clusters."""
    sizes = np.asarray(sizes, dtype=float)
    seed_sd = seed_sd if seeds > 1 else 0.0
    mu = intercept(truth, np.hypot(seed_sd, CLUSTER_SD))
    if offsets is None:
        offsets = rng.normal(0, CLUSTER_SD, (STUDIES, len(sizes)))
    p = special.expit(mu + rng.normal(0, seed_sd, (STUDIES, seeds, 1)) + offsets[:, None, :])
    if (sizes == 1).all():  # a Bernoulli trial a cluster: a uniform draw is faster than the binomial's
        return (rng.random(p.shape) < p).astype(float), sizes
    return rng.binomial(sizes.astype(int), p).astype(float), sizes


def rate_settings():
    for design in RATE_DESIGNS:
        if design.startswith("LLM"):
            yield design, 1, 0.0
            continue
        seeds = 2 if design.startswith("smoke") else 3
        for seed_sd in SEED_SDS:
            yield design, seeds, seed_sd
        if not design.startswith("smoke"):
            yield design, 1, 0.0  # one seed's own rate, or an LLM entry answering the whole test


def band_of(design: str, seeds: int, truth: float) -> Band:
    """SMALL for the smoke run's and an LLM entry's few trials; WIDE at a rate of 0.02 (about 4 failures on a test
    with one seed, 11 with three: a score interval is conservative there)."""
    if sum(DESIGNS[design]) * seeds < 60:
        return SMALL
    return WIDE if truth <= 0.02 else BAND


def failure_rates(seed: int = 0) -> list[Result]:
    rng = np.random.default_rng(seed)
    results = []
    for design, seeds, seed_sd in rate_settings():
        for truth in TRUTHS:
            low, high = crossed.interval(
                crossed.rate_parts(*crossed_counts(rng, seeds, DESIGNS[design], truth, seed_sd)), CONFIDENCE
            )
            spread = f", seed sd {seed_sd}" if seeds > 1 else ""
            setting = f"{design}, {seeds} seed{'s' * (seeds > 1)}{spread}, truth {truth}"
            results.append(measured("failure rate", setting, low, high, truth, band_of(design, seeds, truth)))
    return results


def test_failure_rates_cover_at_the_default_suites_sizes():
    results = failure_rates()
    assert not missed(results)
    assert len(results) == 68 and min(r.studies for r in results) >= 2000
    small = [r for r in results if r.band == SMALL]
    assert WIDE.low <= mean_coverage(small) <= WIDE.high


# Two models' clusters: correlated logit offsets (the same templates and sentences are hard for both).
SHARED = 0.7
LLM_DESIGNS = ("LLM entry, 18 sentences", "all tests, LLM entry's 200 sentences")
PAIRS = {  # comparison kind -> (a's seeds, b's seeds, designs)
    "two run groups (backbones, a variant)": (3, 3, ("MFT, 20 templates x 9 cases", "INV/DIR, 180 sentences")),
    "run group against an LLM entry or cascade": (3, 1, LLM_DESIGNS),
    "LLM entry against its cascade": (1, 1, LLM_DESIGNS),
}
PAIRED_TRUTHS = ((0.1, 0.1), (0.3, 0.3), (0.1, 0.3), (0.02, 0.1))


def paired_comparisons(seed: int = 1) -> list[Result]:
    rng = np.random.default_rng(seed)
    results = []
    for kind, (seeds_a, seeds_b, designs) in PAIRS.items():
        for design in designs:
            sizes = DESIGNS[design]
            for seed_sd in SEED_SDS if seeds_a > 1 else (0.0,):
                for truth_a, truth_b in PAIRED_TRUTHS:
                    offsets = rng.normal(0, CLUSTER_SD, (STUDIES, len(sizes)))
                    other = SHARED * offsets + np.sqrt(1 - SHARED**2) * rng.normal(0, CLUSTER_SD, offsets.shape)
                    a, counted = crossed_counts(rng, seeds_a, sizes, truth_a, seed_sd, offsets)
                    b, _ = crossed_counts(rng, seeds_b, sizes, truth_b, seed_sd, other)
                    compared = crossed.paired_counts(a, b, counted, CONFIDENCE)
                    spread = f", seed sd {seed_sd}" if seeds_a > 1 else ""
                    setting = f"{kind}: {design}{spread}, truths {truth_a} - {truth_b}"
                    band = SMALL if sum(sizes) < 60 else WIDE
                    results.append(measured("paired difference", setting, *compared.ci, truth_a - truth_b, band))
    return results


def test_paired_comparisons_cover_with_each_models_seeds_and_the_shared_clusters():
    results = paired_comparisons()
    assert not missed(results)
    small = [r for r in results if r.band == SMALL]
    assert len(small) == 16 and WIDE.low <= mean_coverage(small) <= WIDE.high + 0.01


# SST-2's validation split, 872 sentences, and two cue families: negation (about 15%) and question (12 sentences).
FAMILIES = {"negation, 130 of 872 sentences": 130, "question, 12 of 872 sentences": 12}
FAMILY_TRUTHS = ((0.1, 0.1), (0.25, 0.08), (0.02, 0.1))  # error rate with the cue, without it


def failure_modes(seed: int = 2) -> list[Result]:
    """The failure-mode table: error rates with and without a cue and their difference, one run group's seeds
    shared by both (a seed's offset moves both rates), each sentence its own cluster."""
    rng = np.random.default_rng(seed)
    results = []
    for family, size in FAMILIES.items():
        sizes_with, sizes_without = np.ones(size), np.ones(872 - size)
        for seeds, seed_sd in [(3, sd) for sd in SEED_SDS] + [(1, 0.0)]:
            for truth_with, truth_without in FAMILY_TRUTHS:
                offsets = rng.normal(0, seed_sd, (STUDIES, seeds, 1))
                counts = []
                for truth, n in ((truth_with, size), (truth_without, 872 - size)):
                    mu = intercept(truth, np.hypot(seed_sd, CLUSTER_SD))
                    p = special.expit(mu + offsets + rng.normal(0, CLUSTER_SD, (STUDIES, 1, n)))
                    counts.append((rng.random(p.shape) < p).astype(float))
                compared = crossed.shared_seed_counts(counts[0], sizes_with, counts[1], sizes_without, CONFIDENCE)
                spread = f", seed sd {seed_sd}" if seeds > 1 else ""
                setting = f"{family}, {seeds} seed{'s' * (seeds > 1)}{spread}, truths {truth_with} / {truth_without}"
                band = SMALL if size < 60 else BAND
                rare = WIDE if band == BAND and truth_with <= 0.02 else band  # about 8 errors in 390 pairs
                # A dozen sentences, about one error in 36 (seed, sentence) pairs, seeds far apart: the difference's
                # one known undercoverage.
                known = size < 60 and seed_sd == 0.8 and truth_with == 0.02
                results += [
                    measured("failure mode: rate with the cue", setting, *compared.a_ci, truth_with, rare),
                    measured("failure mode: rate without it", setting, *compared.b_ci, truth_without, BAND),
                    measured(
                        "failure mode: difference",
                        setting,
                        *compared.ci,
                        truth_with - truth_without,
                        KNOWN if known else band,
                    ),
                ]
    return results


def test_failure_modes_cover_with_the_seeds_shared_by_both_rates():
    results = failure_modes()
    assert not missed(results)
    small = [r for r in results if r.band == SMALL]
    assert BAND.low <= mean_coverage(small) <= WIDE.high


# A slice's held-out sentences, scored for one run group's seed majority (seeds fixed: the estimand is that
# predictor's error rate on the slice's population), and its rough error rate: sizes and rates the slices meet.
LEAF_SIZES = (20, 50, 100, 400)
LEAF_RATES = (0.05, 0.15, 0.3, 0.5)


def majority_error(p: np.ndarray) -> np.ndarray:
    """P(at least two of three seeds wrong), seeds on the last axis."""
    p1, p2, p3 = p[..., 0], p[..., 1], p[..., 2]
    return p1 * p2 + p1 * p3 + p2 * p3 - 2 * p1 * p2 * p3


def slices(seed: int = 3) -> list[Result]:
    rng = np.random.default_rng(seed)
    results = []
    for seed_sd in SEED_SDS:
        for size in LEAF_SIZES:
            for rate in LEAF_RATES:
                mu = intercept(rate, np.hypot(seed_sd, CLUSTER_SD))
                seeds = rng.normal(0, seed_sd, (FEWER, 1, 3))
                offsets = rng.normal(0, CLUSTER_SD, (FEWER, size, 1))
                wrong = rng.random((FEWER, size, 3)) < special.expit(mu + seeds + offsets)
                errors = (wrong.sum(-1) >= 2).sum(-1)
                truth = majority_error(special.expit(mu + seeds + CLUSTER_SD * NODES[:, None])) @ WEIGHTS
                low, high = jeffreys_interval(errors, size, CONFIDENCE)
                setting = f"{size} held-out sentences, 3 seeds, seed sd {seed_sd}, error rate about {rate}"
                results.append(measured("slice error rate (Jeffreys)", setting, low, high, truth, BINOMIAL))
    return results


def test_slices_jeffreys_intervals_cover_the_seed_majoritys_error_rate():
    results = slices()
    assert not missed(results)
    assert BAND.low <= mean_coverage(results) <= BAND.high
    large = [r for r in results if r.setting.startswith("400 ")]
    assert all(BAND.low <= r.coverage <= BAND.high for r in large)


# The label-issue figures, each a proportion of independent trials: a witness's accuracy on the sentences it
# scored (all 872 of SST-2's, or a sample of 200), the share of the injected flips (5%: 44) found, the share of the
# unflipped sentences flagged.
LABEL_FIGURES = {
    "witness accuracy": ((200, 872), (0.6, 0.8, 0.9)),
    "recall of injected flips": ((44,), (0.3, 0.6, 0.9)),
    "unflipped sentences flagged": ((828,), (0.01, 0.05, 0.1)),
}


def label_issues(seed: int = 4) -> list[Result]:
    rng = np.random.default_rng(seed)
    results = []
    for figure, (sizes, shares) in LABEL_FIGURES.items():
        for size in sizes:
            for share in shares:
                low, high = wilson_of_share(rng.binomial(size, share, STUDIES) / size, size, CONFIDENCE)
                setting = f"{size} sentences, truth {share}"
                results.append(measured(f"label issues: {figure} (Wilson)", setting, low, high, share, BINOMIAL))
    return results


def test_label_issue_figures_wilson_intervals_cover():
    results = label_issues()
    assert not missed(results)
    assert BAND.low <= mean_coverage(results) <= BAND.high
    assert all(BAND.low <= r.coverage <= BAND.high for r in results if r.setting.startswith(("828 ", "872 ")))


def table(results: list[Result]) -> str:
    """The coverage table of docs/statistics.md: a summary per method and band, then every setting."""
    lines = ["| method | asserted | settings | nominal | coverage: min | mean | max | mean width: min | max |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for method, band in dict.fromkeys((r.method, r.band) for r in results):
        mine = [r for r in results if (r.method, r.band) == (method, band)]
        covered, widths = [r.coverage for r in mine], [r.width for r in mine]
        lines.append(f"| {method} | {band.name} | {len(mine)} | {CONFIDENCE} | {min(covered):.3f} | "
                     f"{np.mean(covered):.3f} | {max(covered):.3f} | {min(widths):.3f} | {max(widths):.3f} |")  # fmt: skip
    lines += [
        "",
        "| method | setting | nominal | coverage | mean width | studies | asserted |",
        "|---|---|---:|---:|---:|---:|---|",
    ]
    for r in results:
        lines.append(f"| {r.method} | {r.setting} | {CONFIDENCE} | {r.coverage:.3f} | {r.width:.3f} | {r.studies} | "
                     f"{r.band.name} |")  # fmt: skip
    return "\n".join(lines)


if __name__ == "__main__":
    started = time.process_time()
    everything = failure_rates() + paired_comparisons() + failure_modes() + slices() + label_issues()
    print(table(everything))
    print(f"\n{len(everything)} settings, {time.process_time() - started:.1f} s CPU", file=sys.stderr)
