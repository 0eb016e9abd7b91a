"""A peer's behavioural test suite read from a file: the JSON Lines format, checked line by line, and the draw of
cases per test that CheckList's authors made.

The format is that of CheckList's released sentiment suite as plain data (one case a line, UTF-8; `.jsonl`, or
`.jsonl.gz` compressed with gzip), so that a published suite or one's own runs alike:
- `test`: the test's name; `type`: `MFT` or `INV`; `capability`: what it tests (the paper's rows: Vocabulary,
  Robustness, NER, Temporal, Fairness, Negation, SRL). Every case of a test has the same type and capability.
- `texts`: MFT: the text (or several, each of which must pass); INV: the original, then its perturbations.
- `label`: an MFT case's expected label, in the suite's label space: 0 (or "negative"), 1 ("neutral"), 2 ("positive").
- `expect`: `label` (MFT; the default), `not_negative` (MFT, with no label: passes on neutral or positive, as a negated
  negative does) or `invariant` (INV; the default): the label must not change.
- optional `case`: the case's number, unique within its test (by default its position among the test's lines);
  optional `cluster`: cases that share one are not independent (a template's instances, one source's perturbations),
  so the intervals count them as one cluster. By default each case is its own cluster: MFT cases are instances the
  draw picks at random from the test's, and an INV case already holds all perturbations of its original.
A DIR test has no place here: its expectation is a function, which a line of data cannot hold. Anything the format
does not allow is refused, naming the file and the line.

The draw is CheckList's own (`TestSuite.to_raw_file(n, seed)`): per test, numpy's legacy generator seeded afresh with
`seed` picks min(n, cases) positions without replacement, `RandomState(seed).choice(cases, n, replace=False)`. On
CheckList's released suite, 500 cases and seed 1 are exactly the cases of the paper's released predictions (checked
against the released suite's stored sample, tests/test_peer_suite.py). The choice is the first n of one permutation, so
a smaller draw with the same seed is the first cases of the larger: the smoke run's few are among the paper's.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from sentiflow.atomic import atomic_path, write_json
from sentiflow.behaviour.polarity import POLARITIES

TYPES = ("MFT", "INV")
EXPECT = {"MFT": ("label", "not_negative"), "INV": ("invariant",)}
REQUIRED = ("test", "type", "capability", "texts")
OPTIONAL = ("label", "expect", "case", "cluster")
# The suite's label space: CheckList's sentiment labels, by number or by name.
LABELS = {0: "negative", 1: "neutral", 2: "positive"} | {name: name for name in POLARITIES}
# CheckList's released sentiment suite as shared with this project (sha256 of suite.jsonl.gz; its SOURCE.md), whose
# draw of 500 cases a test with seed 1 is the paper's own sample.
CHECKLIST_SENTIMENT_SHA256 = "2d6afb8c9072a3ce080cdfedf934e59feba9f0239b304342d19094fb83c5ec3c"
PAPER_SAMPLE = {"cases": 500, "seed": 1}


class SuiteFileError(ValueError):
    pass


def lines(path: str | Path) -> Iterator[tuple[int, str]]:
    """(line number, line) of a `.jsonl` or `.jsonl.gz` file."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        try:
            yield from enumerate(handle, 1)
        except (OSError, UnicodeDecodeError, EOFError) as err:
            raise SuiteFileError(f"{path}: cannot be read as UTF-8 JSON Lines{' (gzip)' * (path.suffix == '.gz')}: "
                                 f"{err}") from None  # fmt: skip


def expected_polarities(case: dict, where: str) -> list[str] | None:
    """The polarities an MFT case passes on (None for INV), from its `label` and `expect`."""
    expect = case.get("expect") or ("label" if case["type"] == "MFT" else "invariant")
    if expect not in EXPECT[case["type"]]:
        raise SuiteFileError(f"{where}: expect {expect!r} is not one of {', '.join(EXPECT[case['type']])}, what an "
                             f"{case['type']} case may expect")  # fmt: skip
    label = case.get("label")
    if expect != "label":
        if label is not None:
            raise SuiteFileError(f"{where}: expect {expect!r} takes no label, and the case has label {label!r}")
        return ["neutral", "positive"] if expect == "not_negative" else None
    if isinstance(label, bool) or label not in LABELS:
        raise SuiteFileError(f"{where}: label {label!r} is outside the suite's label space (0 negative, 1 neutral, "
                             "2 positive, or those names)")  # fmt: skip
    return [LABELS[label]]


def checked_texts(case: dict, where: str) -> list[str]:
    texts = case["texts"]
    if not isinstance(texts, list) or not texts:
        raise SuiteFileError(f"{where}: texts must be a list of one or more texts, not {texts!r}")
    for number, text in enumerate(texts, 1):
        if not isinstance(text, str) or not text.strip():
            raise SuiteFileError(f"{where}: text {number} of the case is {'empty' if isinstance(text, str) else repr(text)}, "
                                 "and a case needs text to answer")  # fmt: skip
    if case["type"] == "INV" and len(texts) < 2:
        raise SuiteFileError(f"{where}: an INV case holds the original and at least one perturbation; it has one text")
    return texts


