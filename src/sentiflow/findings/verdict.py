"""The verdict rule: what the intervals the statistics stages wrote say about a finding's claim.

A piece of evidence is an estimate with the interval its stage wrote (at `analysis.bootstrap.confidence`; no
interval is computed here) and the threshold its claim is measured against: no effect (a difference of 0, a
failure rate of 0, the bar a confirmation must clear) moved up by the smallest effect the study counts
(`findings.min_difference` for differences, `findings.min_failure_rate` for a behavioural test's failure rate).
Its state:

- `effect`: the interval lies wholly above the threshold (it excludes no effect, or any effect below the minimum);
- `no effect`: the interval lies wholly below it (it excludes an effect of that size; for a difference measured
  against 0, an effect the other way);
- `unresolved`: the interval holds the threshold;
- `no interval`: the stage wrote none (a family of one sentence, a test of one cluster, a statistic such as ECE).

Several pieces on one side of a claim (the cues that measure a failure mode, the tests that probe it) agree when
they do not contradict each other: the side shows an effect when some piece does and none shows no effect, no
effect when some piece does and none shows an effect, and is unresolved when they disagree or none is resolved.
A claim's verdict, from its sides (a failure mode has two, association and intervention; a comparison one):

- `supported`: every side shows the effect;
- `contradicted`: some side excludes it (for a failure mode: the cue travels with errors but the tests that change
  only the cue pass, or the reverse; or both exclude it);
- `inconclusive`: otherwise, every side measured with an interval;
- `not tested`: an estimate without an interval, shown and not judged;
- `not measured`: a side's evidence is missing (a stage off, no LLM entry, one backbone), with the reason.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

SUPPORTED, CONTRADICTED, INCONCLUSIVE = "supported", "contradicted", "inconclusive"
NOT_TESTED, NOT_MEASURED = "not tested", "not measured"
VERDICTS = (SUPPORTED, CONTRADICTED, INCONCLUSIVE, NOT_TESTED, NOT_MEASURED)
EFFECT, NO_EFFECT, UNRESOLVED, NO_INTERVAL = "effect", "no effect", "unresolved", "no interval"


@dataclass(frozen=True)
class Rule:
    """The verdict rule's settings (`findings:`) and the level the intervals were written at."""

    min_difference: float = 0.0  # the smallest difference (of accuracies, error rates, failure rates) that counts
    min_failure_rate: float = 0.1  # the smallest failure rate of a behavioural test that shows a failure mode
    confidence: float = 0.95  # analysis.bootstrap.confidence: the level of every interval the findings read


@dataclass(frozen=True)
class Evidence:
    """One estimate a finding rests on, with the interval its stage wrote and the threshold of its claim."""

    kind: str  # association, intervention, paired test, bootstrap, witness, measurement
    measure: str  # what it measures: a cue family, a test, "accuracy", "ECE", ...
    model: str | None  # the run group, LLM entry or pair it is about
    estimate: float | None
    ci_low: float | None
    ci_high: float | None
    threshold: float | None  # what the interval is compared with (None: nothing to compare it with)
    source: str  # the file it is read from, relative to results/{dataset}/
    count: int | None = None  # sentences, cases or candidates it counts

    @property
    def state(self) -> str:
        return state(self)

    def record(self) -> dict:
        return asdict(self) | {"state": self.state}


def _number(value) -> float | None:
    """A finite float, or None for a missing cell (NaN, None)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def evidence(kind, measure, model, estimate, ci_low, ci_high, threshold, source, count=None) -> Evidence:
    """An `Evidence` with every number read from a table made a float or None."""
    count = None if count is None or _number(count) is None else int(count)
    return Evidence(kind, measure, model, _number(estimate), _number(ci_low), _number(ci_high), _number(threshold),
                    source, count)  # fmt: skip


def state(piece: Evidence) -> str:
    """The piece's state against its threshold: effect, no effect, unresolved, no interval."""
    if piece.ci_low is None or piece.ci_high is None or piece.threshold is None:
        return NO_INTERVAL
    if piece.ci_low > piece.threshold:
        return EFFECT
    if piece.ci_high < piece.threshold:
        return NO_EFFECT
    return UNRESOLVED


def side(pieces: Sequence[Evidence]) -> str | None:
    """The state of one side of a claim from its pieces (None: no piece, the side is missing)."""
    if not pieces:
        return None
    states = {piece.state for piece in pieces}
    if states == {NO_INTERVAL}:
        return NO_INTERVAL
    if EFFECT in states and NO_EFFECT not in states:
        return EFFECT
    if NO_EFFECT in states and EFFECT not in states:
        return NO_EFFECT
    return UNRESOLVED


def verdict(sides: Sequence[str | None]) -> str:
    """A claim's verdict from the states of its sides (`side`)."""
    if any(s is None for s in sides):
        return NOT_MEASURED
    if NO_EFFECT in sides:
        return CONTRADICTED
    if NO_INTERVAL in sides:
        return NOT_TESTED
    if all(s == EFFECT for s in sides):
        return SUPPORTED
    return INCONCLUSIVE


def within(piece: Evidence, value: float, margin: float) -> str:
    """Whether a published `value` is consistent with the piece's interval widened by `margin` on each side:
    supported (inside), contradicted (outside), not tested (no interval)."""
    if piece.ci_low is None or piece.ci_high is None:
        return NOT_TESTED
    return SUPPORTED if piece.ci_low - margin <= value <= piece.ci_high + margin else CONTRADICTED


def headline(pieces: Sequence[Evidence]) -> Evidence | None:
    """The piece a sentence names for one side: of those whose state is the side's, the one whose interval lies
    farthest beyond its threshold (for an unresolved side, the one with the most sentences or cases)."""
    if not pieces:
        return None
    wanted = side(pieces)
    chosen = [p for p in pieces if p.state == wanted] or list(pieces)
    if wanted == EFFECT:
        return max(chosen, key=lambda p: p.ci_low - p.threshold)
    if wanted == NO_EFFECT:
        return max(chosen, key=lambda p: p.threshold - p.ci_high)
    return max(chosen, key=lambda p: p.count or 0)
