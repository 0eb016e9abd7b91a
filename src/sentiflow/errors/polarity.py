"""Mixed tone: sentences with clearly positive and clearly negative words, by the VADER lexicon.

The lexicon is that of vaderSentiment (Hutto & Gilbert 2014, MIT licence): about 7,500 words and emoticons, each with
the mean valence ten raters gave it on -4 (extremely negative) to +4 (extremely positive). A word counts as written:
negation is not resolved here ("not bad" has a negative word), because the negation cue of `misclassified.cue_tags`
already marks those sentences; mixed tone is a lexical cue, not a sentiment judgement.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from functools import cache

import pandas as pd

from sentiflow.sentiment_words import vader_lexicon
from sentiflow.words import words

# ±1.5 keeps the words raters found clearly polar (good 1.9, funny 1.9, dull -1.7, waste -1.8, bad -2.5) and leaves
# out the mild ones (fine 0.8, well 1.1, boring -1.3, no -1.2) that would make most sentences "mixed".
POSITIVE_THRESHOLD = 1.5
NEGATIVE_THRESHOLD = 1.5

POLARITY_COLUMNS = ["mixed_polarity", "positive_words", "negative_words", "positive", "negative"]

# Lexicon words that reviews use mostly as degree adverbs. VADER scores "pretty" +2.2 wherever it stands, so "pretty
# bad" would be mixed; it is skipped before a word and counted otherwise ("it ai n't pretty .", "pretty and
# weightless"). In SST-2's validation split 9 sentences hold it: this reads 8 right, missing the adjective in
# "pretty irish settings" (counting it everywhere reads 2 right).
DEGREE_ADVERBS = frozenset({"pretty"})
_CONJUNCTIONS = frozenset({"and", "or", "but", "nor"})


def lexicon() -> dict[str, float]:
    """word -> mean valence, the VADER lexicon (read once, by `sentiflow.sentiment_words`)."""
    return vader_lexicon()


@cache
def _modifiers() -> frozenset[str]:
    # VADER's boosters and dampeners ("kind of", "quite") scale the next word and are no sentiment words themselves.
    # Its lexicon scores some of them too ("kind" +2.4), so they are skipped here as VADER skips them.
    from vaderSentiment.vaderSentiment import BOOSTER_DICT

    return frozenset(BOOSTER_DICT)


def _is_degree_adverb(token: str, follows: str) -> bool:
    return token in DEGREE_ADVERBS and follows.isalpha() and follows not in _CONJUNCTIONS


def polar_words(text: str, ignore: Collection[str] = ()) -> list[tuple[str, float]]:
    """The text's lexicon words with their valence, skipping VADER's modifiers ("kind of"), a DEGREE_ADVERBS word
    before another word ("pretty bad") and `ignore`."""
    tokens, valence, modifiers = words(text), lexicon(), _modifiers()
    found = []
    for i, token in enumerate(tokens):
        follows = tokens[i + 1] if i + 1 < len(tokens) else ""
        if token in ignore or token in modifiers or f"{token} {follows}" in modifiers or token not in valence:
            continue
        if not _is_degree_adverb(token, follows):
            found.append((token, valence[token]))
    return found


def mixed_polarity(
    texts: Sequence[str],
    positive_threshold: float = POSITIVE_THRESHOLD,
    negative_threshold: float = NEGATIVE_THRESHOLD,
    ignore: Collection[str] = (),
) -> pd.DataFrame:
    """Per sentence: mixed_polarity (bool: a word with valence ≥ positive_threshold and one ≤ -negative_threshold;
    a cue column for `misclassified.failure_modes`), the counts of such words (positive_words, negative_words) and
    the words themselves ("; "-joined). `ignore`: words not to count, such as genre names the lexicon scores
    ("comedy" +1.5, "horror" -2.7)."""
    ignore = frozenset(ignore)
    rows = []
    for text in texts:
        polar = polar_words(text, ignore)
        positive = [w for w, v in polar if v >= positive_threshold]
        negative = [w for w, v in polar if v <= -negative_threshold]
        rows.append({
            "mixed_polarity": bool(positive and negative), "positive_words": len(positive),
            "negative_words": len(negative), "positive": "; ".join(positive), "negative": "; ".join(negative),
        })  # fmt: skip
    table = pd.DataFrame(rows, columns=POLARITY_COLUMNS)
    table["mixed_polarity"] = table["mixed_polarity"].astype(bool)
    return table
