"""The report's "Comparison with instruction LLMs" section: every finished LLM entry's comparison and cascade on a
dataset side by side, the entries that did not finish, and the hard cases with every answer."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sentiflow.data import PAIR
from sentiflow.llm.compare import fix_counts
from sentiflow.report import explore
from sentiflow.report.explore import Column
from sentiflow.report.figures import cascade_stem
from sentiflow.report.inputs import DatasetInputs, FigureFiles
from sentiflow.report.settings import ReportSettings
from sentiflow.report.tables import read_json, with_texts
from sentiflow.report.why import confirmed_indices


@dataclass(frozen=True)
class LLMFiles:
    """One LLM entry's comparison on a dataset, and its cascade when the cascade is enabled."""

    summary: Path
    table: Path
    cascade_summary: Path | None = None
    cascade_png: Path | None = None
    cascade_pdf: Path | None = None


def read(files: dict[str, LLMFiles], inputs: DatasetInputs, settings: ReportSettings) -> dict:
    """The section's part of a dataset's context (sentiflow.report.sections): `llm` (the finished entries),
    `llm_missing` and `llm_hard_cases`; the entries' fixes and breaks are counted again on the confirmed label issues."""
    configured = settings.datasets[inputs.name].llm_models
    return llm_section(files, configured, settings.top_errors, confirmed_indices(inputs.label_issues), inputs.name)


def figures(files: dict[str, LLMFiles]) -> dict[str, FigureFiles]:
    """Every entry's cascade figure, by its stem, where the cascade ran."""
    return {
        cascade_stem(entry): FigureFiles(entry_files.cascade_png, entry_files.cascade_pdf)
        for entry, entry_files in files.items()
        if entry_files.cascade_png
    }


def llm_entry(entry: str, files: LLMFiles, table: pd.DataFrame, top_errors: int, confirmed: set) -> dict:
    """One LLM entry's comparison (and cascade): its summary, with what it fixes and breaks counted again on the
    `confirmed` label issues (there a "fix" may be the LLM agreeing with a wrong label), and its first `top_errors`
    hard cases."""
    answers = read_json(files.summary)
    on_issues = table["index"].isin(confirmed).to_numpy()
    for backbone, counts in answers["backbones"].items():
        right = table[f"{backbone}_predicted"] == table["gold"]
        counts |= fix_counts(right[on_issues], table.loc[on_issues, "llm_correct"], "_on_label_issues")
    groups = {name: answers["groups"].get(name, {}).get("llm_accuracy") for name in ("error", "control")}
    return {
        "name": entry,
        "summary": answers,
        "hard_cases": with_texts(table[table["group"] == "error"].head(top_errors)),
        "cascade": read_json(files.cascade_summary) if files.cascade_summary else None,
        "stem": cascade_stem(entry),
        "errors_accuracy": groups["error"],
        "control_accuracy": groups["control"],
    }


def hard_cases(first: list[dict], tables: dict[str, pd.DataFrame]) -> list[dict]:
    """The hard cases once, with every entry's answer and its probability of the gold label beside the encoders'
    (the error set does not depend on the entry)."""
    answers = {entry: table.set_index("index") for entry, table in tables.items()}
    cases = []
    for case in first:
        index, gold = case["index"], case["gold"]
        llm = {
            entry: (table.loc[index, "llm_predicted"], table.loc[index, f"llm_prob_{gold}"])
            if index in table.index
            else ("–", None)
            for entry, table in answers.items()
        }
        cases.append(dict(case) | {"llm": llm})
    return cases


def hard_table(tables: dict[str, pd.DataFrame], name: str, shown: int) -> dict | None:
    """Every hard case (a sentence some run group got wrong, asked of the LLM entries) as a table to explore: the
    run groups' majority answers and every entry's answer with its probability of the gold label."""
    if not tables:
        return None
    first = next(iter(tables.values()))
    groups = [c.removesuffix("_predicted") for c in first.columns if c.endswith("_predicted") and c != "llm_predicted"]
    columns = [Column("index", "index", "number", 0),
               Column("texts", "sentence pair (first ⟶ second)" if PAIR in first else "sentence", wide=True),
               Column("gold", "gold", "category"), *(Column(f"{g}_predicted", g, "category") for g in groups)]  # fmt: skip
    for entry in tables:
        columns += [Column(f"llm:{entry}", entry, "category"), Column(f"p:{entry}", f"{entry} p(gold)", "number", 3)]
    cases = hard_cases(with_texts(first[first["group"] == "error"]), tables)
    rows = [case | {key: value for entry, (answer, p) in case["llm"].items()
                    for key, value in ((f"llm:{entry}", answer), (f"p:{entry}", p))} for case in cases]  # fmt: skip
    return explore.table(f"{name}-llm-hard", columns, rows, shown)


def llm_section(files: dict[str, LLMFiles], configured: list[str], top_errors: int, confirmed: set, name: str = ""
                ) -> dict:  # fmt: skip
    """The finished LLM entries, the configured ones that did not finish, and the hard cases with every answer (the
    first `top_errors`, and all of them to explore)."""
    tables = {entry: pd.read_csv(entry_files.table) for entry, entry_files in files.items()}
    entries = [llm_entry(entry, files[entry], tables[entry], top_errors, confirmed) for entry in files]
    return {
        "llm": entries,
        "llm_missing": [entry for entry in configured if entry not in files],
        "llm_hard_cases": hard_cases(entries[0]["hard_cases"], tables) if entries else [],
        "llm_hard_explore": hard_table(tables, name, top_errors),
    }
