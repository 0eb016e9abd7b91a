"""Words as the cue lexicons, the shortcut statistic and the polarity lexicon see them."""

from __future__ import annotations

import re

# Split "doesn't" like the Penn Treebank does ("does n't"), so one lexicon serves raw and PTB text. Letters are any
# script's ("cliché" is one word); every other non-space character is a word of its own.
_TOKEN = re.compile(r"n't|[^\W_]+(?:'[^\W_]+)?|[^\w\s]|_")


def words(text: str) -> list[str]:
    """Lower-cased words and punctuation marks, "n't" split off as its own word."""
    return _TOKEN.findall(re.sub(r"(\w)n't\b", r"\1 n't", text.lower()))
