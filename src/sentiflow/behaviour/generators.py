"""The generators that make a test's cases: MFT templates, and perturbations of validation sentences.

A generator takes the test's settings (`spec`), the `Context` of the dataset, the case budget and a seeded random
generator, and returns cases as dicts of `source`, `cluster`, `texts`, `texts_b` (the second texts of a pair, else
None) and `edits` (per perturbed text, the [before, after] word pairs it changed; None for MFT); `suite` adds what
every case of a test shares. A perturbation that matches no sentence gives no case: an empty test, not an error.
Perturbations change every text of a pair alike (the same name for the same name).

A word put in place of another takes the indefinite article before it along ("a western" -> "an adventure"), in
templates and swaps alike.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from vaderSentiment.vaderSentiment import BOOSTER_DICT, NEGATE

from sentiflow.behaviour.lexicons import Style, lexicon, styled
from sentiflow.behaviour.word_classes import article_for, noun_number, plural
from sentiflow.config import own_lists
from sentiflow.data import PAIR, TEXT
from sentiflow.sentiment_words import sentiment_sources

TEMPLATE_ATTEMPTS = 20  # draws per wanted case before a template set is taken to be exhausted
STRUCTURAL_SLOT = "structural_words"  # words that change a sentence's meaning by grammar: never replaced as shortcuts
# A template placeholder, `{slot}` or `{slot2}` (another word of the slot), with the article before it if there is one.
SLOT_WITH_ARTICLE = re.compile(r"(?:(?<![\w'])(an?)(\s+))?\{([a-z]+(?:_[a-z]+)*)(\d*)\}", re.IGNORECASE)
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
         "texts_b": None, "edits": None}
        for text, which in found.items()
    ]  # fmt: skip


def template_id(spec: dict, which: int) -> str:
    return f"{spec['name']}/t{which}"


def fill(template: str, context: Context, rng: np.random.Generator) -> str:
    """The template with each placeholder replaced: `{slot}`, `{slot2}` ... distinct words of one slot; an article
    right before a placeholder agrees with the word ("a {pos_adj} film" -> "an excellent film")."""
    chosen: dict[tuple[str, str], str] = {}

    def word(match: re.Match) -> str:
        slot, number = match.group(3), match.group(4)
        if (slot, number) not in chosen:
            taken = {w for (s, _), w in chosen.items() if s == slot}
            pool = [w for w in context.words(slot) if w not in taken] or context.words(slot)
            chosen[slot, number] = pool[int(rng.integers(len(pool)))]
        return with_article(match.group(1), match.group(2), chosen[slot, number])

    return SLOT_WITH_ARTICLE.sub(word, template)


def with_article(article: str | None, space: str | None, word: str) -> str:
    """`word`, after the article that agrees with it (in the case of the one it replaces) when there was one."""
    return word if article is None else same_case(article_for(word), article) + space + word


def sample_rows(rows: pd.DataFrame, budget: int, rng: np.random.Generator) -> pd.DataFrame:
    """At most `budget` rows, a seeded sample, in index order."""
    if len(rows) > budget:
        rows = rows.iloc[np.sort(rng.choice(len(rows), budget, replace=False))]
    return rows


def texts_of(row) -> list[str]:
    return [row[TEXT], row[PAIR]] if PAIR in row else [row[TEXT]]


Edit = list[str]  # [before, after]: a word (or phrase) of the original and what the perturbation put in its place
Version = tuple[list[str], list[Edit]]  # a perturbed version's texts (one per text of the row) and its edits


def perturbation_cases(rows: pd.DataFrame, perturb: Callable[[list[str], int], list[Version]], budget: int,
                       rng: np.random.Generator) -> list[dict]:  # fmt: skip
    """Cases of the rows `perturb` changes: each row's texts, then its distinct perturbed versions with their
    edits; rows it leaves alone are skipped before the budget's sample."""
    made = []
    for _, row in rows.iterrows():
        original = texts_of(row)
        versions: dict[tuple[str, ...], list[Edit]] = {}
        for texts, edits in perturb(original, int(row["index"])):
            if list(texts) != original:
                versions.setdefault(tuple(texts), edits)
        if versions:
            made.append((int(row["index"]), [tuple(original), *versions], list(versions.values())))
    if len(made) > budget:
        made = [made[i] for i in np.sort(rng.choice(len(made), budget, replace=False))]
    return [
        {"source": f"validation:{index}", "cluster": f"validation:{index}", "texts": [v[0] for v in versions],
         "texts_b": [v[1] for v in versions] if len(versions[0]) > 1 else None, "edits": edits}
        for index, versions, edits in made
    ]  # fmt: skip


