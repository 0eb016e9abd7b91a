"""Label issues judged by independent witnesses with a stated precision, and the detection measured on labels flipped
on purpose.

Confident learning flags the sentences the encoders confidently disagree with; with one encoder family these are
mostly hard sentences whose gold label is right. Witnesses, LLM entries that never trained on the data, read each
candidate: a witness reads it *against gold* when its label is not gold and its probability of the encoders'
suggested label is at least `confirm_probability`. That alone is weak evidence: a witness that shares the encoders'
difficulties (sarcasm, a negative comparison) also reads hard sentences with a right gold label against it, and real
label errors are rare among the candidates (about 3 of 119 on the smoke run's SST-2), so most of its readings against
gold are false alarms. `precision` turns the readings into P(gold wrong | readings) from each witness's measured
rates (`measure_rates`) and the candidates' estimated base rate; a candidate read against gold is *confirmed* where
that probability is at least `min_precision`, *disputed* where it is below, and stays a *candidate* where no witness
reads it against gold.

A witness votes when it is good enough (the lower end of the Wilson interval of its validation accuracy above the
majority class's share and `min_witness_accuracy`): one no better than always answering the commonest class says
nothing about one sentence; when its rates could be measured; and when it discriminates, reading wrong gold labels
against gold more often than right ones (sensitivity above false-alarm rate). Witnesses of one model family (`families`; entries not named there form one family) make
the same mistakes, so only the family's most discriminating member votes (largest sensitivity minus false-alarm rate):
agreement raises the precision only between families, where errors are taken as independent.

A stated model rather than CROWDLAB (`cleanlab.multiannotator`): CROWDLAB weighs the encoders' probabilities into the
consensus, and they are the witness being checked; here the encoders propose and the witnesses decide, and each
figure of the model can be checked by hand.

`inject_flips` measures the detection: validation labels never train a model, so flipping a seeded share of the judged
sentences' labels and running the same detection on the same probabilities costs no training. The flips land on
sentences the encoders find as hard as the real candidates (their probability of the flipped label drawn to match
the candidates' probability of gold), at the label distances the candidates show, and are judged by the statuses the
real data's model gives.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sentiflow.analysis.proportions import wilson_of_share
from sentiflow.errors import precision
from sentiflow.errors.label_issues import find_issues

CONFIRMED, DISPUTED, CANDIDATE = "confirmed", "disputed", "candidate"
UNSTATED = "(unstated)"  # the family of every witness `families` does not name
DRAWS = 4000  # posterior draws: the estimates' Monte Carlo error is below 0.01
FLIP_CALIPER = 0.5  # a flip's log-odds of its new label within this of its candidate's log-odds of gold (odds x 1.65)


@dataclass(frozen=True)
class Rule:
    """The judging rule's settings (analysis.label_issues) and the intervals' confidence."""

    confirm_probability: float = 0.7
    min_witness_accuracy: float | None = None
    min_precision: float = 0.5
    families: dict = field(default_factory=dict)
    confidence: float = 0.95
    seed: int = 0

    @classmethod
    def from_settings(cls, settings: dict, confidence: float) -> Rule:
        return cls(settings["confirm_probability"], settings["min_witness_accuracy"], settings["min_precision"],
                   dict(settings["families"]), confidence, settings["seed"])  # fmt: skip

    def family(self, witness: str) -> str:
        return self.families.get(witness, UNSTATED)


def wilson(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a rate: honest at 0 and 1, where a bootstrap interval collapses to a point."""
    return wilson_of_share(successes / n if n else 0.0, n, confidence)


def witness_quality(gold: np.ndarray, probs: np.ndarray, rule: Rule) -> dict:
    """A witness's accuracy on the sentences it scored (rows of `probs` not NaN), its Wilson interval, the bar it must
    clear (the majority class's share of those sentences, or min_witness_accuracy if higher) and whether it does."""
    scored = ~np.isnan(probs).any(1)
    n = int(scored.sum())
    if n == 0:
        return {"sentences": 0, "accuracy": None, "ci": [None, None], "bar": None, "good": False}
    right = int((probs[scored].argmax(1) == gold[scored]).sum())
    low, high = wilson(right, n, rule.confidence)
    bar = max(np.bincount(gold[scored]).max() / n, rule.min_witness_accuracy or 0.0)
    return {"sentences": n, "accuracy": right / n, "ci": [low, high], "bar": float(bar), "good": bool(low > bar)}


