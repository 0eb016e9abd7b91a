"""Lexical shortcuts: words whose label distribution in the training split alone would let a model guess the label.

The statistic is that of Gardner et al. (2021), "Competency Problems: On Finding and Removing Artifacts in Language
Data" (EMNLP). For a word w that occurs in n training texts (each text counted once) and a label y with prior share
p0 in the training split, p̂ is the share of those n texts labelled y and

    z = (p̂ - p0) / sqrt(p0 (1 - p0) / n),

the one-proportion z-statistic of the hypothesis that w says nothing about y. A large z means the word alone
predicts y; in a task without such artifacts no single word should (their "competency problem"). Because n grows
with frequency, a frequent word reaches a large z with a small skew: z measures the evidence, not the skew, which
is why the shares sit beside it. Words are those of `misclassified.words`, so raw and PTB-tokenised text agree.

The statistic assumes independent texts. GLUE SST-2's 67,349 training rows are not: they are the phrases of the
Stanford Sentiment Treebank's parse trees, each labelled on its own, so "bad" is counted once in a sentence, again in
each of its phrases that hold it, and n and z grow with the depth of the tree. `outermost_rows` keeps each sentence
once (a row that is part of another row is dropped): 6,882 of the 67,349 rows remain.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.feature_extraction.text import CountVectorizer

from sentiflow.nesting import nesting
from sentiflow.words import words


def outermost_rows(texts: Sequence[str]) -> np.ndarray:
    """Which texts to count: those whose words (as `words` splits them) are no contiguous part of another text's, and
    of identical texts the first (`sentiflow.nesting`). A treebank's phrases are dropped, its sentences kept."""
    return nesting(texts).outermost


def word_label_stats(texts: Sequence[str], labels: Sequence[int], n_classes: int, min_count: int) -> pd.DataFrame:
    """Per word in at least `min_count` training texts: count, share_<k> and z_<k> per label, the top label (the one
    with the largest z) and its z. Sorted by that z, strongest first."""
    labels = np.asarray(labels, dtype=int)
    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
    if len(labels) and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(f"labels must lie in 0..{n_classes - 1}")
    prior = np.bincount(labels, minlength=n_classes) / max(len(labels), 1)
    if not np.all((prior > 0) & (prior < 1)):
        absent = [k for k in range(n_classes) if prior[k] in (0, 1)]
        raise ValueError(f"the z-statistic needs every label to be neither absent nor alone; labels {absent} are not")
    # binary=True: a text counts once however often it repeats the word.
    vectorizer = CountVectorizer(tokenizer=words, lowercase=False, token_pattern=None, binary=True)
    occurs = vectorizer.fit_transform(texts)
    per_label = (occurs.T @ np.eye(n_classes)[labels]).astype(float)  # words x labels: texts with the word and label
    count = per_label.sum(1)
    keep = count >= min_count
    count, per_label = count[keep], per_label[keep]
    share = per_label / count[:, None]
    z = (share - prior) / np.sqrt(prior * (1 - prior) / count[:, None])
    table = pd.DataFrame({"word": vectorizer.get_feature_names_out()[keep], "count": count.astype(int)})
    for k in range(n_classes):
        table[f"share_{k}"], table[f"z_{k}"] = share[:, k], z[:, k]
    table["top_label"] = z.argmax(1) if len(z) else np.zeros(0, dtype=int)
    table["top_z"] = z.max(1) if len(z) else np.zeros(0)
    return table.sort_values(["top_z", "word"], ascending=[False, True]).reset_index(drop=True)


def significance_threshold(n_words: int, n_labels: int, alpha: float = 0.01) -> float:
    """The z a word must reach to be significant at `alpha` after a Bonferroni correction over every test made: each
    of the `n_words` words is tested once per label (one-sided: a shortcut is a word over-represented in a label), so
    over words x labels tests. In two classes z_0 = -z_1, and the two one-sided tests of a word are its two-sided
    test at alpha / words. Gardner et al. mark their plots with such a Bonferroni line."""
    if n_labels < 2:
        raise ValueError(f"a word is tested once per label, and there must be at least two labels, not {n_labels}")
    return float(stats.norm.isf(alpha / max(n_words * n_labels, 1)))


def is_shortcut(stats_table: pd.DataFrame, threshold: float, min_share: float) -> pd.DataFrame:
    """words x labels (columns: the label ids): is the word a shortcut toward that label, its z at least `threshold`
    and its share at least `min_share`? The one definition the shortcut table, the sentences' flags and the word
    groups share."""
    labels = labels_of(stats_table)
    z = stats_table[[f"z_{k}" for k in labels]].to_numpy()
    share = stats_table[[f"share_{k}" for k in labels]].to_numpy()
    return pd.DataFrame((z >= threshold) & (share >= min_share), index=stats_table["word"], columns=labels)


