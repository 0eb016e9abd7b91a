"""A word's usual part of speech and its article, so that a swapped word leaves a grammatical sentence.

Parts of speech come from the lexicon of Brill's tagger that TextBlob ships (`textblob/en/en-lexicon.txt`: the most
frequent Penn Treebank tag of 94,000 words of the Brown corpus and the Penn Treebank, MIT licence): a word's usual
tag, without its sentence, is enough to tell a noun that a filler noun can stand in for from a verb ("feels") or
an auxiliary ("were") that no filler can.
"""

from __future__ import annotations

import re
from functools import cache

from sentiflow.sentiment_words import package_file

# Words that start with a vowel letter but a consonant sound ("a unique", "a one-off"), or with a silent h ("an
# hour"): the exceptions to "an before a vowel letter" that names, genres and fillers can meet.
CONSONANT_SOUND = re.compile(r"^(eu|ewe|one|once|uni|use|usu|uter|uti|ubi|ufo|uk|ura|ure|uri|uro)", re.IGNORECASE)
VOWEL_SOUND = re.compile(r"^(hour|honest|honor|honour|heir)", re.IGNORECASE)


@cache
def brill_tags() -> dict[str, str]:
    """word (as written) -> its most frequent Penn Treebank tag."""
    text = package_file("textblob", "en", "en-lexicon.txt").read_text(encoding="utf-8")
    return dict(line.split(" ", 1) for line in text.splitlines() if line and not line.startswith(";;;"))


def noun_number(word: str) -> str | None:
    """ "singular" or "plural" for a word usually tagged a common noun (NN, NNS), else None (a verb, an adjective, a
    proper noun, a function word, a word the lexicon lacks)."""
    return {"NN": "singular", "NNS": "plural"}.get(brill_tags().get(word.lower()))


def plural(noun: str) -> str:
    """A regular English plural ("thing" -> "things", "box" -> "boxes", "story" -> "stories")."""
    if re.search(r"(s|x|z|ch|sh)$", noun):
        return noun + "es"
    if re.search(r"[^aeiou]y$", noun):
        return noun[:-1] + "ies"
    return noun + "s"


def article_for(word: str) -> str:
    """The indefinite article that goes before `word`: "an" before a vowel sound, "a" before a consonant sound."""
    if VOWEL_SOUND.match(word):
        return "an"
    return "an" if word[:1].lower() in "aeiou" and not CONSONANT_SOUND.match(word) else "a"
