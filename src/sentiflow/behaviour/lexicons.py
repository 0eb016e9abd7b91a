"""The word lists tests draw from, and the surface style of a dataset's text that generated text copies.

Each lexicon slot is a shipped file `lexicons/SLOT.txt` (one entry a line; lines starting with `#` say where the
words come from), replaced by `behaviour.lexicons.SLOT` when the config gives one. Templates and tails are written in plain English; a dataset whose validation text is lower-cased
or tokenised like the Penn Treebank (SST: "it 's", "does n't", "good .") gets them in its own style, so a test
probes the construction, not the unfamiliar casing or spacing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sentiflow.config import lexicon_words, shipped_words

PTB_MARKS = re.compile(r" (n't|'s|'re|'ve|'ll|'d|'m|[,.!?;:])(?= |$)")


def shipped(slot: str) -> tuple[str, ...]:
    return shipped_words(slot)


def lexicon(slot: str, overrides: Mapping[str, Sequence[str]]) -> list[str]:
    """The words of `slot`: the config's list, else the shipped one."""
    return lexicon_words(slot, dict(overrides))


def lexicons(slots: Sequence[str], overrides: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    return {slot: lexicon(slot, overrides) for slot in dict.fromkeys(slots)}


@dataclass(frozen=True)
class Style:
    lower: bool  # the texts carry no capitals (GLUE's SST-2)
    ptb: bool  # punctuation and clitics split off by spaces ("it 's good ." )


def style_of(texts: Sequence[str]) -> Style:
    """The style most of `texts` share: lower-cased when under 5% have a capital, PTB when most show its marks."""
    texts = list(texts)
    if not texts:
        return Style(lower=False, ptb=False)
    capitals = sum(any(c.isupper() for c in t) for t in texts) / len(texts)
    ptb = sum(bool(PTB_MARKS.search(t)) for t in texts) / len(texts)
    return Style(lower=capitals < 0.05, ptb=ptb > 0.5)


def styled(text: str, style: Style) -> str:
    """`text` (plain English) in the dataset's style."""
    if style.ptb:
        text = re.sub(r"(\w)(n't)\b", r"\1 \2", text)
        text = re.sub(r"(\w)('s|'re|'ve|'ll|'d|'m)\b", r"\1 \2", text)
        text = re.sub(r"\s*([,.!?;:])", r" \1", text)
    return text.lower() if style.lower else text
