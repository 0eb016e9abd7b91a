"""Words as the cue lexicons, the shortcut statistic and the polarity lexicon see them."""

from __future__ import annotations

import re

# Split "doesn't" like the Penn Treebank does ("does n't"), so one lexicon serves raw and PTB text.
_TOKEN = re.compile(r"n't|[a-z0-9]+(?:'[a-z]+)?|[^\sa-z0-9]")


def words(text: str) -> list[str]:
    """Lower-cased words and punctuation marks, "n't" split off as its own word."""
    return _TOKEN.findall(re.sub(r"(\w)n't\b", r"\1 n't", text.lower()))
