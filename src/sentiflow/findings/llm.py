"""Findings on the LLM entries: the best entry against the best encoder on validation sentences (the cascade rule's
paired interval) and on the behavioural tests, overall and per failure mode (behaviour/comparisons.csv), and each
entry's cascade: its gain at the cross-fitted threshold and the share it defers (cascade.json)."""

from __future__ import annotations

from sentiflow.findings import wording
from sentiflow.findings.failure_modes import MODES, name, probed
from sentiflow.findings.rows import Finding, unanswered
from sentiflow.findings.study import Study
from sentiflow.findings.verdict import (
    EFFECT,
    NO_EFFECT,
    NOT_MEASURED,
    NOT_TESTED,
    evidence,
    headline,
    side,
    state,
    verdict,
)


def missing(topic: str, id: str, question: str, reason: str, section: str, part: str) -> Finding:
    return Finding(id=id, topic=topic, question=question, sentence=unanswered(question, reason), verdict=NOT_MEASURED,
                   reason=reason, section=section, part=part)  # fmt: skip


def no_llm(study: Study) -> str | None:
    """Why no LLM entry is compared on this dataset, or None."""
    if study.llm:
        return None
    return study.absent("llm") or "no LLM comparison finished on this dataset (analysis.allow_partial)"


def validation(study: Study) -> Finding:
    """The best LLM entry against the best encoder on the validation sentences both answered (the cascade's)."""
    encoder, entry = study.best_encoder, study.best_llm
    question = f"Is the best LLM entry more accurate than the best encoder ({encoder}) on {study.name}?"
    reason = no_llm(study)
    cascade = study.llm[entry]["cascade"] if entry else None
    if reason is None and cascade is None:
        reason = (f"the LLM and the encoders answer the same validation sentences only in the cascade, which is off "
                  f"({study.absent('cascade') or 'llm.cascade.enabled: false'})")  # fmt: skip
    if reason:
        return missing("LLM", "llm/validation", question, reason, "llm", "llm")
    row = cascade["backbones"][encoder]
    piece = evidence("paired test", "accuracy difference", f"{entry} vs {encoder}",
                     row["llm_accuracy"] - row["encoder_accuracy"], row.get("llm_gain_ci_low"),
                     row.get("llm_gain_ci_high"), study.rule.min_difference, f"llm/{entry}/cascade.json",
                     row["sentences"])  # fmt: skip
    judged = verdict([state(piece)])
    sentence = (f"On {row['sentences']} validation sentences, {entry} (the best LLM entry) has an accuracy of "
                f"{wording.number(row['llm_accuracy'])}, {encoder} (seed majority) {wording.number(row['encoder_accuracy'])}: "
                f"LLM minus encoder {wording.difference(piece)} (paired over the sentences): {judged}.")  # fmt: skip
    return Finding(id="llm/validation", topic="LLM", question=question, sentence=sentence, verdict=judged,
                   section="cascade", part="llm", headline=[piece], evidence=[piece])  # fmt: skip


def suite_pieces(study: Study, entry: str, tests: list[str]) -> list:
    """The paired comparisons of the best encoder against `entry` on `tests`: encoder minus LLM failure rate."""
    table = study.comparisons
    rows = table[(table["comparison"] == "llm") & (table["model_a"] == study.best_encoder)
                 & (table["model_b"] == entry) & table["test"].isin(tests) & (table["cases"] > 0)]  # fmt: skip
    return [
        evidence("paired test", row["test"], f"{study.best_encoder} vs {entry}", row["difference"], row["ci_low"],
                 row["ci_high"], study.rule.min_difference, "behaviour/comparisons.csv", row["cases"])
        for row in rows.to_dict("records")
    ]  # fmt: skip