def parse_case(line: str, where: str) -> dict:
    """One line as a case: its fields checked, the expected polarities and the cluster resolved."""
    try:
        case = json.loads(line)
    except json.JSONDecodeError as err:
        raise SuiteFileError(f"{where}: not JSON ({err.msg} at column {err.colno})") from None
    if not isinstance(case, dict):
        raise SuiteFileError(f"{where}: a case is a JSON object, not {type(case).__name__}")
    missing = [key for key in REQUIRED if key not in case]
    unknown = [key for key in case if key not in REQUIRED + OPTIONAL]
    if missing or unknown:
        problem = f"lacks {', '.join(missing)}" if missing else f"has unknown field(s) {', '.join(unknown)}"
        raise SuiteFileError(f"{where}: the case {problem}; a case has {', '.join(REQUIRED)} and may have "
                             f"{', '.join(OPTIONAL)}")  # fmt: skip
    if case["type"] not in TYPES:
        raise SuiteFileError(f"{where}: type {case['type']!r} is not one of {', '.join(TYPES)} (a DIR test's "
                             "expectation is a function, which this format cannot hold)")  # fmt: skip
    for key in ("test", "capability"):
        if not isinstance(case[key], str) or not case[key].strip():
            raise SuiteFileError(f"{where}: {key} must be a non-empty string, not {case[key]!r}")
    number = case.get("case")
    if number is not None and (isinstance(number, bool) or not isinstance(number, int) or number < 0):
        raise SuiteFileError(f"{where}: case must be a number (0, 1, ...), not {number!r}")
    return {"test": case["test"], "type": case["type"], "capability": case["capability"], "number": number,
            "texts": checked_texts(case, where), "expected": expected_polarities(case, where),
            "cluster": case.get("cluster")}  # fmt: skip


def read_suite_file(path: str | Path) -> dict[str, list[dict]]:
    """The suite's tests in file order, each its cases in file order: `test`, `type`, `capability`, `number` (given,
    or the position in the test), `texts`, `expected` (MFT: the passing polarities; INV: None), `cluster`."""
    tests: dict[str, list[dict]] = {}
    first: dict[str, tuple[int, dict]] = {}
    numbers: dict[str, dict[int, int]] = {}
    for number, line in lines(path):
        if not line.strip():
            continue
        where = f"{path} line {number}"
        case = parse_case(line, where)
        test = case["test"]
        if test in first:
            seen_at, seen = first[test]
            for key in ("type", "capability"):
                if case[key] != seen[key]:
                    raise SuiteFileError(f"{where}: test {test!r} has {key} {case[key]!r} here and {seen[key]!r} at "
                                         f"line {seen_at}; a test has one")  # fmt: skip
        else:
            first[test] = number, case
        cases = tests.setdefault(test, [])
        case["number"] = len(cases) if case["number"] is None else case["number"]
        taken = numbers.setdefault(test, {})
        if case["number"] in taken:
            raise SuiteFileError(f"{where}: test {test!r} has case {case['number']} already, at line "
                                 f"{taken[case['number']]}")  # fmt: skip
        taken[case["number"]] = number
        cases.append(case)
    if not tests:
        raise SuiteFileError(f"{path} holds no case")
    return tests


def draw(tests: dict[str, list[dict]], cases: int | None, seed: int) -> dict[str, list[int]]:
    """Per test, the positions of its drawn cases, in the order drawn (CheckList's draw; see the module); every
    position, in order, when `cases` is None."""
    drawn = {}
    for test, found in tests.items():
        if cases is None:
            drawn[test] = list(range(len(found)))
        else:
            chosen = np.random.RandomState(seed).choice(len(found), min(cases, len(found)), replace=False)
            drawn[test] = [int(i) for i in chosen]
    return drawn


def drawn_case(case: dict) -> dict:
    """A drawn case as the behaviour stage scores it (`sentiflow.behaviour.score`): `case` its id, `texts_b` None
    (single texts)."""
    name = f"{case['test']}/{case['number']}"
    cluster = name if case["cluster"] is None else f"{case['test']}/{case['cluster']}"
    return {"case": name, "test": case["test"], "type": case["type"], "capability": case["capability"],
            "number": case["number"], "cluster": cluster, "texts": case["texts"], "texts_b": None,
            "expected": case["expected"]}  # fmt: skip


def sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def make_draw(path: str | Path, cases: int | None, seed: int, outputs) -> dict:
    """The peer_suite rule: the suite file read and checked, its draw written as JSON Lines (`outputs["cases"]`,
    tests in file order, a test's cases in file order) and summarised (`outputs["summary"]`)."""
    tests = read_suite_file(path)
    chosen = draw(tests, cases, seed)
    drawn = [drawn_case(tests[test][i]) for test, positions in chosen.items() for i in sorted(positions)]
    digest = sha256(path)
    summary = {
        "file": str(path), "sha256": digest, "cases": cases, "seed": seed,
        # On CheckList's released suite, its default draw is the paper's own sample.
        "paper_sample": digest == CHECKLIST_SENTIMENT_SHA256 and {"cases": cases, "seed": seed} == PAPER_SAMPLE,
        "tests": [{"test": test, "type": found[0]["type"], "capability": found[0]["capability"],
                   "cases": len(found), "drawn": len(chosen[test]),
                   "texts": sum(len(found[i]["texts"]) for i in chosen[test])} for test, found in tests.items()],
        "drawn": len(drawn), "texts": sum(len(case["texts"]) for case in drawn),
    }  # fmt: skip
    with atomic_path(outputs["cases"]) as tmp:
        tmp.write_text("".join(json.dumps(case, ensure_ascii=False) + "\n" for case in drawn), encoding="utf-8")
    write_json(outputs["summary"], summary)
    for test in summary["tests"]:
        print(f"{test['test']} ({test['type']}, {test['capability']}): {test['drawn']} of {test['cases']} cases, "
              f"{test['texts']} texts", flush=True)  # fmt: skip
    print(f"{summary['drawn']} cases, {summary['texts']} texts; the paper's sample: {summary['paper_sample']}")
    return summary


def read_drawn(path: str | Path) -> list[dict]:
    """The peer_suite rule's drawn cases (`drawn_case`), in file order."""
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
