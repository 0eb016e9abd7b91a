"""How likely a label issue's gold label is wrong, from witnesses whose error rates were measured: a latent-class model.

Among the candidates a share `base_rate` (pi) has a wrong gold label; which ones is unknown. A witness reads a
candidate against gold (its label is not gold and its probability of the encoders' suggestion is at least the rule's
`confirm_probability`) with probability q, its *sensitivity*, when the gold label is wrong, and with probability f,
its *false-alarm rate*, when the gold label is right but the sentence is hard. Witnesses of different model families
are taken as independent given the truth (Dawid & Skene 1979 with two classes), so a candidate's readings give

    P(gold wrong | readings) = pi L1 / (pi L1 + (1 - pi) L0),  L1 = prod q^V (1 - q)^(1 - V),  L0 = prod f^V (1 - f)^(1 - V)

over the witnesses that read it (V = 1 against gold). With pi = 0.025, q = 0.9 and f = 0.1 one witness's "against
gold" is right 19% of the time; two such witnesses agreeing, 68%.

q and f are measured on sentences that are not candidates (`witnesses.measure_rates`), never fitted to the candidates,
whose readings cannot tell a high base rate from a high false-alarm rate. pi is then the maximum-likelihood value
given the candidates' readings: with one witness Rogan & Gladen's (1978) prevalence under an imperfect test,
(d - f) / (q - f) clipped to [0, 1], d the share read against gold.

Uncertainty: q and f are drawn from their Jeffreys posteriors (Beta(k + 1/2, n - k + 1/2)) restricted to q > f (the
witness is informative: the usual constraint that keeps a latent-class model from swapping its two classes), the
frequencies of the candidates' reading patterns from a Dirichlet(counts + 1/2) (with one witness the Jeffreys
posterior of d), and pi is the maximum-likelihood value of each draw. An estimate is the draws' mean (the probability the gold label is wrong,
the witnesses' rates uncertain), an interval their equal-tailed quantiles; `tests/test_label_issues.py` measures the
intervals' coverage on simulated studies with a known truth. Everything here vectorises over leading axes (studies),
so the simulations run thousands of studies at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

AGAINST, AGREES, UNREAD = 1, 0, -1  # a witness's reading of a candidate: against gold, like gold, not scored
BISECTIONS = 30  # pi to 1e-9: far below any figure reported
REDRAWS = 20  # rounds of drawing q <= f again: voters separate by far more (witnesses.voters), so few are needed


def rate_draws(successes, trials, draws: int, rng: np.random.Generator) -> np.ndarray:
    """Draws from the Jeffreys posterior Beta(k + 1/2, n - k + 1/2) of rates measured as `successes` of `trials`
    (arrays of any shape); the draws on a new last axis. With no trial, the Jeffreys prior itself."""
    successes, trials = np.asarray(successes, dtype=float), np.asarray(trials, dtype=float)
    return rng.beta(successes[..., None] + 0.5, trials[..., None] - successes[..., None] + 0.5,
                    (*successes.shape, draws))  # fmt: skip


def likelihoods(patterns: np.ndarray, sensitivity: np.ndarray, false_alarm: np.ndarray):
    """P(readings | gold wrong) and P(readings | gold right) of each pattern (rows of `patterns`, one column per
    witness: AGAINST, AGREES or UNREAD) for rates of shape (..., witnesses): two arrays (..., patterns)."""
    patterns = np.asarray(patterns)
    q, f = sensitivity[..., None, :], false_alarm[..., None, :]
    against, agrees = patterns == AGAINST, patterns == AGREES
    wrong = np.where(against, q, np.where(agrees, 1 - q, 1.0)).prod(-1)
    right = np.where(against, f, np.where(agrees, 1 - f, 1.0)).prod(-1)
    return wrong, right


def base_rate_mle(frequencies: np.ndarray, wrong: np.ndarray, right: np.ndarray) -> np.ndarray:
    """The pi in [0, 1] that maximises sum_p frequencies_p log(pi wrong_p + (1 - pi) right_p), over the last axis.
    The log-likelihood is concave in pi, so its slope falls: bisection on the slope's sign (Newton's method stalls
    where the root lies near 0, the common case), 0 or 1 where the slope does not change sign."""
    # Patterns first: the sum over a few patterns becomes a few whole-array additions.
    gain, right = np.moveaxis(wrong - right, -1, 0), np.moveaxis(right, -1, 0)
    weighted = np.moveaxis(frequencies, -1, 0) * gain

    def slope(pi):
        return (weighted / (pi * gain + right)).sum(0)

    low, high = np.zeros(frequencies.shape[:-1]), np.ones(frequencies.shape[:-1])
    for _ in range(BISECTIONS):
        middle = (low + high) / 2
        rising = slope(middle) > 0
        low, high = np.where(rising, middle, low), np.where(rising, high, middle)
    return np.where(low == 0, 0.0, np.where(high == 1, 1.0, (low + high) / 2))  # a bound never left: the root


def gold_wrong(pi: np.ndarray, wrong: np.ndarray, right: np.ndarray) -> np.ndarray:
    """P(gold wrong | readings) per pattern: pi (...) against the patterns' likelihoods (..., patterns)."""
    pi = pi[..., None]
    joint = pi * wrong
    return np.divide(joint, joint + (1 - pi) * right, out=np.zeros_like(joint), where=joint > 0)