def readings(gold: np.ndarray, suggested: np.ndarray, probs: np.ndarray, tau: float) -> np.ndarray:
    """Per sentence (rows of `probs`, NaN where not scored): AGAINST when the witness's label is not gold and its
    probability of `suggested` is at least `tau`, AGREES otherwise, UNREAD where it did not score the sentence."""
    scored = ~np.isnan(probs).any(1)
    probs = np.nan_to_num(probs)
    against = (probs.argmax(1) != gold) & (probs[np.arange(len(gold)), suggested] >= tau)
    return np.where(scored, np.where(against, precision.AGAINST, precision.AGREES), precision.UNREAD)


def rate(successes: int, trials: int, confidence: float) -> dict:
    return {"successes": int(successes), "trials": int(trials), "rate": successes / trials if trials else None,
            "ci": list(wilson(successes, trials, confidence)) if trials else [None, None]}  # fmt: skip


def measure_rates(gold, pooled: np.ndarray, candidate: np.ndarray, probs: np.ndarray, rule: Rule) -> dict:
    """A witness's rates on the sentences it scored that are not candidates, each with its Wilson interval.

    `false_alarm`: on the encoders' other errors (pooled label not gold), hard sentences whose gold label is nearly
    always right: how often it reads one against gold, toward the encoders' label. Those are less confident errors
    than the candidates, so a witness that shares the encoders' difficulties may err more often on the candidates:
    the estimate of precision is then too high. The few wrong gold labels among them push the other way.
    `sensitivity`: on the sentences the encoders get right, how often it gives gold a probability of at least
    `confirm_probability` (its label), i.e. would read the sentence against a wrong gold label. On easy sentences
    this is if anything too high, which lowers the estimated precision (a more sensitive witness explains the
    readings against gold with fewer real errors)."""
    scored = ~np.isnan(probs).any(1) & ~candidate
    encoders = pooled.argmax(1)
    right, hard = scored & (encoders == gold), scored & (encoders != gold)
    filled = np.nan_to_num(probs)
    sees_gold = (filled.argmax(1) == gold) & (filled[np.arange(len(gold)), gold] >= rule.confirm_probability)
    alarms = readings(gold, encoders, probs, rule.confirm_probability) == precision.AGAINST
    return {"sensitivity": rate(sees_gold[right].sum(), right.sum(), rule.confidence),
            "false_alarm": rate(alarms[hard].sum(), hard.sum(), rule.confidence),
            "hard_accuracy": rate((filled.argmax(1) == gold)[hard].sum(), hard.sum(), rule.confidence)}  # fmt: skip


def on_candidates(read: np.ndarray, quality: dict, min_precision: float) -> dict:
    """How often a witness read the candidates it scored against gold (`read`: its readings of them), and the
    false-alarm rate on the candidates up to which those readings alone, by the one-witness model, would still be
    estimated at `min_precision` or more: q d (1 - m) / (q - m d), d the share read against gold, q the sensitivity.
    A measured false-alarm rate near or above it says the confirmations rest on the assumption that the witness errs
    on the candidates no more often than on the encoders' other errors."""
    scored = read != precision.UNREAD
    against = int((read == precision.AGAINST).sum())
    result = {"candidates_read": int(scored.sum()), "candidates_against_gold": against, "false_alarm_limit": None}
    q, d, m = quality["sensitivity"]["rate"], against / scored.sum() if scored.any() else None, min_precision
    if q is not None and d and q > m * d:
        result["false_alarm_limit"] = min(d, q * d * (1 - m) / (q - m * d))
    return result


def separation(quality: dict) -> float:
    """Sensitivity minus false-alarm rate (Youden's J), each the Jeffreys posterior mean: defined with no trial."""
    q, f = quality["sensitivity"], quality["false_alarm"]
    return (q["successes"] + 0.5) / (q["trials"] + 1) - (f["successes"] + 0.5) / (f["trials"] + 1)


def measured(quality: dict) -> bool:
    """Whether a witness's rates rest on sentences: with no error of the encoders outside the candidates among the
    sentences it scored, its false-alarm rate is unknown and a reading against gold cannot be weighed."""
    return quality["false_alarm"]["trials"] > 0 and quality["sensitivity"]["trials"] > 0


