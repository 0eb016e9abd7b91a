"""Findings on the failure modes: per failure mode and run group, the association (the misclassified rule's
failure_modes.csv: the error rate on validation sentences with the mode's cue minus without, its interval) beside
the intervention (the behaviour_summary rule's failure_rates.csv: the tests that probe it, matched by their `probes`,
each a failure rate over seeds with its interval); and over-confidence, for which no stage writes an interval."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from sentiflow.behaviour.association import MEASURED_BY
from sentiflow.findings import wording
from sentiflow.findings.rows import Finding
from sentiflow.findings.study import Study
from sentiflow.findings.verdict import (
    EFFECT,
    NO_EFFECT,
    NOT_MEASURED,
    NOT_TESTED,
    UNRESOLVED,
    Evidence,
    evidence,
    headline,
    side,
    verdict,
)

# The failure modes every dataset is asked about (those with an association measure), in this order; any other
# mode the suite probes (robustness) follows, with the intervention alone.
MODES = [mode for mode, cues in MEASURED_BY.items() if cues]
NAMES = {"negation_contrast": "negation and contrast", "mixed_tone": "sarcasm and mixed tone",
         "shortcuts": "lexical shortcuts", "robustness": "typos and contractions"}  # fmt: skip


def name(mode: str) -> str:
    return NAMES.get(mode, mode.replace("_", " "))


def association(study: Study, mode: str, label: str) -> list[Evidence]:
    """The failure_modes.csv rows that measure `mode` for run group `label`: with minus without, its interval."""
    table = study.failure_modes
    rows = table[(table["backbone"] == label) & table["cue"].isin(MEASURED_BY.get(mode, ())) & (table["sentences"] > 0)]
    return [
        evidence("association", row["cue"], label, row["error_rate_with"] - row["error_rate_without"],
                 row["difference_ci_low"], row["difference_ci_high"], study.rule.min_difference,
                 "analysis/failure_modes.csv", row["sentences"])
        for row in rows.to_dict("records")
    ]  # fmt: skip


def intervention(study: Study, mode: str, model: str) -> list[Evidence]:
    """The failure rates over seeds of the tests that probe `mode`, for `model` (the cases it answered)."""
    rates = study.rates
    rows = rates[(rates["model"] == model) & (rates["probes"] == mode) & (rates["cases"] > 0)]
    return [
        evidence("intervention", row["test"], model, row["failure_rate"], row["ci_low"], row["ci_high"],
                 study.rule.min_failure_rate, "behaviour/failure_rates.csv", row["cases"])
        for row in rows.to_dict("records")
    ]  # fmt: skip


def probed(study: Study) -> list[str]:
    """Every failure mode the dataset's suite probes, in suite order (none without a suite)."""
    return list(dict.fromkeys(test["probes"] for test in study.behaviour["tests"])) if study.behaviour else []


def missing_intervention(study: Study, mode: str) -> str:
    """Why no behavioural test measures `mode` on this dataset."""
    if study.absent("behaviour"):
        return f"no behavioural test ran ({study.absent('behaviour')})"
    if not study.behaviour["cases"]:
        return "the behavioural suite has no case on this dataset"
    if mode not in probed(study):
        return f"no behavioural test probes {name(mode)} (behaviour.tests)"
    return "no case of the tests that probe it was answered"


def agreement(pieces: list[Evidence], what: str) -> str:
    """How many pieces show the side's state: "2 of 4 tests"."""
    states = Counter(piece.state for piece in pieces)
    shown = side(pieces)
    if len(pieces) == 1 or shown not in (EFFECT, NO_EFFECT, UNRESOLVED):
        return ""

    def shows(n: int) -> str:
        return f"{n} shows an effect" if n == 1 else f"{n} show an effect"

    def excludes(n: int) -> str:
        return f"{n} excludes one" if n == 1 else f"{n} exclude one"

    if shown == UNRESOLVED and states[EFFECT] and states[NO_EFFECT]:
        return f"; its {len(pieces)} {what} disagree: {shows(states[EFFECT])}, {excludes(states[NO_EFFECT])}"
    if shown == UNRESOLVED:
        return f"; none of its {len(pieces)} {what} is resolved"
    return f"; {states[shown]} of {len(pieces)} {what} {'show an effect' if shown == EFFECT else 'exclude one'}"


def association_words(piece: Evidence, pieces: list[Evidence]) -> str:
    return (f"error rate with the {piece.measure.replace('_', ' ')} cue ({piece.count} validation sentences) minus "
            f"without {wording.difference(piece)} (association{agreement(pieces, 'cues')})")  # fmt: skip


