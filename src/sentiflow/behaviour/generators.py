"""The generators that make a test's cases: MFT templates, and perturbations of validation sentences.

A generator takes the test's settings (`spec`), the `Context` of the dataset, the case budget and a seeded random
generator, and returns cases as dicts of `source`, `cluster`, `texts` and `texts_b` (the second texts of a pair,
else None); `suite` adds what every case of a test shares. A perturbation that matches no sentence gives no case:
an empty test, not an error. Perturbations change every text of a pair alike (the same name for the same name).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from vaderSentiment.vaderSentiment import BOOSTER_DICT, NEGATE

from sentiflow.behaviour.lexicons import Style, lexicon, styled
from sentiflow.config import PLACEHOLDER
from sentiflow.data import PAIR, TEXT
from sentiflow.errors.polarity import lexicon as vader_lexicon

TEMPLATE_ATTEMPTS = 20  # draws per wanted case before a template set is taken to be exhausted
STRUCTURAL_SLOT = "structural_words"  # words that change a sentence's meaning by grammar: never deleted as shortcuts
# (expanded form, contracted stem, clitic): "is not" <-> "isn't" (PTB "is n't"), both ways.
CONTRACTIONS = [
    (f"{verb} not", verb, "n't")
    for verb in ("is", "are", "was", "were", "do", "does", "did", "has", "have", "had", "would", "could", "should")
] + [("can not", "ca", "n't"), ("cannot", "ca", "n't"), ("will not", "wo", "n't"), ("i am", "i", "'m"),
     ("you are", "you", "'re"), ("we are", "we", "'re"), ("they are", "they", "'re")]  # fmt: skip


@dataclass
class Context:
    """What a dataset gives its tests: validation in index order, labels' polarity, shortcut words, lexicons."""

    validation: pd.DataFrame
    labels: Sequence[str]
    polarity: Mapping[str, str | None]
    style: Style
    lexicon_overrides: Mapping[str, Sequence[str]] = field(default_factory=dict)
    shortcut_words: Sequence[str] = ()

    def words(self, slot: str) -> list[str]:
        return lexicon(slot, self.lexicon_overrides)

    def sources(self, polarities: Sequence[str] | None) -> pd.DataFrame:
        """The validation rows whose gold label has one of `polarities` (all rows for None)."""
        if not polarities:
            return self.validation
        wanted = [i for i, label in enumerate(self.labels) if self.polarity.get(label) in polarities]
        return self.validation[self.validation["label"].isin(wanted)]


def templates(spec: dict, context: Context, budget: int, rng: np.random.Generator) -> list[dict]:
    """Templates filled from their slots, drawn in turn so every template is used; a text is made once."""
    found: dict[str, int] = {}
    for attempt in range(TEMPLATE_ATTEMPTS * budget):
        if len(found) >= budget:
            break
        which = attempt % len(spec["templates"])
        text = styled(fill(spec["templates"][which], context, rng), context.style)
        found.setdefault(text, which)
    return [
        {"source": f"template:{template_id(spec, which)}", "cluster": template_id(spec, which), "texts": [text],
         "texts_b": None}
        for text, which in found.items()
    ]  # fmt: skip


def template_id(spec: dict, which: int) -> str:
    return f"{spec['name']}/t{which}"


def fill(template: str, context: Context, rng: np.random.Generator) -> str:
    """The template with each placeholder replaced: `{slot}`, `{slot2}` ... distinct words of one slot."""
    chosen: dict[tuple[str, str], str] = {}

    def word(match: re.Match) -> str:
        slot, number = match.group(1), match.group(2)
        if (slot, number) not in chosen:
            taken = {w for (s, _), w in chosen.items() if s == slot}
            pool = [w for w in context.words(slot) if w not in taken] or context.words(slot)
            chosen[slot, number] = pool[int(rng.integers(len(pool)))]
        return chosen[slot, number]

    return PLACEHOLDER.sub(word, template)


