"""Rows that are parts of other rows: a treebank's phrases inside its sentences.

GLUE SST-2's 67,349 training rows are the Stanford Sentiment Treebank's sentences together with their labelled
phrases, each phrase a row of its own: only 6,882 rows are no contiguous part of another row. Whatever counts such
rows (the shortcut statistic counts each sentence once) or splits them (the holdout that chooses the epoch, a
training subsample) must see the nesting, or a held-out phrase sits inside a training sentence and a held-out
sentence's own phrases stay in training.

A row is *inside* another when its words (as `sentiflow.words` splits them: lower-cased, "n't" apart) are a
contiguous run of the other's words; of identical rows the first is the outer one. An *outermost* row is inside no
other row. Each row's *containers* are the outermost rows it is inside (an outermost row is its own container): a
sentence and all its phrases share one container; a phrase such as "the film" has many.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sentiflow.words import words


@dataclass(frozen=True)
class Nesting:
    outermost: np.ndarray  # bool per row: inside no other row
    containers: list[np.ndarray]  # per row, the outermost rows it is inside, ascending (itself when outermost)

    def groups(self) -> tuple[np.ndarray, dict[int, list[int]]]:
        """The outermost rows, ascending, and the rows inside each (itself first among them when it comes first)."""
        outer = np.flatnonzero(self.outermost)
        members: dict[int, list[int]] = {int(group): [] for group in outer}
        for row, groups in enumerate(self.containers):
            for group in groups:
                members[int(group)].append(row)
        return outer, members

    def group_sizes(self) -> np.ndarray:
        """Rows per outermost row: itself and every row inside it."""
        sizes = np.zeros(len(self.outermost), dtype=np.int64)
        for held in self.containers:
            sizes[held] += 1
        return sizes[self.outermost]


def word_key(text: str) -> str:
    """The text's words joined by single spaces, with a space at each end, so that containment of keys is
    containment of whole words ("end" is not inside "the ending")."""
    return " " + " ".join(words(text)) + " "


def nesting(texts: Sequence[str]) -> Nesting:
    """Which texts are outermost, and the outermost texts each text is inside.

    Decided by hashing rather than by comparing every pair: longest texts first, a text is outermost unless it is
    one of the word runs of an outermost text seen before it (a text inside a text that is not outermost is inside
    that text's container too), and only runs that are themselves some text are remembered. Time grows with the
    square of an outermost text's length, not with the number of texts: about 2 s for SST-2's 67,349 rows."""
    keys = [word_key(text) for text in texts]
    rows_of: dict[str, list[int]] = {}
    for row, key in enumerate(keys):
        rows_of.setdefault(key, []).append(row)
    inside: set[str] = set()
    outermost = np.zeros(len(keys), dtype=bool)
    held: list[list[int]] = [[] for _ in keys]
    for row in sorted(range(len(keys)), key=lambda i: -len(keys[i])):  # stable: of identical texts the first
        key = keys[row]
        if key in inside:
            continue
        outermost[row] = True
        runs = word_runs(key) & rows_of.keys()
        for run in runs:
            for member in rows_of[run]:
                held[member].append(row)
        inside |= runs
    return Nesting(outermost, [np.sort(np.asarray(rows, dtype=np.int64)) for rows in held])


def twins(keys: Sequence) -> Nesting:
    """The nesting of items that can only be equal, not part of one another (sentence pairs, compared whole): each
    item is inside the first item equal to it."""
    first: dict = {}
    containers = [np.array([first.setdefault(key, row)], dtype=np.int64) for row, key in enumerate(keys)]
    outermost = np.array([held[0] == row for row, held in enumerate(containers)], dtype=bool)
    return Nesting(outermost, containers)


def word_runs(key: str) -> set[str]:
    """Every contiguous run of a key's words, as a key (the key itself among them)."""
    cuts = [i for i, char in enumerate(key) if char == " "]
    return {key[start : end + 1] for a, start in enumerate(cuts[:-1]) for end in cuts[a + 1 :]}


def inside_any(inner: Sequence[str], outer: Sequence[str]) -> np.ndarray:
    """Per text of `inner`: whether it is part of (or equal to) some text of `outer`. Only the outermost texts of
    `outer` are searched: a run of a text inside another is a run of that other too."""
    wanted = {word_key(text) for text in inner}
    found: set[str] = set()
    for text, top in zip(outer, nesting(outer).outermost):
        if top:
            found |= word_runs(word_key(text)) & wanted
    return np.array([word_key(text) in found for text in inner], dtype=bool)
