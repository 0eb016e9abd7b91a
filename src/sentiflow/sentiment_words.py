"""Which words carry sentiment of their own: a word is evaluative when any resource with review coverage gives it a
polarity, and neutral only when none does.

The resources, each read as its package ships it:
- VADER (vaderSentiment's `vader_lexicon.txt`; Hutto & Gilbert 2014, MIT): about 7,500 words and emoticons, each
  the mean valence ten raters gave it; any non-zero valence counts ("thriller" +0.4 does).
- pattern's English subjectivity lexicon (TextBlob ships it as `textblob/en/en-sentiment.xml`; De Smedt &
  Daelemans 2012, public domain): 2,900 hand-tagged senses of 1,500 adjectives frequent in product reviews, 75%
  accurate on Pang & Lee's movie reviews; a word counts when any of its senses has a non-zero polarity
  ("poignant" +0.5 and -0.5, "flat" -0.1).
- our own lists, the behavioural tests' lexicon slots OWN_LISTS (a config may replace them like any slot): the
  template adjectives `pos_adj` and `neg_adj`, and `review_polar_words`, review vocabulary both lexicons miss
  ("moving", "formulaic", "unfunny"; its file says how it was collected). The caller passes their words.

VADER's lexicon was built largely from social-media text and misses much review vocabulary (tedious, bland,
mediocre, poignant); pattern's covers those. Neither needs its package imported: the word lists are read as files.
"""

from __future__ import annotations

import importlib.util
import xml.etree.ElementTree as ElementTree
from collections.abc import Collection, Mapping, Sequence
from functools import cache
from importlib import resources
from pathlib import Path

OWN_LISTS = ("pos_adj", "neg_adj", "review_polar_words")


def package_file(package: str, *parts: str) -> Path:
    """A data file shipped inside an installed package, found without importing the package (TextBlob's import
    pulls in NLTK)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"the package {package} is not installed (pip install -r requirements.txt)")
    return Path(next(iter(spec.submodule_search_locations)), *parts)


@cache
def vader_lexicon() -> dict[str, float]:
    """word -> mean valence, read from the vader_lexicon.txt the vaderSentiment package ships."""
    text = resources.files("vaderSentiment").joinpath("vader_lexicon.txt").read_text(encoding="utf-8")
    entries = (line.split("\t") for line in text.splitlines() if line.strip())
    return {fields[0]: float(fields[1]) for fields in entries}


@cache
def pattern_lexicon() -> dict[str, float]:
    """word -> the polarity of its most polar sense in pattern's lexicon (words whose every sense is 0 map to 0)."""
    root = ElementTree.parse(package_file("textblob", "en", "en-sentiment.xml")).getroot()
    polarity: dict[str, float] = {}
    for entry in root.iter("word"):
        word, value = entry.get("form", "").lower(), float(entry.get("polarity", 0))
        if word and abs(value) > abs(polarity.get(word, 0.0)):
            polarity[word] = value
        polarity.setdefault(word, 0.0)
    return polarity


def sentiment_sources(word: str, own: Mapping[str, Collection[str]]) -> list[str]:
    """Which resources give `word` a polarity, in words ("VADER -2.7", "pattern -0.5", "neg_adj"); empty for a
    neutral word. `own`: our lists' words by slot (OWN_LISTS), lower-cased."""
    word = word.lower()
    found = []
    if vader_lexicon().get(word):
        found.append(f"VADER {vader_lexicon()[word]:+g}")
    if pattern_lexicon().get(word):
        found.append(f"pattern {pattern_lexicon()[word]:+g}")
    found += [slot for slot in OWN_LISTS if word in own.get(slot, ())]
    return found


def evaluative(words: Sequence[str], own: Mapping[str, Collection[str]]) -> dict[str, list[str]]:
    """The words of `words` (each entry split at spaces and hyphens) that some resource gives a polarity, with the
    resources that do."""
    found = {}
    for entry in words:
        for word in entry.replace("-", " ").split():
            sources = sentiment_sources(word, own)
            if sources:
                found[word.lower()] = sources
    return found