def labels_of(stats_table: pd.DataFrame) -> list[int]:
    return [int(c.removeprefix("z_")) for c in stats_table.columns if c.startswith("z_")]


def strongest(stats_table: pd.DataFrame, labels: Sequence[str] | None = None, per_label: int | None = None,
              threshold: float = -np.inf, min_share: float = 0.0) -> pd.DataFrame:  # fmt: skip
    """Per label, the words with z at least `threshold` and share at least `min_share` toward it, largest z first
    (ties by word), the first `per_label` of them (None: all): label (its name in `labels`, else its id), rank,
    word, count, share, z."""
    rows = []
    for k in labels_of(stats_table):
        strong = stats_table[(stats_table[f"z_{k}"] >= threshold) & (stats_table[f"share_{k}"] >= min_share)]
        top = strong.sort_values([f"z_{k}", "word"], ascending=[False, True]).head(per_label)
        for rank, (_, row) in enumerate(top.iterrows(), start=1):
            rows.append({"label": k if labels is None else labels[k], "rank": rank, "word": row["word"],
                         "count": int(row["count"]), "share": row[f"share_{k}"], "z": row[f"z_{k}"]})  # fmt: skip
    return pd.DataFrame(rows, columns=["label", "rank", "word", "count", "share", "z"])


def shortcut_against_gold(
    texts: Sequence[str], gold: Sequence[int], stats_table: pd.DataFrame, threshold: float, min_share: float = 0.0
) -> pd.DataFrame:
    """Per sentence: does it contain a word whose z toward some label other than its gold label is ≥ `threshold`
    (and whose share of that label is ≥ `min_share`)?

    With z alone, frequent function words qualify: on SST-2 ("it", "and", "." reach z 7-11 on a skew of a few
    points) nearly every sentence would be flagged, so `min_share` asks for a skew large enough to guess from.

    Columns: shortcut_against_gold (bool, a cue column for `misclassified.failure_modes`), shortcut_words (those
    words, strongest first, "; "-joined) and shortcut_z (the largest such z; NaN when none).
    """
    if len(texts) != len(gold):
        raise ValueError(f"{len(texts)} texts but {len(gold)} gold labels")
    labels = labels_of(stats_table)
    table = stats_table.set_index("word")
    z = table[[f"z_{k}" for k in labels]].to_numpy()
    # A word counts toward a label only where both its z and its share are high enough.
    strong = np.where(table[[f"share_{k}" for k in labels]].to_numpy() >= min_share, z, -np.inf)
    lookup = dict(zip(table.index, strong))
    rows = []
    for text, label in zip(texts, gold):
        found = {}
        for word in dict.fromkeys(words(text)):
            if word in lookup:
                against = max((lookup[word][i] for i, k in enumerate(labels) if k != label), default=-np.inf)
                if against >= threshold:
                    found[word] = float(against)
        ranked = sorted(found, key=found.get, reverse=True)
        rows.append({
            "shortcut_against_gold": bool(found), "shortcut_words": "; ".join(ranked),
            "shortcut_z": max(found.values()) if found else np.nan,
        })  # fmt: skip
    return pd.DataFrame(rows, columns=["shortcut_against_gold", "shortcut_words", "shortcut_z"])


def word_groups(
    stats_table: pd.DataFrame, groups: dict[str, Sequence[str]], threshold: float, min_share: float = 0.0
) -> pd.DataFrame:
    """Per configured word group (genres, names, ...): which of its words the table holds (they met min_count), how
    many are shortcuts (toward some label: z at least `threshold` and share at least `min_share`, as in the shortcut
    table), the mean of each word's largest |z|, and the strongest word with the label it leans toward (its largest
    z) and that z. Multi-word entries cannot be found: the statistic is per word."""
    labels = labels_of(stats_table)
    z = stats_table.set_index("word")[[f"z_{k}" for k in labels]]
    shortcut = is_shortcut(stats_table, threshold, min_share).any(axis=1)
    rows = []
    for group, entries in groups.items():
        wanted = list(dict.fromkeys(" ".join(words(e)) for e in entries))
        found = [w for w in wanted if w in z.index]
        strength = z.loc[found].abs().max(axis=1)
        shortcuts = strength[shortcut.loc[found]]
        best = strength.idxmax() if found else None
        # The label it leans toward: in two classes z_0 = -z_1, so |z| alone cannot say which.
        best_label = int(labels[int(np.argmax(z.loc[best].to_numpy()))]) if found else None
        rows.append({
            "group": group, "configured": len(wanted), "found": len(found), "found_words": "; ".join(found),
            "shortcuts": len(shortcuts), "shortcut_words": "; ".join(shortcuts.sort_values(ascending=False).index),
            "mean_abs_z": float(strength.mean()) if found else np.nan, "strongest": best,
            "strongest_label": best_label, "strongest_z": float(z.loc[best, f"z_{best_label}"]) if found else np.nan,
        })  # fmt: skip
    return pd.DataFrame(rows)