def sample_rows(rows: pd.DataFrame, budget: int, rng: np.random.Generator) -> pd.DataFrame:
    """At most `budget` rows, a seeded sample, in index order."""
    if len(rows) > budget:
        rows = rows.iloc[np.sort(rng.choice(len(rows), budget, replace=False))]
    return rows


def texts_of(row) -> list[str]:
    return [row[TEXT], row[PAIR]] if PAIR in row else [row[TEXT]]


def perturbation_cases(rows: pd.DataFrame, perturb: Callable[[list[str], int], list[list[str]]], budget: int,
                       rng: np.random.Generator) -> list[dict]:  # fmt: skip
    """Cases of the rows `perturb` changes: each row's texts, then its distinct perturbed versions (a list of
    texts each, one per text of the row); rows it leaves alone are skipped before the budget's sample."""
    made = []
    for _, row in rows.iterrows():
        original = texts_of(row)
        versions = [v for v in dict.fromkeys(map(tuple, perturb(original, int(row["index"])))) if list(v) != original]
        if versions:
            made.append((int(row["index"]), [tuple(original), *versions]))
    if len(made) > budget:
        made = [made[i] for i in np.sort(rng.choice(len(made), budget, replace=False))]
    return [
        {"source": f"validation:{index}", "cluster": f"validation:{index}", "texts": [v[0] for v in versions],
         "texts_b": [v[1] for v in versions] if len(versions[0]) > 1 else None}
        for index, versions in made
    ]  # fmt: skip


def append_tail(spec: dict, context: Context, budget: int, rng: np.random.Generator) -> list[dict]:
    """Each source sentence with a tail clause from the slots appended (", if you enjoy being bored.")."""
    tails = [tail for slot in spec["slots"] for tail in context.words(slot)]
    count = min(spec["perturbations"], len(tails))
    rows = sample_rows(context.sources(spec.get("sources")), budget, rng)

    def perturb(texts: list[str], index: int) -> list[list[str]]:
        body = re.sub(r"[\s.!?;:,]+$", "", texts[0])
        return [[body + styled(f", {tails[i]}.", context.style)] for i in rng.choice(len(tails), count, replace=False)]

    return perturbation_cases(rows, perturb, budget, rng)


def word_pattern(words_: Sequence[str]) -> re.Pattern | None:
    if not words_:
        return None
    alternatives = "|".join(re.escape(w) for w in sorted(set(words_), key=len, reverse=True))
    return re.compile(rf"(?<![\w'])({alternatives})(?![\w'])", re.IGNORECASE)


def same_case(replacement: str, original: str) -> str:
    if original.isupper() and len(original) > 1:
        return replacement.upper()
    return replacement.capitalize() if original[:1].isupper() else replacement.lower()


def swap_words(spec: dict, context: Context, budget: int, rng: np.random.Generator) -> list[dict]:
    """Every word of a slot replaced by another word of the same slot, the same replacement for the same word in
    every text of the row; `perturbations` such versions."""
    slot_of = {w.lower(): slot for slot in spec["slots"] for w in context.words(slot)}
    pattern = word_pattern(list(slot_of))

    def perturb(texts: list[str], index: int) -> list[list[str]]:
        found = sorted({m.lower() for text in texts for m in pattern.findall(text)})
        versions = []
        for _ in range(spec["perturbations"]):
            swap = {}
            for word in found:
                pool = [w for w in context.words(slot_of[word]) if w.lower() != word]
                swap[word] = pool[int(rng.integers(len(pool)))] if pool else word
            versions.append(
                [pattern.sub(lambda m, swap=swap: same_case(swap[m.group(1).lower()], m.group(1)), t) for t in texts]
            )
        return versions

    return perturbation_cases(context.validation, perturb, budget, rng) if pattern else []


