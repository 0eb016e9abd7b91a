"""Association beside intervention: per failure mode, how much more often the encoders err on validation sentences
that carry its cue (the errors stage's failure_modes.csv) next to how often they fail the tests that probe it.

A cue marks a sentence, not the reason for an error; a test changes only the suspected cause. When both point the
same way the failure mode is likely a cause; when the cue's error-rate difference is large and the tests pass, the
cue travels with something else.
"""

from __future__ import annotations

import pandas as pd

# The rows of failure_modes.csv that measure each failure mode a test `probes` (the cue families of the shipped
# analysis.cues, and the misclassified rule's flags); robustness has no association measure.
MEASURED_BY = {
    "negation_contrast": ("negation", "contrast"),
    "mixed_tone": ("mixed_polarity",),
    "shortcuts": ("shortcut_against_gold",),
    "robustness": (),
}
COLUMNS = ["failure_mode", "backbone", "evidence", "measure", "type", "count", "error_rate_with",
           "error_rate_without", "value", "ci_low", "ci_high"]  # fmt: skip


def association(failure_modes: pd.DataFrame, rates: pd.DataFrame, suite: pd.DataFrame) -> pd.DataFrame:
    """Per failure mode the suite probes and encoder run group: `association` rows (one per cue: the error rate
    with and without it, their difference as `value` with its interval, `count` sentences with the cue) and
    `intervention` rows (one per test: the failure rate over seeds with its interval, `count` cases)."""
    over_seeds = rates[(rates["kind"] == "encoder") & (rates["seed"] == "all")]
    rows = []
    for mode in suite["probes"].drop_duplicates():
        for backbone in over_seeds["model"].drop_duplicates():
            cues = failure_modes[(failure_modes["backbone"] == backbone)
                                 & failure_modes["cue"].isin(MEASURED_BY.get(mode, ()))]  # fmt: skip
            for cue in cues.to_dict("records"):
                rows.append({
                    "failure_mode": mode, "backbone": backbone, "evidence": "association", "measure": cue["cue"],
                    "type": "cue", "count": cue["sentences"], "error_rate_with": cue["error_rate_with"],
                    "error_rate_without": cue["error_rate_without"],
                    "value": cue["error_rate_with"] - cue["error_rate_without"],
                    "ci_low": cue["difference_ci_low"], "ci_high": cue["difference_ci_high"],
                })  # fmt: skip
            tests = over_seeds[(over_seeds["model"] == backbone) & (over_seeds["probes"] == mode)]
            for test in tests.to_dict("records"):
                rows.append({
                    "failure_mode": mode, "backbone": backbone, "evidence": "intervention", "measure": test["test"],
                    "type": test["type"], "count": test["cases"], "value": test["failure_rate"],
                    "ci_low": test["ci_low"], "ci_high": test["ci_high"],
                })  # fmt: skip
    return pd.DataFrame(rows, columns=COLUMNS)
