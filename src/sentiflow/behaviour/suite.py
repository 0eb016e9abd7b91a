"""The behaviour_suite rule's job: one dataset's suite of behavioural tests as `suite.jsonl`, one case a line.

Each test draws with its own random generator, seeded by `behaviour.seed` and the test's name, so the same config
and data give the same file byte for byte, and adding or removing a test leaves the other tests' cases as they were.
"""

from __future__ import annotations

import json
import time
import zlib
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from sentiflow.atomic import atomic_path
from sentiflow.behaviour.generators import GENERATORS, Context, shortcut_choices
from sentiflow.behaviour.lexicons import style_of
from sentiflow.config import test_defaults, watched_labels

FIELDS = ("case", "test", "type", "probes", "source", "cluster", "texts", "texts_b", "edits", "expected_labels",
          "expected_polarity", "direction")  # fmt: skip


def test_rng(seed: int, test: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(test.encode("utf-8"))])


def direction(spec: dict, watched: list[str]) -> dict:
    """A DIR test's rule: the watched labels, the forbidden way and how far they may move it, on the log-odds scale
    (`logit_tolerance`) or CheckList's probability scale (`tolerance`)."""
    spec = test_defaults() | spec
    tolerance = spec["logit_tolerance"] if spec["scale"] == "logit" else spec["tolerance"]
    return {"labels": watched, "must_not": spec["must_not"], "scale": spec["scale"], "tolerance": tolerance}


def test_cases(name: str, spec: dict, context: Context, budget: int, seed: int) -> list[dict]:
    """The cases of one test, with what every case of it shares, numbered in order."""
    made = GENERATORS[spec["generator"]](spec | {"name": name}, context, budget, test_rng(seed, name))
    watched = watched_labels(spec, context.labels, context.polarity)
    mft = spec["type"] == "MFT"
    shared = {
        "test": name, "type": spec["type"], "probes": spec["probes"],
        "expected_labels": watched if mft else None,
        # Labels named outright are scored by label; polarities by the answer's polarity (`behaviour.polarity`).
        "expected_polarity": list(spec["polarity"]) if mft and spec.get("polarity") and not spec.get("labels") else None,
        "direction": direction(spec, watched) if spec["type"] == "DIR" else None,
    }  # fmt: skip
    width = max(4, len(str(len(made))))
    return [
        {key: value for key, value in ({"case": f"{name}/{i:0{width}d}"} | shared | case).items() if key in FIELDS}
        for i, case in enumerate(made)
    ]


def build_suite(tests: Sequence[tuple[str, dict]], context: Context, max_cases: int, seed: int) -> list[dict]:
    """Every test's cases, tests in the configured order; a test's `max_cases` wins over the suite's."""
    return [
        {key: case[key] for key in FIELDS}
        for name, spec in tests
        for case in test_cases(name, spec, context, spec.get("max_cases") or max_cases, seed)
    ]


def edited_words(cases) -> Counter:
    """(before, after) -> how many perturbed texts of `cases` made that edit."""
    return Counter((before, after) for case in cases for edits in case["edits"] or [] for before, after in edits)


def write_suite(path: str | Path, cases: Sequence[dict]) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_text("".join(json.dumps(case, ensure_ascii=False) + "\n" for case in cases), encoding="utf-8")


def read_suite(path: str | Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def make_suite(settings: dict, validation: pd.DataFrame, shortcut_words: pd.DataFrame, output) -> dict[str, int]:
    """The behaviour_suite rule: `settings` as the rule passes them (tests, labels, polarity, lexicons, seed,
    max_cases); returns the case count per test (0 for a test that matched nothing), also logged."""
    started = time.perf_counter()
    context = Context(
        validation=validation, labels=settings["labels"], polarity=settings["polarity"],
        style=style_of(validation["text"]), lexicon_overrides=settings["lexicons"],
        shortcut_words=shortcut_words["word"].astype(str).tolist() if len(shortcut_words) else [],
    )  # fmt: skip
    tests = [tuple(test) for test in settings["tests"]]
    cases = build_suite(tests, context, settings["max_cases"], settings["seed"])
    write_suite(output, cases)
    counts = {name: sum(case["test"] == name for case in cases) for name, _ in tests}
    for name, count in counts.items():
        words = edited_words(case for case in cases if case["test"] == name)
        shown = ", ".join(f"{before} -> {after} ({n})" for (before, after), n in words.most_common(12))
        print(f"{name}: {count} cases" + (f"; edits: {shown}" if shown else ""), flush=True)
    if any(spec["generator"] == "shortcut_words" for _, spec in tests):
        for word, reason in shortcut_choices(context).items():
            print(f"shortcut word {word!r}: {reason or 'replaced'}", flush=True)
    print(f"{len(cases)} cases in {time.perf_counter() - started:.1f} s ({context.style})", flush=True)
    return counts