def on_tests(study: Study, mode: str | None) -> Finding:
    """The best LLM entry against the best encoder on the behavioural tests: all of them (`mode` None), or those
    that probe `mode`; the claim is that the LLM fails them less often."""
    encoder, entry = study.best_encoder, study.best_llm
    what = "the behavioural tests" if mode is None else f"the tests of {name(mode)}"
    question = f"Does the best LLM entry fail {what} less often than {encoder}?"
    id = "llm/behaviour" if mode is None else f"llm/failure_mode/{mode}"
    reason = no_llm(study)
    if reason is None and study.absent("behaviour"):
        reason = f"no behavioural test ran ({study.absent('behaviour')})"
    if reason is None and not study.behaviour["cases"]:
        reason = "the behavioural suite has no case on this dataset"
    if reason is None and mode is not None and mode not in probed(study):
        reason = f"no behavioural test probes {name(mode)} (behaviour.tests)"
    if reason:
        return missing("LLM", id, question, reason, "behaviour", "behaviour")
    tests = ["all tests"] if mode is None else [t["test"] for t in study.behaviour["tests"] if t["probes"] == mode]
    pieces = suite_pieces(study, entry, tests)
    if not pieces:
        reason = f"{entry} answered no case of {what}"
        return missing("LLM", id, question, reason, "behaviour-comparisons", "behaviour")
    piece = headline(pieces)
    judged = verdict([side(pieces)])
    estimate = piece.estimate or 0
    how = "less often than" if estimate > 0 else "more often than" if estimate < 0 else "as often as"
    resolved = side(pieces) in (EFFECT, NO_EFFECT)
    reason = None
    if judged == NOT_TESTED:
        reason = "no interval: the cases both models answered form a single cluster"
    which = (
        ""
        if mode is None
        else f" ({piece.measure}"
        + (
            ")"
            if len(pieces) == 1
            else f", the strongest of {len(pieces)})"
            if resolved
            else f", one of {len(pieces)})"
        )
    )
    sentence = (f"On {what}{which}, {entry} fails {how} {encoder} on the {wording.count(piece.count, 'case')} both "
                f"answered: {encoder} minus {entry} {wording.difference(piece)} (paired failure rates): {judged}.")  # fmt: skip
    return Finding(id=id, topic="LLM", question=question, sentence=sentence, verdict=judged, reason=reason,
                   section="behaviour-comparisons", part="behaviour", headline=[piece], evidence=pieces)  # fmt: skip


def cascades(study: Study) -> list[Finding]:
    """Per LLM entry, its cascade with the best encoder: the gain at the cross-fitted threshold, the share deferred."""
    encoder = study.best_encoder
    question = f"Does a cascade from {encoder} to an LLM entry beat {encoder} alone?"
    reason = no_llm(study) or (study.absent("cascade") and f"the cascade is off ({study.absent('cascade')})")
    if not reason and all(entry["cascade"] is None for entry in study.llm.values()):
        reason = "no cascade finished on this dataset"
    if reason:
        return [missing("cascade", "cascade", question, reason, "llm", "llm")]
    found = []
    for entry, summary in study.llm.items():
        row = summary["cascade"]["backbones"][encoder]
        piece = evidence("paired test", "accuracy gain", f"cascade {encoder} / {entry}",
                         row["cascade_accuracy"] - row["encoder_accuracy"], row["gain_ci_low"], row["gain_ci_high"],
                         study.rule.min_difference, f"llm/{entry}/cascade.json", row["sentences"])  # fmt: skip
        judged = verdict([state(piece)])
        sentence = (f"The cascade from {encoder} to {entry}, at its cross-fitted threshold, sends "
                    f"{wording.percent(row['deferred_share'])} of {row['sentences']} sentences to the LLM and "
                    f"changes accuracy by {wording.difference(piece)} ({wording.number(row['encoder_accuracy'])} to "
                    f"{wording.number(row['cascade_accuracy'])}): {judged}.")  # fmt: skip
        found.append(Finding(id=f"cascade/{entry}", topic="cascade",
                             question=f"Does a cascade from {encoder} to {entry} beat {encoder} alone?",
                             sentence=sentence, verdict=judged, section="cascade", part="llm", headline=[piece],
                             evidence=[piece]))  # fmt: skip
    return found


def llm(study: Study) -> list[Finding]:
    """The LLM findings: on validation, on the behavioural tests, per failure mode, then the cascades."""
    modes = MODES + [mode for mode in probed(study) if mode not in MODES]
    return [validation(study), on_tests(study, None), *(on_tests(study, mode) for mode in modes), *cascades(study)]
