"""Why errors happen, measured per validation sentence for the failure-mode table and the error tables.

The study named four failure modes from twenty errors it read. Three are measured here, beside the cue families:
a lexical shortcut against the gold label (a word of the training split that predicts another label by itself,
`shortcuts`), mixed tone (clearly positive and clearly negative words together, `polarity`), and a gold label that
is likely wrong (`label_issues`): such a sentence is no model error, and the report keeps it apart. The fourth,
over-confidence, is `misclassified.overconfidence`; the words behind each error are the `attribute` rule's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sentiflow.analysis.runs import RunSet
from sentiflow.data import PAIR, TEXT, is_pair, text_fields
from sentiflow.errors import label_issues, polarity, shortcuts

FLAG_COLUMNS = ["shortcut_against_gold", "mixed_polarity"]  # failure-mode families beside the cue lexicons
GROUP_COLUMNS = ["group", "configured", "found", "found_words", "shortcuts", "shortcut_words", "mean_abs_z",
                 "strongest", "strongest_label", "strongest_z"]  # fmt: skip


@dataclass
class Findings:
    flags: pd.DataFrame  # per validation sentence: the two families, shortcut_words, label_issue, label_issue_by
    shortcut_words: pd.DataFrame  # every word that counts as a shortcut, per label, strongest first
    word_groups: pd.DataFrame  # the configured groups (genre words, names): found, shortcuts, strongest
    issues: pd.DataFrame  # the label issues, with the texts
    sensitivity: pd.DataFrame  # accuracy with and without the flagged sentences, per run group
    summary: dict


def joined(split: pd.DataFrame) -> list[str]:
    """A sentence, or a pair's two texts as one: a shortcut word or a polar word counts in either text."""
    if is_pair(split):
        return (split[TEXT] + " " + split[PAIR]).tolist()
    return split[TEXT].tolist()


def find(
    runs: RunSet, validation: pd.DataFrame, train: pd.DataFrame, labels: Sequence[str], settings: dict, tone: dict,
    issue_settings: dict,
) -> Findings:  # fmt: skip
    """Shortcut words from `train`, the families and label issues of `validation` (both in index order), with the
    settings analysis.shortcuts, analysis.mixed_polarity and analysis.label_issues."""
    # Each sentence once: a treebank's phrases (SST-2's rows) would count its words again and again.
    counted = train[shortcuts.outermost_rows(joined(train))]
    stats = shortcuts.word_label_stats(joined(counted), counted["label"].to_numpy(), len(labels), settings["min_count"])
    threshold = shortcuts.significance_threshold(len(stats), len(labels), settings["alpha"])
    gold = validation["label"].to_numpy()
    against = shortcuts.shortcut_against_gold(joined(validation), gold, stats, threshold, settings["min_share"])
    mixed = polarity.mixed_polarity(joined(validation), tone["positive"], tone["negative"], tone["ignore"])
    flags = pd.concat([against, mixed[["mixed_polarity"]]], axis=1)
    issues, sensitivity, issue_note = label_issue_tables(runs, validation, labels, issue_settings)
    flags["label_issue"] = validation["index"].isin(issues["index"]).to_numpy()
    flags["label_issue_by"] = validation["index"].map(dict(zip(issues["index"], issues["flagged_by"]))).fillna("")
    # Every (word, label) that counts as a shortcut: z at least the threshold and share at least min_share.
    words = shortcuts.strongest(stats, labels, threshold=threshold, min_share=settings["min_share"])
    groups = shortcuts.word_groups(stats, settings["groups"], threshold, settings["min_share"])
    summary = {
        "shortcuts": {"training_rows": len(train), "rows_counted": len(counted), "words_tested": len(stats),
                      "tests": len(stats) * len(labels), "z_threshold": threshold, "min_count": settings["min_count"],
                      "min_share": settings["min_share"], "alpha": settings["alpha"], "shortcut_words": len(words),
                      "sentences_against_gold": int(against["shortcut_against_gold"].sum())},
        "mixed_polarity": {"sentences": int(mixed["mixed_polarity"].sum()), "thresholds": [tone["positive"], -tone["negative"]]},
        "label_issues": {"flagged": len(issues), "note": issue_note},
    }  # fmt: skip
    return Findings(flags, words, groups.reindex(columns=GROUP_COLUMNS), issues, sensitivity, summary)


def label_issue_tables(runs: RunSet, validation: pd.DataFrame, labels: Sequence[str], settings: dict):
    """cleanlab's label issues on the run groups' seed-mean probabilities (each group and pooled), with the texts,
    and the accuracy of each group with and without them; an empty table and the reason where none can be run."""
    columns = ["index", *text_fields(validation), "gold", "suggested",
               "self_confidence", "flagged_pooled", "flagged_by"]  # fmt: skip
    empty = pd.DataFrame(columns=columns)
    if not settings["enabled"]:
        return empty, pd.DataFrame(), "analysis.label_issues.enabled is false"
    gold = validation["label"].to_numpy()
    try:
        found = label_issues.find_issues(gold, {label: group.mean_probs() for label, group in runs.groups.items()})
    except ValueError as err:  # a class absent from validation: cleanlab's estimate needs every class
        return empty, pd.DataFrame(), str(err)
    table = validation.iloc[found["position"].to_numpy()].reset_index(drop=True)
    table = table.drop(columns="label").assign(
        gold=[labels[k] for k in found["gold"]], suggested=[labels[k] for k in found["suggested"]],
        self_confidence=found["self_confidence"].to_numpy(), flagged_pooled=found["flagged_pooled"].to_numpy(),
        flagged_by=found["flagged_by"].to_numpy(),
    )  # fmt: skip
    flagged = np.isin(np.arange(len(validation)), found["position"])
    correct = {label: 1 - group.wrong_in_seeds() / len(group.runs) for label, group in runs.groups.items()}
    return table[columns], label_issues.sensitivity(correct, flagged), None