def neutral_shortcuts(context: Context) -> list[str]:
    """The training split's shortcut words that carry no sentiment of their own: absent from the VADER lexicon
    (valence 0), no negation or degree word, no structural word (but, too, than ...), letters only."""
    valence, structural = vader_lexicon(), set(context.words(STRUCTURAL_SLOT))
    return [
        w for w in dict.fromkeys(context.shortcut_words)
        if w.isalpha() and not valence.get(w) and w not in NEGATE and w not in BOOSTER_DICT and w not in structural
    ]  # fmt: skip


def shortcut_words(spec: dict, context: Context, budget: int, rng: np.random.Generator) -> list[dict]:
    """The neutral shortcut words deleted, and (with slots) replaced by a filler word: `perturbations` versions."""
    pattern = word_pattern(neutral_shortcuts(context))
    fillers = [w for slot in spec.get("slots") or [] for w in context.words(slot)]

    def perturb(texts: list[str], index: int) -> list[list[str]]:
        if not any(pattern.search(t) for t in texts):
            return []
        versions = [[" ".join(pattern.sub("", t).split()) for t in texts]]
        for _ in range(spec["perturbations"] if fillers else 0):
            filler = fillers[int(rng.integers(len(fillers)))]
            versions.append([pattern.sub(lambda m, filler=filler: same_case(filler, m.group(1)), t) for t in texts])
        return versions

    return perturbation_cases(context.validation, perturb, budget, rng) if pattern else []


def typo(text: str, rng: np.random.Generator) -> str:
    """Two neighbouring letters of one word of four letters or more swapped."""
    spans = [m.span() for m in re.finditer(r"[^\W\d_]{4,}", text)]
    if not spans:
        return text
    start, end = spans[int(rng.integers(len(spans)))]
    i = int(rng.integers(start, end - 1))
    return text[:i] + text[i + 1] + text[i] + text[i + 2 :]


def typos(spec: dict, context: Context, budget: int, rng: np.random.Generator) -> list[dict]:
    """`perturbations` versions with a typo in every text of the row."""
    rows = sample_rows(context.validation, budget, rng)
    return perturbation_cases(
        rows, lambda texts, index: [[typo(t, rng) for t in texts] for _ in range(spec["perturbations"])], budget, rng
    )


def contracted(stem: str, clitic: str, style: Style) -> str:
    return f"{stem} {clitic}" if style.ptb else f"{stem}{clitic}"


def toggle_contractions(text: str, style: Style) -> str:
    """Every contraction expanded and every expandable phrase contracted ("is not" <-> "isn't", PTB "is n't")."""
    forms = []
    for expanded, stem, clitic in CONTRACTIONS:
        forms.append((re.escape(expanded).replace(r"\ ", " "), contracted(stem, clitic, style)))
        forms.append((rf"{re.escape(stem)} ?{re.escape(clitic)}", expanded))
    pattern = re.compile("|".join(f"(?<![\\w'])(?:{f})(?![\\w'])" for f, _ in forms), re.IGNORECASE)
    targets = [(re.compile(f"^(?:{f})$", re.IGNORECASE), out) for f, out in forms]

    def swap(match: re.Match) -> str:
        out = next(out for form, out in targets if form.match(match.group(0)))
        return same_case(out, match.group(0)) if match.group(0)[:1].isupper() else out

    return pattern.sub(swap, text)


def contractions(spec: dict, context: Context, budget: int, rng: np.random.Generator) -> list[dict]:
    """Contractions expanded and phrases contracted, both ways ("is not" <-> "isn't")."""
    return perturbation_cases(
        context.validation, lambda texts, index: [[toggle_contractions(t, context.style) for t in texts]], budget, rng
    )


GENERATORS: dict[str, Callable[[dict, Context, int, np.random.Generator], list[dict]]] = {
    "templates": templates,
    "append_tail": append_tail,
    "swap_words": swap_words,
    "shortcut_words": shortcut_words,
    "typos": typos,
    "contractions": contractions,
}