def discriminates(quality: dict) -> bool:
    """Whether its readings against gold are more frequent on wrong gold labels than on right ones (q > f); a
    witness that answers one class whatever the sentence reads the encoders' errors against gold more often."""
    return separation(quality) > 0


def voters(quality: dict, rule: Rule) -> list[str]:
    """The good, measured witnesses that vote: per family the one with the largest separation (the first on a tie).
    Sets each witness's `votes` and, in words, `vote`."""
    best = {}
    for name, q in quality.items():
        family = rule.family(name)
        eligible = q["good"] and measured(q) and discriminates(q)
        if eligible and (family not in best or separation(q) > separation(quality[best[family]])):
            best[family] = name
    for name, q in quality.items():
        q["votes"] = best.get(rule.family(name)) == name
        q["vote"] = "votes" if q["votes"] else f"does not vote: {why_not(q, best.get(rule.family(name)))}"
    return [name for name in quality if quality[name]["votes"]]


def why_not(quality: dict, voter: str | None) -> str:
    if not quality["good"]:
        return "not good enough"
    if not measured(quality):
        return "no error of the encoders outside the candidates to measure its false alarms on"
    if not discriminates(quality):
        return "it reads the encoders' other errors against gold at least as often as it would a wrong gold label"
    return f"{voter}, of its family, discriminates better"


@dataclass(frozen=True)
class Judge:
    """The voting witnesses and the fitted model: what turns a candidate's readings into its status."""

    voters: tuple[str, ...]
    fit: precision.Fit | None
    min_precision: float

    def read(self, gold, suggested, witnesses: dict[str, np.ndarray], rows: np.ndarray, tau: float) -> np.ndarray:
        """The voters' readings (rows x voters) of the sentences at `rows`."""
        columns = [readings(gold[rows], suggested, witnesses[name][rows], tau) for name in self.voters]
        return np.column_stack(columns).astype(int) if columns else np.empty((len(rows), 0), dtype=int)

    def gold_wrong(self, read: np.ndarray) -> np.ndarray:
        """P(gold wrong | readings) per candidate; NaN where no voter read it."""
        if self.fit is None:
            return np.full(len(read), np.nan)
        return np.where((read != precision.UNREAD).any(1), self.fit.gold_wrong(read), np.nan)

    def statuses(self, read: np.ndarray) -> np.ndarray:
        against = (read == precision.AGAINST).any(1)
        confirmed = against & (self.gold_wrong(read) >= self.min_precision)
        return np.where(confirmed, CONFIRMED, np.where(against, DISPUTED, CANDIDATE)).astype(object)


def pooled_probabilities(encoders: dict[str, np.ndarray]) -> np.ndarray:
    return np.mean([np.asarray(p, dtype=float) for p in encoders.values()], axis=0)


def detect(gold: np.ndarray, encoders: dict[str, np.ndarray], witnesses: dict[str, np.ndarray], rule: Rule):
    """Candidates (cleanlab on the encoders' probabilities, `find_issues`) with their status, the probability that
    their gold label is wrong (`p_gold_wrong`) and each witness's evidence (`{name}_predicted`,
    `{name}_prob_suggested`; NaN where it did not score the sentence); each witness's quality and rates; the judge.
    `witnesses[name]` holds sentences x classes probabilities, NaN rows where not scored."""
    gold = np.asarray(gold, dtype=int)
    found = find_issues(gold, encoders)
    pooled = pooled_probabilities(encoders)
    rows, suggested = found["position"].to_numpy(), found["suggested"].to_numpy()
    candidate = np.isin(np.arange(len(gold)), rows)
    quality = {name: witness_quality(gold, probs, rule) | measure_rates(gold, pooled, candidate, probs, rule)
               | {"family": rule.family(name)} for name, probs in witnesses.items()}  # fmt: skip
    for name, probs in witnesses.items():
        mine = readings(gold[rows], suggested, probs[rows], rule.confirm_probability)
        quality[name] |= on_candidates(mine, quality[name], rule.min_precision)
    chosen = voters(quality, rule)
    judge = Judge(tuple(chosen), None, rule.min_precision)
    read = judge.read(gold, suggested, witnesses, rows, rule.confirm_probability)
    if chosen:
        counts = {kind: np.array([[quality[name][kind]["successes"], quality[name][kind]["trials"]]
                                  for name in chosen], dtype=float) for kind in ("sensitivity", "false_alarm")}  # fmt: skip
        fit = precision.fit(read, chosen, counts["sensitivity"], counts["false_alarm"], DRAWS, rule.seed)
        judge = Judge(tuple(chosen), fit, rule.min_precision)
    for name, probs in witnesses.items():
        mine = probs[rows]
        scored = ~np.isnan(mine).any(1)
        found[f"{name}_predicted"] = np.where(scored, np.nan_to_num(mine).argmax(1), -1)
        found[f"{name}_prob_suggested"] = mine[np.arange(len(rows)), suggested] if len(rows) else []
    voting = np.column_stack([witnesses[name][rows, suggested] for name in chosen]) if chosen and len(rows) else None
    found["witnesses"] = (read != precision.UNREAD).sum(1)
    found["against_gold"] = (read == precision.AGAINST).sum(1)
    found["witness_prob_suggested"] = mean_or_nan(voting, len(rows))
    found["p_gold_wrong"] = judge.gold_wrong(read)
    found["status"] = judge.statuses(read)
    return found, quality, judge, read