def possible_patterns(patterns: np.ndarray) -> np.ndarray:
    """The observed patterns and every other pattern with the same witnesses reading: the cells of the Dirichlet."""
    patterns = np.asarray(patterns, dtype=int).reshape(-1, np.shape(patterns)[-1])
    cells = set()
    for row in patterns:
        read = np.flatnonzero(row != UNREAD)
        for bits in range(2 ** len(read)):
            cell = np.full(len(row), UNREAD)
            cell[read] = [(bits >> i) & 1 for i in range(len(read))]
            cells.add(tuple(cell))
    return np.array(sorted(cells), dtype=int).reshape(-1, patterns.shape[1])


def informative_rates(sensitivity, false_alarm, draws: int, rng: np.random.Generator):
    """Draws of q and f (..., draws, witnesses) from their Jeffreys posteriors restricted to q > f: a witness reads a
    wrong gold label against gold more often than a right one (Youden's J > 0, the constraint that keeps a latent-class
    model from swapping its classes). A pair drawn with q <= f is drawn again, up to REDRAWS times."""

    def pair():
        return tuple(np.moveaxis(rate_draws(rates[..., 0], rates[..., 1], draws, rng), -1, -2)
                     for rates in (sensitivity, false_alarm))  # fmt: skip

    q, f = pair()
    for _ in range(REDRAWS):
        swapped = q <= f
        if not swapped.any():
            break
        again_q, again_f = pair()
        q, f = np.where(swapped, again_q, q), np.where(swapped, again_f, f)
    return q, f


def draw(patterns, counts, sensitivity, false_alarm, draws: int, rng: np.random.Generator):
    """Posterior draws for studies of candidates with reading `patterns` (patterns x witnesses, shared by the
    studies; the all-UNREAD pattern carries no evidence and must not be among them) seen `counts` times (..., patterns)
    and witnesses' measured rates `sensitivity` and `false_alarm`, each (..., witnesses, 2) as [successes, trials].
    Returns pi (..., draws), q and f (..., draws, witnesses)."""
    counts = np.asarray(counts, dtype=float)
    q, f = informative_rates(np.asarray(sensitivity, dtype=float), np.asarray(false_alarm, dtype=float), draws, rng)
    if counts.shape[-1] == 0:  # no candidate read by any witness: nothing says what pi is
        return rng.beta(0.5, 0.5, (*counts.shape[:-1], draws)), q, f
    shares = rng.gamma(counts[..., None, :] + 0.5, size=(*counts.shape[:-1], draws, counts.shape[-1]))
    shares /= shares.sum(-1, keepdims=True)
    wrong, right = likelihoods(patterns, q, f)
    return base_rate_mle(shares, wrong, right), q, f


@dataclass(frozen=True)
class Fit:
    """Posterior draws of one dataset's base rate and of each voting witness's rates; `witnesses` names the columns."""

    witnesses: tuple[str, ...]
    base_rate: np.ndarray  # (draws,)
    sensitivity: np.ndarray  # (draws, witnesses)
    false_alarm: np.ndarray  # (draws, witnesses)

    def gold_wrong_draws(self, readings: np.ndarray) -> np.ndarray:
        """P(gold wrong | readings) per draw and candidate (draws x candidates); `readings` is candidates x
        witnesses (AGAINST, AGREES, UNREAD)."""
        readings = np.asarray(readings, dtype=int).reshape(-1, len(self.witnesses))
        wrong, right = likelihoods(readings, self.sensitivity, self.false_alarm)
        return gold_wrong(self.base_rate, wrong, right)

    def gold_wrong(self, readings: np.ndarray) -> np.ndarray:
        """The estimate per candidate: the mean over draws."""
        return self.gold_wrong_draws(readings).mean(0)

    def share(self, readings: np.ndarray, confidence: float) -> dict:
        """The share of a group of candidates (their `readings`) whose gold label is wrong: its estimate and
        equal-tailed interval; None for an empty group."""
        if len(readings) == 0:
            return {"candidates": 0, "estimate": None, "ci": [None, None]}
        draws = self.gold_wrong_draws(readings).mean(1)
        low, high = np.quantile(draws, [(1 - confidence) / 2, (1 + confidence) / 2])
        return {"candidates": len(readings), "estimate": float(draws.mean()), "ci": [float(low), float(high)]}

    def base_rate_summary(self, confidence: float) -> dict:
        low, high = np.quantile(self.base_rate, [(1 - confidence) / 2, (1 + confidence) / 2])
        return {"estimate": float(self.base_rate.mean()), "ci": [float(low), float(high)]}


def fit(readings: np.ndarray, names, sensitivity, false_alarm, draws: int, seed: int) -> Fit:
    """Draws for one dataset: `readings` candidates x witnesses, `sensitivity` and `false_alarm` (witnesses, 2) as
    [successes, trials]."""
    readings = np.asarray(readings, dtype=int).reshape(-1, len(names))
    read = readings[(readings != UNREAD).any(1)]
    cells = possible_patterns(read) if len(read) else np.empty((0, len(names)), dtype=int)
    counts = (read[:, None, :] == cells[None, :, :]).all(-1).sum(0)
    pi, q, f = draw(cells, counts, sensitivity, false_alarm, draws, np.random.default_rng(seed))
    return Fit(tuple(names), pi, q, f)
