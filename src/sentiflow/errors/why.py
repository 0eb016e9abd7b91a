"""Why errors happen, measured per validation sentence for the failure-mode table and the error tables.

The study named four failure modes from twenty errors it read. Three are measured here, beside the cue families:
a lexical shortcut against the gold label (a word of the training split that predicts another label by itself,
`shortcuts`) and mixed tone (clearly positive and clearly negative words together, `polarity`). The fourth,
over-confidence, is `misclassified.overconfidence`; the words behind each error are the `attribute` rule's. A gold
label that is wrong is the `label_issues` rule's (`label_check`): it needs the LLM witnesses, which run later.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from sentiflow.data import PAIR, TEXT, is_pair
from sentiflow.errors import polarity, shortcuts

FLAG_COLUMNS = ["shortcut_against_gold", "mixed_polarity"]  # failure-mode families beside the cue lexicons
GROUP_COLUMNS = ["group", "configured", "found", "found_words", "shortcuts", "shortcut_words", "mean_abs_z",
                 "strongest", "strongest_label", "strongest_z"]  # fmt: skip


@dataclass
class Findings:
    flags: pd.DataFrame  # per validation sentence: the two families and shortcut_words
    shortcut_words: pd.DataFrame  # every word that counts as a shortcut, per label, strongest first
    word_groups: pd.DataFrame  # the configured groups (genre words, names): found, shortcuts, strongest
    summary: dict


def joined(split: pd.DataFrame) -> list[str]:
    """A sentence, or a pair's two texts as one: a shortcut word or a polar word counts in either text."""
    if is_pair(split):
        return (split[TEXT] + " " + split[PAIR]).tolist()
    return split[TEXT].tolist()


def find(validation: pd.DataFrame, train: pd.DataFrame, labels: Sequence[str], settings: dict, tone: dict) -> Findings:
    """Shortcut words from `train` and the families of `validation` (both in index order), with the settings
    analysis.shortcuts and analysis.mixed_polarity."""
    # Each sentence once: a treebank's phrases (SST-2's rows) would count its words again and again.
    counted = train[shortcuts.outermost_rows(joined(train))]
    stats = shortcuts.word_label_stats(joined(counted), counted["label"].to_numpy(), len(labels), settings["min_count"])
    threshold = shortcuts.significance_threshold(len(stats), len(labels), settings["alpha"])
    gold = validation["label"].to_numpy()
    against = shortcuts.shortcut_against_gold(joined(validation), gold, stats, threshold, settings["min_share"])
    mixed = polarity.mixed_polarity(joined(validation), tone["positive"], tone["negative"], tone["ignore"])
    flags = pd.concat([against, mixed[["mixed_polarity"]]], axis=1)
    # Every (word, label) that counts as a shortcut: z at least the threshold and share at least min_share.
    words = shortcuts.strongest(stats, labels, threshold=threshold, min_share=settings["min_share"])
    groups = shortcuts.word_groups(stats, settings["groups"], threshold, settings["min_share"])
    summary = {
        "shortcuts": {"training_rows": len(train), "rows_counted": len(counted), "words_tested": len(stats),
                      "tests": len(stats) * len(labels), "z_threshold": threshold, "min_count": settings["min_count"],
                      "min_share": settings["min_share"], "alpha": settings["alpha"], "shortcut_words": len(words),
                      "sentences_against_gold": int(against["shortcut_against_gold"].sum())},
        "mixed_polarity": {"sentences": int(mixed["mixed_polarity"].sum()), "thresholds": [tone["positive"], -tone["negative"]]},
    }  # fmt: skip
    return Findings(flags, words, groups.reindex(columns=GROUP_COLUMNS), summary)