def mean_or_nan(values: np.ndarray | None, rows: int) -> np.ndarray:
    """Row means ignoring NaN, NaN for a row with no value (and for every row when there is no column)."""
    if values is None:
        return np.full(rows, np.nan)
    counts = (~np.isnan(values)).sum(1)
    return np.divide(np.nansum(values, 1), counts, out=np.full(rows, np.nan), where=counts > 0)


def figures(found: pd.DataFrame, read: np.ndarray, judge: Judge, confidence: float) -> dict:
    """The dataset's figures: the base rate of wrong gold labels among the candidates the voters read, the share
    with a wrong gold label among the confirmed, the disputed and all read against gold, and per reading pattern."""
    if judge.fit is None or not (read != precision.UNREAD).any():  # no reading: the base rate would be the prior's
        return {"base_rate": None, "precision": None, "patterns": []}
    status = found["status"].to_numpy()
    against = (read == precision.AGAINST).any(1)
    shares = {name: judge.fit.share(read[mask], confidence)
              for name, mask in ((CONFIRMED, status == CONFIRMED), (DISPUTED, status == DISPUTED),
                                 ("against_gold", against))}  # fmt: skip
    patterns = []
    for pattern in np.unique(read, axis=0) if len(read) else []:
        mine = (read == pattern).all(1)
        named = {kind: [name for name, value in zip(judge.voters, pattern) if value == code]
                 for kind, code in (("against", precision.AGAINST), ("agrees", precision.AGREES))}  # fmt: skip
        patterns.append(named | judge.fit.share(read[mine], confidence) | {"status": str(status[mine][0])})
    patterns.sort(key=lambda p: -(p["estimate"] or 0))
    return {"base_rate": judge.fit.base_rate_summary(confidence), "precision": shares, "patterns": patterns}


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def flip_positions(judged: np.ndarray, share: float, pooled: np.ndarray, gold: np.ndarray, found: pd.DataFrame,
                   seed: int) -> tuple[np.ndarray, np.ndarray, int]:  # fmt: skip
    """A seeded `share` of the judged positions that are not candidates (at least one when any), each with a new
    label, drawn to look like the candidates: for each flip a candidate is drawn (with replacement), and the flip is
    the unused (sentence, label) whose pooled probability of the new label is nearest the candidate's pooled
    probability of its gold label on the logit scale, within FLIP_CALIPER, among the labels as far from the
    sentence's gold (in the labels' order) as the candidate's suggestion is from its gold. A candidate with no such
    pair is skipped, not replaced by an easier one: the positions, their new labels and how many were skipped.
    Empty when there is no candidate to follow."""
    eligible = np.setdiff1d(judged, found["position"].to_numpy())
    if not len(eligible) or share == 0 or found.empty:
        return np.array([], dtype=int), np.array([], dtype=int), 0
    rng = np.random.default_rng(seed)
    count = min(max(1, round(share * len(judged))), len(eligible))
    classes = pooled.shape[1]
    sentence = np.repeat(eligible, classes - 1)
    label = np.array([k for i in eligible for k in range(classes) if k != gold[i]])
    value, distance = logit(pooled[sentence, label]), np.abs(label - gold[sentence])
    targets = found.iloc[rng.integers(0, len(found), count)]
    free = np.ones(len(sentence), dtype=bool)
    order = rng.permutation(len(sentence))  # ties go to a random pair
    chosen = []
    for target, target_distance in zip(logit(targets["self_confidence"].to_numpy()),
                                       np.abs(targets["suggested"] - targets["gold"])):  # fmt: skip
        gap = np.abs(value[order] - target)
        usable = np.flatnonzero(free[order] & (distance[order] == target_distance) & (gap <= FLIP_CALIPER))
        if len(usable):
            best = order[usable[np.argmin(gap[usable])]]
            chosen.append(best)
            free[sentence == sentence[best]] = False
    chosen = np.array(sorted(chosen, key=lambda c: sentence[c]), dtype=int)
    return sentence[chosen], label[chosen], count - len(chosen)


