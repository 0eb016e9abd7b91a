"""The report's "Why errors happen" section: coloured attributions, the deletion test, shortcut words, label issues.

Everything here is read from the misclassified, attribute and label_issues rules' outputs and shaped for both templates; the
templates escape every word from the data (HTML autoescaping, `tex` in LaTeX), the colours are computed here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sentiflow.data import PAIR, TEXT_FIELDS
from sentiflow.report import explore
from sentiflow.report.explore import Column
from sentiflow.report.inputs import DatasetInputs
from sentiflow.report.settings import ReportSettings
from sentiflow.report.tables import read_json, records

# Red pushes toward the (wrong) predicted class, blue away from it; the strongest word of a sentence is at full colour.
TOWARD, AWAY = (214, 39, 40), (31, 119, 180)
MAX_ALPHA = 0.6  # the strongest word's background opacity: the text stays readable on it
# The deletion test's measures (attribution.MEASURES) as the table names them.
MEASURE_NAMES = {"comprehensiveness": "comprehensiveness", "sufficiency": "sufficiency",
                 "turned_to_gold": "turned to gold (share)", "turned_away": "turned away (share)"}  # fmt: skip


@dataclass(frozen=True)
class AttributionFiles:
    """One run group's outputs of the attribute rule."""

    summary: Path
    words: Path
    sentences: Path
    deletion: Path


@dataclass(frozen=True)
class WhyFiles:
    """The misclassified rule's why summary, shortcut words and word groups, and the attribute rule's outputs per
    attributed run group, in the configured order (none where attribution is off)."""

    summary: Path
    shortcut_words: Path
    word_groups: Path
    attribution: list[AttributionFiles]


def read(files: WhyFiles, inputs: DatasetInputs, settings: ReportSettings) -> dict:
    """The section's part of a dataset's context (sentiflow.report.sections): `why`, with the dataset's label issues."""
    misclassified = pd.read_csv(inputs.misclassified)
    return {"why": collect(files, inputs, misclassified, read_json(inputs.data_card)["labels"], settings)}


def coloured(words: pd.DataFrame, texts: Sequence[str]) -> list[list[dict]]:
    """A sentence's texts (one, or two for a pair) as written, cut at its words' character offsets: each attributed
    word (`text`, as the words table has it) with its mean score over seeds and the colour that shows it (`rgb` for
    HTML, `tex` an xcolor expression for LaTeX), and between the words the text itself (`score` None), uncoloured.
    So "o'fallon" and "--" read as the text has them, and a truncated text's lost end is shown uncoloured."""
    mean = words.groupby(["field", "start", "end", "word"], as_index=False)["score_predicted"].mean()
    strongest = float(mean["score_predicted"].abs().max()) or 1.0
    fields = []
    for number, text in enumerate(texts):
        shown, at = [], 0
        for start, end, word, score in mean.loc[mean["field"] == number, ["start", "end", "word", "score_predicted"]
                                                ].sort_values("start").itertuples(index=False):  # fmt: skip
            if start > at:
                shown.append({"text": text[at:start], "score": None})
            strength = abs(score) / strongest
            colour, name = (TOWARD, "red") if score > 0 else (AWAY, "blue")
            shown.append({"text": word, "score": float(score), "rgb": f"rgba({colour[0]},{colour[1]},{colour[2]},{MAX_ALPHA * strength:.2f})",
                          "tex": f"{name}!{round(100 * MAX_ALPHA * strength)}"})  # fmt: skip
            at = max(at, int(end))
        if at < len(text):
            shown.append({"text": text[at:], "score": None})
        fields.append(shown)
    return fields


def collect_group(files: AttributionFiles, misclassified: pd.DataFrame, count: int, confirmed: set) -> dict:
    """One run group's attribution: convergence, the shortcut share of its errors, the deletion test, and its
    `count` most confident attributed errors coloured word by word (tagged when their label issue is `confirmed`)."""
    summary = read_json(files.summary)
    words = pd.read_parquet(files.words)
    sentences = pd.read_csv(files.sentences)
    errors = misclassified[misclassified["backbone"] == summary["run_group"]]
    attributed = set(sentences.loc[sentences["error"].astype(bool), "index"])
    shown = errors[errors["index"].isin(attributed)].sort_values("confidence", ascending=False).head(count)
    by_index = dict(tuple(words.groupby("index")))
    top = sentences.set_index("index")
    text_columns = [column for column in ("sentence", PAIR) if column in errors.columns]
    return summary | {
        "deletion": [row | {"name": MEASURE_NAMES[row["measure"]]}
                     for row in pd.read_csv(files.deletion).to_dict("records")],
        "errors_shown": [
            {"index": int(row["index"]), "gold": row["gold"], "predicted": row["predicted"],
             "confidence": row["confidence"], "fields": coloured(by_index[row["index"]], [row[c] for c in text_columns]),
             "top_words": top.loc[row["index"], "top_words"], "label_issue": int(row["index"]) in confirmed}
            for _, row in shown.iterrows()
        ],
    }  # fmt: skip