def append_tail(spec: dict, context: Context, budget: int, rng: np.random.Generator) -> list[dict]:
    """Each source sentence with a tail clause from the slots appended (", if you enjoy being bored.")."""
    tails = [tail for slot in spec["slots"] for tail in context.words(slot)]
    count = min(spec["perturbations"], len(tails))
    rows = sample_rows(context.sources(spec.get("sources")), budget, rng)

    def perturb(texts: list[str], index: int) -> list[Version]:
        body = re.sub(r"[\s.!?;:,]+$", "", texts[0])
        chosen = [tails[i] for i in rng.choice(len(tails), count, replace=False)]
        return [([body + styled(f", {tail}.", context.style)], [["", tail]]) for tail in chosen]

    return perturbation_cases(rows, perturb, budget, rng)


def word_pattern(words_: Sequence[str]) -> re.Pattern | None:
    """Any of `words_` as a whole word (group 3), with the article right before it (groups 1 and 2) if any."""
    if not words_:
        return None
    alternatives = "|".join(re.escape(w) for w in sorted(set(words_), key=len, reverse=True))
    return re.compile(rf"(?:(?<![\w'])(an?)(\s+))?(?<![\w'])({alternatives})(?![\w'])", re.IGNORECASE)


def found_words(pattern: re.Pattern, texts: Sequence[str]) -> list[str]:
    """The distinct words of `pattern` in `texts`, lower-cased, in sorted order."""
    return sorted({match.group(3).lower() for text in texts for match in pattern.finditer(text)})


def replaced(pattern: re.Pattern, text: str, swap: Mapping[str, str]) -> str:
    """`text` with every word of `pattern` replaced by `swap`'s word for it (in its case), its article agreeing."""

    def one(match: re.Match) -> str:
        new = same_case(swap[match.group(3).lower()], match.group(3))
        return with_article(match.group(1), match.group(2), new)

    return pattern.sub(one, text)


def same_case(replacement: str, original: str) -> str:
    if original.isupper() and len(original) > 1:
        return replacement.upper()
    return replacement.capitalize() if original[:1].isupper() else replacement.lower()


def swap_words(spec: dict, context: Context, budget: int, rng: np.random.Generator) -> list[dict]:
    """Every word of a slot replaced by another word of the same slot, the same replacement for the same word in
    every text of the row; `perturbations` such versions."""
    slot_of = {w.lower(): slot for slot in spec["slots"] for w in context.words(slot)}
    pattern = word_pattern(list(slot_of))

    def perturb(texts: list[str], index: int) -> list[Version]:
        found = found_words(pattern, texts)
        versions = []
        for _ in range(spec["perturbations"]):
            swap = {}
            for word in found:
                pool = [w for w in context.words(slot_of[word]) if w.lower() != word]
                swap[word] = pool[int(rng.integers(len(pool)))].lower() if pool else word
            edits = [[word, swap[word]] for word in found if swap[word] != word]
            versions.append(([replaced(pattern, t, swap) for t in texts], edits))
        return versions

    return perturbation_cases(context.validation, perturb, budget, rng) if pattern else []


def shortcut_choices(context: Context) -> dict[str, str | None]:
    """Each of the training split's shortcut words -> why the shortcut_words test leaves it alone, or None for a
    word it replaces: a common noun (so a filler noun can stand in for it) that carries no sentiment of its own in
    any resource (`sentiment_words`), no negation, degree or structural word (but, too, nothing ...)."""
    structural = {w.lower() for w in context.words(STRUCTURAL_SLOT)}
    own = own_lists(dict(context.lexicon_overrides))
    reasons: dict[str, str | None] = {}
    for word in dict.fromkeys(w.lower() for w in context.shortcut_words):
        sources = sentiment_sources(word, own)
        if not word.isalpha():
            reasons[word] = "not a word of letters"
        elif word in NEGATE or word in BOOSTER_DICT or word in structural:
            reasons[word] = "a negation, degree or structural word"
        elif sources:
            reasons[word] = f"carries sentiment ({', '.join(sources)})"
        elif noun_number(word) is None:
            reasons[word] = "not a common noun: no filler can stand in for it"
        else:
            reasons[word] = None
    return reasons