def recall(flipped: np.ndarray, unflipped: np.ndarray, flags: dict[str, set], confidence: float) -> dict:
    """Recall of the `flipped` positions per kind of flag and the flags on the `unflipped`, with Wilson intervals."""
    result = {"flipped": len(flipped)}
    for name, flagged in flags.items():
        hits = int(np.isin(flipped, list(flagged)).sum())
        result[f"recall_{name}"] = hits / len(flipped) if len(flipped) else None
        result[f"recall_{name}_ci"] = list(wilson(hits, len(flipped), confidence))
        if unflipped is not None:
            wrong = int(np.isin(unflipped, list(flagged)).sum())
            result[f"unflipped_{name}"] = wrong
            result[f"unflipped_{name}_share"] = wrong / len(unflipped) if len(unflipped) else None
            result[f"unflipped_{name}_ci"] = list(wilson(wrong, len(unflipped), confidence))
    return result


def inject_flips(gold, encoders: dict, witnesses: dict, judged: np.ndarray, rule: Rule, flips: tuple,
                 judge: Judge) -> dict:  # fmt: skip
    """The detection run again with the labels of `flips` (`flip_positions`: positions, new labels, skipped) changed, each
    candidate judged by `judge` (the real data's voters and model: the flips would otherwise raise the base rate they
    are judged at): recall of the flips as candidates, read against gold, and confirmed, and flags on the judged
    sentences left unflipped, each with its Wilson interval. Those flags include the data's own label issues, so they
    bound the false flags from above. With more than two classes, recall apart for flips to an adjacent label (by
    the labels' order: 1 -> 2) and to a distant one (0 -> 4)."""
    gold = np.asarray(gold, dtype=int)
    flipped, new, skipped = flips
    changed = gold.copy()
    changed[flipped] = new
    found = find_issues(changed, encoders)
    rows = found["position"].to_numpy()
    read = judge.read(changed, found["suggested"].to_numpy(), witnesses, rows, rule.confirm_probability)
    status = judge.statuses(read)
    flags = {"candidates": set(rows), "against_gold": set(rows[status != CANDIDATE]),
             "confirmed": set(rows[status == CONFIRMED])}  # fmt: skip
    unflipped = np.setdiff1d(judged, flipped)
    result = {"judged": len(judged), "unflipped": len(unflipped), "unmatched": skipped}
    result |= recall(flipped, unflipped, flags, rule.confidence)
    if len(flipped):  # the flips' pooled probability of their new label, beside the candidates' of gold (study)
        result["flips_self_confidence_median"] = float(np.median(pooled_probabilities(encoders)[flipped, new]))
    result["by_distance"] = None
    if next(iter(encoders.values())).shape[1] > 2:
        distance = np.abs(new - gold[flipped])
        result["by_distance"] = {name: recall(flipped[mask], None, flags, rule.confidence)
                                 for name, mask in (("adjacent", distance == 1), ("distant", distance > 1))}  # fmt: skip
    return result


def as_probabilities(table: pd.DataFrame, index: np.ndarray, labels) -> np.ndarray:
    """A witness table's `llm_prob_{label}` columns as sentences x classes in the order of `index`, NaN rows for the
    sentences it did not score."""
    probs = table.set_index("index")[[f"llm_prob_{label}" for label in labels]].reindex(index)
    return probs.to_numpy(dtype=float)
