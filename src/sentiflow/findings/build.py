"""The findings rule: every source's findings on one dataset, written as findings.json and findings.csv.

A source is a function of the dataset's `Study` that returns its findings, in the order the report shows them.
Another stage's numbers become findings by a source of their own: add the files it reads to `FindingsFiles`
(optional, None where the stage did not run), name them in workflow/rules/findings_helpers.smk (`findings_files`),
and append its function to `SOURCES`; its pieces of evidence carry the intervals that stage wrote, and `verdict`
judges them (docs/outputs.md, "Findings").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pandas as pd

from sentiflow.atomic import write_csv, write_json
from sentiflow.findings.accuracy import accuracy, backbones, variants
from sentiflow.findings.calibration import calibration
from sentiflow.findings.failure_modes import failure_modes
from sentiflow.findings.labels import label_issues
from sentiflow.findings.llm import llm
from sentiflow.findings.rows import COLUMNS, Finding
from sentiflow.findings.study import FindingsFiles, FindingsSettings, Study
from sentiflow.findings.verdict import NOT_MEASURED, NOT_TESTED, VERDICTS

SOURCES: tuple[Callable[[Study], list[Finding]], ...] = (
    accuracy,
    backbones,
    variants,
    failure_modes,
    llm,
    label_issues,
    calibration,
)


def findings(study: Study) -> list[Finding]:
    """Every source's findings, each id once."""
    found = [finding for source in SOURCES for finding in source(study)]
    ids = [finding.id for finding in found]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise ValueError(f"dataset {study.name}: finding ids given twice: {', '.join(repeated)}")
    return found


def write_findings(name: str, files: dict, settings: dict, outputs: dict) -> list[Finding]:
    """The findings rule for dataset `name`: `files` and `settings` as the rule passes them (the intervals' level is
    the aggregate rule's, read from its summary.json); `outputs` names `table` (CSV) and `summary` (JSON)."""
    study = Study(name, FindingsFiles.from_dict(files), FindingsSettings.from_dict(settings))
    found = findings(study)
    counts = {verdict: sum(f.verdict == verdict for f in found) for verdict in VERDICTS}
    write_json(outputs["summary"], {
        "dataset": name,
        "rule": dataclasses.asdict(study.rule),
        "counts": counts,
        "findings": [finding.record(name) for finding in found],
        "unanswered": [{"id": f.id, "question": f.question, "verdict": f.verdict, "reason": f.reason}
                       for f in found if f.verdict in (NOT_MEASURED, NOT_TESTED)],
    })  # fmt: skip
    write_csv(outputs["table"], pd.DataFrame([finding.row(name) for finding in found], columns=COLUMNS))
    for finding in found:
        print(f"{finding.verdict:>13}  {finding.sentence}", flush=True)
    print(f"{len(found)} findings on {name}: " + ", ".join(f"{n} {v}" for v, n in counts.items() if n), flush=True)
    return found
