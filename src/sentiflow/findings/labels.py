"""The finding on label issues: how many candidates the witnesses confirm, and the estimated share of them whose
gold label is wrong (the label_issues rule's precision, with its interval from posterior draws) against the bar a
confirmation must clear (`analysis.label_issues.min_precision`)."""

from __future__ import annotations

import json
from pathlib import Path

from sentiflow.findings import wording
from sentiflow.findings.rows import Finding, unanswered
from sentiflow.findings.study import Study
from sentiflow.findings.verdict import NOT_MEASURED, evidence, state, verdict

SOURCE = "analysis/label_issues.json"
QUESTION = "How many gold labels are wrong, and are the confirmed ones really wrong?"


def label_issues(study: Study) -> list[Finding]:
    summary = json.loads(Path(study.files.label_issues).read_text())
    reason = study.absent("label_issues") and f"label issues are off ({study.absent('label_issues')})"
    precision = (summary.get("precision") or {}).get("confirmed") or {}
    if not reason and not summary.get("confirmed"):
        reason = (f"{summary['candidates']} candidates, none confirmed"
                  + (f": {summary['note']}" if summary.get("note") else ""))  # fmt: skip
    if not reason and precision.get("estimate") is None:
        reason = f"{summary['confirmed']} confirmed, with no estimate of their precision"
    if reason:
        return [Finding(id="label_issues", topic="label issues", question=QUESTION,
                        sentence=unanswered(QUESTION, reason), verdict=NOT_MEASURED, reason=reason,
                        section="label-detection" if not study.absent("label_issues") else "why", part="why")]  # fmt: skip
    bar = summary["rule"]["min_precision"]
    low, high = precision["ci"]
    piece = evidence("witness", "share of confirmed issues with a wrong gold label", ", ".join(summary["voters"]),
                     precision["estimate"], low, high, bar, SOURCE, summary["confirmed"])  # fmt: skip
    judged = verdict([state(piece)])
    sentence = (f"{summary['confirmed']} of {summary['candidates']} candidate label issues are confirmed by "
                f"{wording.listing(summary['voters'])}; an estimated {wording.estimate(piece)} of them have a wrong "
                f"gold label, against a bar of {bar:g}: {judged}.")  # fmt: skip
    return [
        Finding(
            id="label_issues",
            topic="label issues",
            question=QUESTION,
            sentence=sentence,
            verdict=judged,
            section="label-detection",
            part="why",
            headline=[piece],
            evidence=[piece],
        )
    ]