def neutral_shortcuts(context: Context) -> list[str]:
    """The shortcut words the shortcut_words test replaces (see `shortcut_choices`), in the table's order."""
    return [word for word, reason in shortcut_choices(context).items() if reason is None]


def shortcut_words(spec: dict, context: Context, budget: int, rng: np.random.Generator) -> list[dict]:
    """Every neutral shortcut noun replaced by a filler noun of the same number ("performances" -> "aspects"; the
    same filler for every shortcut word of a version): `perturbations` versions. A noun is replaced, not deleted:
    "the performances take the movie higher" without its noun is no sentence."""
    pattern = word_pattern(neutral_shortcuts(context))
    fillers = [w for slot in spec.get("slots") or [] for w in context.words(slot)]

    def perturb(texts: list[str], index: int) -> list[Version]:
        found = found_words(pattern, texts)
        versions = []
        for _ in range(spec["perturbations"] if found else 0):
            filler = fillers[int(rng.integers(len(fillers)))].lower()
            swap = {word: plural(filler) if noun_number(word) == "plural" else filler for word in found}
            versions.append(([replaced(pattern, t, swap) for t in texts], [[w, swap[w]] for w in found]))
        return versions

    return perturbation_cases(context.validation, perturb, budget, rng) if pattern and fillers else []


def typo(text: str, rng: np.random.Generator) -> tuple[str, Edit | None]:
    """Two neighbouring letters of one word of four letters or more swapped, and [word, misspelt word]."""
    spans = [m.span() for m in re.finditer(r"[^\W\d_]{4,}", text)]
    if not spans:
        return text, None
    start, end = spans[int(rng.integers(len(spans)))]
    i = int(rng.integers(start, end - 1))
    changed = text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    return changed, [text[start:end], changed[start:end]]


def typos(spec: dict, context: Context, budget: int, rng: np.random.Generator) -> list[dict]:
    """`perturbations` versions with a typo in every text of the row."""
    rows = sample_rows(context.validation, budget, rng)

    def perturb(texts: list[str], index: int) -> list[Version]:
        versions = []
        for _ in range(spec["perturbations"]):
            made = [typo(t, rng) for t in texts]
            versions.append(([t for t, _ in made], [edit for _, edit in made if edit and edit[0] != edit[1]]))
        return versions

    return perturbation_cases(rows, perturb, budget, rng)


def contracted(stem: str, clitic: str, style: Style) -> str:
    return f"{stem} {clitic}" if style.ptb else f"{stem}{clitic}"


def toggle_contractions(text: str, style: Style, edits: list[Edit] | None = None) -> str:
    """Every contraction expanded and every expandable phrase contracted ("is not" <-> "isn't", PTB "is n't");
    each change is appended to `edits` when given."""
    forms = []
    for expanded, stem, clitic in CONTRACTIONS:
        forms.append((re.escape(expanded).replace(r"\ ", " "), contracted(stem, clitic, style)))
        forms.append((rf"{re.escape(stem)} ?{re.escape(clitic)}", expanded))
    pattern = re.compile("|".join(f"(?<![\\w'])(?:{f})(?![\\w'])" for f, _ in forms), re.IGNORECASE)
    targets = [(re.compile(f"^(?:{f})$", re.IGNORECASE), out) for f, out in forms]

    def swap(match: re.Match) -> str:
        out = next(out for form, out in targets if form.match(match.group(0)))
        out = same_case(out, match.group(0)) if match.group(0)[:1].isupper() else out
        if edits is not None:
            edits.append([match.group(0), out])
        return out

    return pattern.sub(swap, text)


def contractions(spec: dict, context: Context, budget: int, rng: np.random.Generator) -> list[dict]:
    """Contractions expanded and phrases contracted, both ways ("is not" <-> "isn't")."""

    def perturb(texts: list[str], index: int) -> list[Version]:
        edits: list[Edit] = []
        return [([toggle_contractions(t, context.style, edits) for t in texts], edits)]

    return perturbation_cases(context.validation, perturb, budget, rng)


GENERATORS: dict[str, Callable[[dict, Context, int, np.random.Generator], list[dict]]] = {
    "templates": templates,
    "append_tail": append_tail,
    "swap_words": swap_words,
    "shortcut_words": shortcut_words,
    "typos": typos,
    "contractions": contractions,
}
