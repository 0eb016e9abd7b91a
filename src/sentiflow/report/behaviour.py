"""The report's "Behavioural tests" section: failure rates per test and model, comparisons, association beside
intervention and a few failing cases per test, from the behaviour_summary rule's outputs.

Suite text is data: the templates escape it like every other text (HTML autoescaping, `tex` in LaTeX).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sentiflow.report import explore
from sentiflow.report.explore import Column
from sentiflow.report.figures import BEHAVIOUR
from sentiflow.report.inputs import DatasetInputs, FigureFiles
from sentiflow.report.settings import ReportSettings
from sentiflow.report.tables import read_json, records


@dataclass(frozen=True)
class BehaviourFiles:
    """The behaviour_summary rule's outputs on a dataset."""

    failure_rates: Path
    comparisons: Path
    association: Path
    failing_cases: Path
    summary: Path
    png: Path
    pdf: Path


def read(files: BehaviourFiles | None, inputs: DatasetInputs, settings: ReportSettings) -> dict:
    """The section's part of a dataset's context (sentiflow.report.sections): `behaviour`, None where the tests did
    not run (the section is left out)."""
    return {"behaviour": collect(files, settings.failing_cases, settings.top_errors, inputs.name)}


def figures(files: BehaviourFiles | None) -> dict[str, FigureFiles]:
    """The section's figure, by its stem, where the tests ran."""
    return {BEHAVIOUR: FigureFiles(files.png, files.pdf)} if files else {}


def shown_failing_cases(table: pd.DataFrame, tests: list[str], models: list[str], count: int) -> list[dict]:
    """Per test (in suite order), its first `count` failing cases: those of the first model in `models` (the best
    encoder first) before the others', each once, with its texts as the first model failing it answered and
    `failed_by`, every model failing it."""
    shown = []
    for test in tests:
        rows = table[table["test"] == test]
        if rows.empty:
            continue
        rows = rows.assign(order=rows["model"].map({m: i for i, m in enumerate(models)})).sort_values(
            "order", kind="stable"
        )
        failed_by = rows.groupby("case", sort=False)["model"].agg(list)
        first = rows.drop_duplicates("case").head(count)
        cases = [
            row | {"failed_by": failed_by[row["case"]],
                   "original_texts": [t for t in (row["original"], row["original_b"]) if t is not None],
                   "perturbed_texts": [t for t in (row["perturbed"], row["perturbed_b"]) if t is not None]}
            for row in first.drop(columns="order").to_dict("records")
        ]  # fmt: skip
        shown.append({"test": test, "type": rows["type"].iloc[0], "cases": cases})
    return shown


FAILING_COLUMNS = [
    Column("test", "test", "category"), Column("type", "type", "category"), Column("model", "model", "category"),
    Column("kind", "kind", "category"), Column("case", "case"), Column("original_texts", "original", wide=True),
    Column("perturbed_texts", "perturbed", wide=True), Column("expected", "expected", "category"), Column("answer", "answer"),
    Column("failed", "failed in seeds", "category"),
]  # fmt: skip


def failing_table(table: pd.DataFrame, tests: list[str], models: list[str], name: str, shown: int) -> dict:
    """Every failing case of every model as a table to explore: in suite order, the best encoder's first; the
    answer is the model's at its first failing seed (original → perturbed, and the watched change of a DIR case)."""
    order = table.assign(t=table["test"].map({t: i for i, t in enumerate(tests)}),
                         m=table["model"].map({m: i for i, m in enumerate(models)}))  # fmt: skip
    rows = []
    for row in order.sort_values(["t", "m"], kind="stable").drop(columns=["t", "m"]).to_dict("records"):
        answer = str(row["predicted_original"])
        if row["predicted_perturbed"] is not None:
            answer += f" → {row['predicted_perturbed']}"
        if row["watched_change"] is not None:
            answer += f" ({row['watched_change']:+.3f})"
        rows.append(row | {
            "original_texts": [t for t in (row["original"], row["original_b"]) if t is not None],
            "perturbed_texts": [t for t in (row["perturbed"], row["perturbed_b"]) if t is not None],
            "answer": answer, "failed": f"{row['failed_seeds']}/{row['seeds']}",
        })  # fmt: skip
    return explore.table(f"{name}-behaviour-failing", FAILING_COLUMNS, rows, shown)


def collect(files: BehaviourFiles | None, failing_cases: int, shown: int = 25, name: str = "") -> dict | None:
    """The section's context for one dataset; None (no section, nothing read) where the tests did not run. The
    failing cases: `failing_cases` per test (the LaTeX report's), and every one to explore (the HTML report's,
    its first `shown` rows built when the page opens); none when `failing_cases` is 0."""
    if files is None:
        return None
    summary = read_json(files.summary)
    rates = pd.read_csv(files.failure_rates, dtype={"seed": str})
    models = [m["model"] for m in summary["models"]]
    best = summary["best_encoder"]
    order = [best, *(m for m in models if m != best)] if best else models
    failing = pd.read_csv(files.failing_cases).replace({np.nan: None})
    return {
        "summary": summary,
        # Per test, the words its perturbations replaced and put in (none for templates), most frequent first.
        "edits": [
            {"test": t["test"], "type": t["type"], "before": t["edits"]["before"], "after": t["edits"]["after"]}
            for t in summary["tests"]
            if t["edits"]["before"] or t["edits"]["after"]
        ],
        "rates": rates[rates["seed"] == "all"].replace({np.nan: None}).to_dict("records"),
        "comparisons": records(files.comparisons),
        "association": records(files.association),
        "failing": shown_failing_cases(failing, [t["test"] for t in summary["tests"]], order, failing_cases)
        if failing_cases
        else [],
        "failing_explore": failing_table(failing, [t["test"] for t in summary["tests"]], order, name, shown)
        if failing_cases
        else None,
        "stem": BEHAVIOUR,
    }
