"""The finding on calibration: each run group's top-label ECE before and after temperature scaling, mean over seeds
(the calibration rule's table). The rule writes no interval for ECE, so it is shown, not judged."""

from __future__ import annotations

import pandas as pd

from sentiflow.findings import wording
from sentiflow.findings.rows import Finding
from sentiflow.findings.study import Study
from sentiflow.findings.verdict import NOT_TESTED, evidence

SOURCE = "analysis/calibration.csv"
REASON = "analysis/calibration.csv writes no interval for ECE"
FITTED = {"holdout": "on the held-out slice of train", "crossfit": "by cross-fitting on validation"}


def calibration(study: Study) -> list[Finding]:
    table = pd.read_csv(study.files.calibration)
    found = []
    for group in study.groups:
        label = group["backbone"]
        rows = table[table["backbone"] == label]
        means = rows.groupby("stage")[["ece", "temperature"]].mean()
        pieces = [evidence("measurement", f"ECE {stage} temperature scaling", label, means["ece"].get(stage), None,
                           None, None, SOURCE, rows["seed"].nunique()) for stage in ("before", "after")]  # fmt: skip
        method = FITTED.get(rows["method"].iloc[0], rows["method"].iloc[0]) if len(rows) else "–"
        temperature = means["temperature"].get("after")
        sentence = (f"{label}'s expected calibration error is {wording.number(pieces[0].estimate)} before and "
                    f"{wording.number(pieces[1].estimate)} after temperature scaling (T = "
                    f"{wording.number(temperature, 2)}, fitted {method}; mean over {pieces[0].count} seed"
                    f"{'s' if pieces[0].count != 1 else ''}); {REASON}: {NOT_TESTED}.")  # fmt: skip
        found.append(Finding(id=f"calibration/{label}", topic="calibration",
                             question=f"Is {label} calibrated, and does temperature scaling help?", sentence=sentence,
                             verdict=NOT_TESTED, reason=REASON, section="calibration-table", part="calibration",
                             headline=pieces, evidence=pieces))  # fmt: skip
    return found