def intervention_words(piece: Evidence, pieces: list[Evidence], rule) -> str:
    return (f"{piece.measure} fails {piece.model} in {wording.rate(piece)} of {wording.count(piece.count, 'case')} (intervention, "
            f"against {wording.percent(rule.min_failure_rate)}{agreement(pieces, 'tests')})")  # fmt: skip


def failure_mode(study: Study, mode: str, label: str) -> Finding:
    """One failure mode for one run group: its association and its intervention side by side, and the verdict."""
    linked = MEASURED_BY.get(mode, ())
    pieces = {"association": association(study, mode, label) if linked else None,
              "intervention": intervention(study, mode, label)}  # fmt: skip
    sides = [side(p) for p in pieces.values() if p is not None]
    if linked and not pieces["association"]:
        sides.append(None)
    judged = verdict(sides)
    words, reasons, shown = [], [], []
    if linked:
        if pieces["association"]:
            piece = headline(pieces["association"])
            shown.append(piece)
            words.append(association_words(piece, pieces["association"]))
        else:
            reasons.append(f"no validation sentence carries its cue ({wording.listing(list(linked))})")
    if pieces["intervention"]:
        piece = headline(pieces["intervention"])
        shown.append(piece)
        words.append(intervention_words(piece, pieces["intervention"], study.rule))
    else:
        reasons.append(missing_intervention(study, mode))
    reason = "; ".join(reasons) or None
    if judged == "inconclusive" and any(s == UNRESOLVED for s in sides):
        reason = "an interval holds no effect" + (f"; {reason}" if reason else "")
    if judged == NOT_TESTED:
        reason = "a side's evidence has no interval (one sentence with the cue, or a test of one cluster)"
    said = "; ".join(words) if words else "nothing is measured"
    missing = f"; {'; '.join(reasons)}" if reasons else ""
    return Finding(
        id=f"failure_mode/{mode}/{label}", topic="failure mode",
        question=f"Do {label}'s errors on {study.name} come from {name(mode)}?",
        sentence=f"{name(mode).capitalize()}, {label}: {said}{missing}: {judged}.", verdict=judged, reason=reason,
        section="behaviour-association" if study.behaviour and study.behaviour["cases"] else "failure-modes",
        part="behaviour" if pieces["intervention"] else "errors", headline=shown,
        evidence=[p for side_pieces in pieces.values() if side_pieces for p in side_pieces],
    )  # fmt: skip


def overconfidence(study: Study, overconfident: dict, label: str) -> Finding:
    """Over-confidence: the share of a run group's errors made above the confidence threshold; no stage writes an
    interval for it and no behavioural test probes it, so it is shown, not judged."""
    row = overconfident.get(label)
    reason = ("no stage writes an interval for the share of over-confident errors, and no behavioural test probes "
              "over-confidence")  # fmt: skip
    if row is None:
        return Finding(id=f"failure_mode/overconfidence/{label}", topic="failure mode",
                       question=f"Is {label} over-confident when wrong?",
                       sentence=f"Over-confidence, {label}: not in analysis/overconfidence.json: {NOT_MEASURED}.",
                       verdict=NOT_MEASURED, reason="not in analysis/overconfidence.json", section="overconfidence",
                       part="errors")  # fmt: skip
    piece = evidence("measurement", f"errors above confidence {row['threshold']}", label, row["overconfident_share"],
                     None, None, None, "analysis/overconfidence.json", round(row["errors_mean"]))  # fmt: skip
    sentence = (f"Over-confidence, {label}: {wording.percent(piece.estimate)} of its errors (about "
                f"{row['errors_mean']:.0f} a seed) are made with a confidence above {row['threshold']}; {reason}: "
                f"{NOT_TESTED}.")  # fmt: skip
    return Finding(id=f"failure_mode/overconfidence/{label}", topic="failure mode",
                   question=f"Is {label} over-confident when wrong?", sentence=sentence, verdict=NOT_TESTED,
                   reason=reason, section="overconfidence", part="errors", headline=[piece], evidence=[piece])  # fmt: skip


def failure_modes(study: Study) -> list[Finding]:
    """Every failure mode for every run group, then over-confidence per run group."""
    modes = MODES + [mode for mode in probed(study) if mode not in MODES]
    found = [failure_mode(study, mode, group["backbone"]) for mode in modes for group in study.groups]
    overconfident = json.loads(Path(study.files.overconfidence).read_text())["backbones"]
    return found + [overconfidence(study, overconfident, group["backbone"]) for group in study.groups]