def collect(
    files: WhyFiles, inputs: DatasetInputs, misclassified: pd.DataFrame, labels: list[str], settings: ReportSettings
) -> dict:
    """The section's context for one dataset."""
    why = read_json(files.summary)
    words = pd.read_csv(files.shortcut_words)
    issues = label_issue_section(inputs, settings.top_errors)
    count = settings.attributed_errors
    return {
        "shortcuts": why["shortcuts"]
        | {"by_label": {label: words[words["label"] == label].head(settings.shortcut_words).to_dict("records")
                        for label in labels},
           "groups": records(files.word_groups)},
        "mixed_polarity": why["mixed_polarity"],
        "label_issues": issues,
        "attribution": [collect_group(group, misclassified, count, set(issues["confirmed_index"]))
                        for group in files.attribution],
    }  # fmt: skip


def confirmed_indices(path) -> set[int]:
    """The validation indices of the confirmed label issues in a label_issues.csv (never the disputed ones)."""
    table = pd.read_csv(path)
    return set(table.loc[table["status"] == "confirmed", "index"].astype(int))


# The label-issue tables' ids (after the dataset's name) per status, as the HTML report's reader explores them.
LABEL_TABLES = {"confirmed": "label-issues", "disputed": "label-disputed", "candidate": "label-candidates"}


# What a label-issue table says when it has no row.
LABEL_EMPTY = {"confirmed": "No label issue is confirmed", "disputed": "No label issue is disputed",
               "candidate": "No other candidate"}  # fmt: skip


def label_table(rows: list[dict], status: str, name: str, header: str, shown: int, note: str | None = None) -> dict:
    """One status's label issues as a table to explore, least self-confident first."""
    last = (Column("flagged", "flagged by", "category") if status == "candidate"
            else Column("p_gold_wrong", "P(gold wrong)", "number", 3))  # fmt: skip
    columns = [Column("index", "index", "number", 0), Column("texts", header, wide=True), Column("gold", "gold", "category"),
               Column("suggested", "suggested", "category"), Column("self_confidence", "p(gold)", "number", 3),
               Column("witness_prob_suggested", "witness p(suggested)", "number", 3), last]  # fmt: skip
    flagged = [row | {"flagged": "; ".join(filter(None, [row["flagged_by"], "pooled" if row["flagged_pooled"] else ""]))}
               for row in rows]  # fmt: skip
    empty = LABEL_EMPTY[status] + (f": {note}." if note and status == "confirmed" else ".")
    return explore.table(f"{name}-{LABEL_TABLES[status]}", columns, flagged, shown, empty)


def label_issue_section(inputs: DatasetInputs, top: int) -> dict:
    """The label issues rule's summary and its first `top` confirmed issues, disputed ones and other candidates (all
    of them, to explore, in the HTML report)."""
    summary = read_json(inputs.label_summary)
    table = pd.read_csv(inputs.label_issues).fillna({"flagged_by": ""})
    header = "sentence pair (first ⟶ second)" if PAIR in table else "sentence"
    every = {status: [row | {"texts": [row[c] for c in TEXT_FIELDS if c in row]}
                      for row in table[table["status"] == status].to_dict("records")]
             for status in ("confirmed", "disputed", "candidate")}  # fmt: skip
    return summary | {
        "confirmed_rows": every["confirmed"][:top],
        "disputed_rows": every["disputed"][:top],
        "candidate_rows": every["candidate"][:top],
        "explore": {
            status: label_table(rows, status, inputs.name, header, top, summary.get("note"))
            for status, rows in every.items()
        },
        "confirmed_index": sorted(confirmed_indices(inputs.label_issues)),
    }
