"""The report's findings, first and across datasets: each dataset's findings as sentences linked to the part of its
section that shows them, and what could not be answered there and why, read from the findings rule's outputs.

The sentences come whole from findings.json (the findings rule writes them from the numbers); the report only
splits off the verdict to show it, and escapes the text like every other text from the data."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sentiflow.findings.verdict import NOT_MEASURED, NOT_TESTED
from sentiflow.report.inputs import DatasetInputs
from sentiflow.report.settings import ReportSettings
from sentiflow.report.tables import read_json


@dataclass(frozen=True)
class FindingsFiles:
    """The findings rule's outputs on a dataset."""

    summary: Path
    table: Path


def read(files: FindingsFiles, inputs: DatasetInputs, settings: ReportSettings) -> dict:
    """The section's part of a dataset's context (sentiflow.report.sections): `findings`."""
    return {"findings": collect(files)}


def shown(finding: dict) -> dict:
    """A finding as the templates show it: its answer (the sentence without its closing verdict) and verdict."""
    ending = f": {finding['verdict']}."
    sentence = finding["sentence"]
    if not sentence.endswith(ending):
        raise ValueError(f"finding {finding['id']}: its sentence does not end with its verdict ({ending!r})")
    return {"id": finding["id"], "answer": sentence[: -len(ending)], "verdict": finding["verdict"],
            "section": finding["section"], "part": finding["part"], "topic": finding["topic"],
            "reason": finding["reason"], "question": finding["question"]}  # fmt: skip


def by_reason(rows: list[dict]) -> list[dict]:
    """The rows grouped by their reason, in order: an LLM stage switched off leaves half a dozen questions, said once."""
    reasons: dict[str, list[dict]] = {}
    for row in rows:
        reasons.setdefault(row["reason"] or "no reason given", []).append(row)
    return [{"reason": reason, "rows": group} for reason, group in reasons.items()]


def collect(files: FindingsFiles) -> dict:
    """The answered findings (every verdict but "not measured"), the unanswered ones with their reasons, the rule,
    the counts per verdict and the CSV's name."""
    summary = read_json(files.summary)
    rows = [shown(finding) for finding in summary["findings"]]
    unanswered = [row for row in rows if row["verdict"] == NOT_MEASURED]
    untested = [row for row in rows if row["verdict"] == NOT_TESTED]
    return {
        "answered": [row for row in rows if row["verdict"] != NOT_MEASURED],
        "unanswered": unanswered,
        "unanswered_by_reason": by_reason(unanswered),
        "untested": untested,
        "untested_by_reason": by_reason(untested),
        "rule": summary["rule"],
        "counts": summary["counts"],
        "table": Path(files.table).name,
    }
