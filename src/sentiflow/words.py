"""Words as the cue lexicons, the shortcut statistic, the polarity lexicon and the attributions see them.

One segmentation serves them all, so that a word counted as a shortcut is the word an attribution scores: the
attributions map their subword tokens onto these words by character offsets (`spans`), and the report colours
those spans of the text as written.
"""

from __future__ import annotations

import re

# Split "doesn't" like the Penn Treebank does ("does n't"), so one lexicon serves raw and PTB text. Letters are any
# script's ("cliché" is one word); every other non-space character is a word of its own. The first alternative ends
# a word right before a "n't" that closes it, which the second then takes whole.
_TOKEN = re.compile(r"[^\W_]+?(?=n't\b)|n't|[^\W_]+(?:'[^\W_]+)?|[^\w\s]|_", re.IGNORECASE)


def spans(text: str) -> list[tuple[int, int]]:
    """(start, end) character offsets of each word of `text`, in order."""
    return [match.span() for match in _TOKEN.finditer(text)]


def words(text: str) -> list[str]:
    """Lower-cased words and punctuation marks, "n't" split off as its own word."""
    return [text[start:end].lower() for start, end in spans(text)]
