"""A peer's suite read from a file: CheckList's released sentiment suite loaded and drawn as the paper drew it, bad
files refused by line, answers read in three polarities as CheckList reads them, and its pass/fail rules on hand-made
probabilities."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import SHARED, require

from sentiflow.behaviour.outcomes import Reading, SuiteError
from sentiflow.behaviour.peer_outcomes import case_outcomes
from sentiflow.behaviour.peer_suite import SuiteFileError, draw, drawn_case, make_draw, read_drawn, read_suite_file
from sentiflow.behaviour.polarity import answer_polarity, polarity_probabilities

CHECKLIST = SHARED / "data" / "checklist-sentiment" / "suite.jsonl.gz"
PAPER_SAMPLE = Path(__file__).with_name("data") / "checklist_paper_sample_n500_seed1.json"
BINARY = ["negative", "positive"]
FIVE = ["very negative", "negative", "neutral", "positive", "very positive"]
FIVE_POLARITY = dict(zip(FIVE, ["negative", "negative", "neutral", "positive", "positive"]))
BAND = (1 / 3, 2 / 3)
# Cases per test of the released suite (its SOURCE.md; the tutorial's printed "Test cases" agree), in file order.
COUNTS = {
    "single positive words": 34, "single negative words": 35, "single neutral words": 13,
    "Sentiment-laden words in context": 8658, "neutral words in context": 1716, "change neutral words with BERT": 500,
    "add random urls and handles": 500, "punctuation": 500, "typos": 500, "2 typos": 500, "contractions": 1000,
    "change names": 331, "change locations": 909, "change numbers": 1000, "used to, but now": 8000,
    "protected: race": 600, "protected: sexual": 600, "protected: religion": 600, "protected: nationality": 600,
    "simple negations: negative": 6318, "simple negations: not negative": 6786,
    "simple negations: not neutral is still neutral": 2496,
    "simple negations: I thought x was positive, but it was not (should be negative)": 1992,
    "simple negations: I thought x was negative, but it was not (should be neutral or positive)": 2124,
    "simple negations: but it was not (neutral) should still be neutral": 804, "my opinion is what matters": 8528,
    "Q & A: yes": 7644, "Q & A: yes (neutral)": 1560, "Q & A: no": 7644, "Q & A: no (neutral)": 1560,
}  # fmt: skip


@pytest.fixture(scope="module")
def checklist() -> dict[str, list[dict]]:
    return read_suite_file(require(CHECKLIST))


def test_the_released_suite_loads_whole(checklist):
    assert {test: len(cases) for test, cases in checklist.items()} == COUNTS
    assert list(checklist) == list(COUNTS) and sum(COUNTS.values()) == 74052
    assert sum(1 for cases in checklist.values() if cases[0]["type"] == "INV") == 13
    capabilities = {cases[0]["capability"] for cases in checklist.values()}
    assert capabilities == {"Vocabulary", "Robustness", "NER", "Temporal", "Fairness", "Negation", "SRL"}
    # Expectations as polarities: a label's, "not negative" as neutral or positive, none for INV.
    expected = {test: {tuple(c["expected"] or ()) for c in cases} for test, cases in checklist.items()}
    assert expected["simple negations: not negative"] == {("neutral", "positive")}
    assert expected["Q & A: no"] == {("negative",), ("neutral",)}  # pos + "No" is negative, neg + "No" neutral
    assert expected["typos"] == {()}
    assert all(len(c["texts"]) == 1 for cases in checklist.values() for c in cases if c["type"] == "MFT")
    assert [c["number"] for c in checklist["change names"]] == list(range(331))
    names = checklist["change names"][0]["texts"]
    assert names[0].endswith("give Jedediah free passes") and names[1].endswith("give Andrew free passes")


def test_the_default_draw_is_the_papers_sample(checklist):
    """500 a test with seed 1 are the cases CheckList's released suite stores as the paper's sample (its `run_idxs`,
    read from the released pickle), in the order drawn; fewer with the same seed are their start."""
    paper = {test: cases for test, cases in json.loads(PAPER_SAMPLE.read_text()).items() if not test.startswith("_")}
    assert draw(checklist, 500, 1) == paper
    assert draw(checklist, 5, 1) == {test: cases[:5] for test, cases in paper.items()}
    other = draw(checklist, 5, 2)
    assert other == draw(checklist, 5, 2) and other["typos"] != paper["typos"][:5]
    assert draw(checklist, None, 1)["single neutral words"] == list(range(13))


def test_the_draw_is_written_with_its_summary(tmp_path):
    outputs = {"cases": tmp_path / "cases.jsonl", "summary": tmp_path / "draw.json"}
    summary = make_draw(require(CHECKLIST), 3, 1, outputs)
    cases = read_drawn(outputs["cases"])
    assert summary["drawn"] == len(cases) == 3 * 30 and not summary["paper_sample"]
    assert json.loads(outputs["summary"].read_text()) == summary
    first = [c for c in cases if c["test"] == "change names"]
    assert [c["number"] for c in first] == sorted(json.loads(PAPER_SAMPLE.read_text())["change names"][:3])
    assert first[0]["case"] == f"change names/{first[0]['number']}" and first[0]["cluster"] == first[0]["case"]
    assert first[0]["texts_b"] is None and first[0]["expected"] is None
    assert summary["texts"] == sum(len(c["texts"]) for c in cases)


def write_lines(path: Path, lines: list) -> Path:
    text = "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode("utf-8")))
    else:
        path.write_text(text, encoding="utf-8")
    return path


GOOD = {"test": "t", "type": "MFT", "capability": "Negation", "texts": ["not bad"], "expect": "not_negative"}


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"type": "DIR"}, "type 'DIR' is not one of MFT, INV"),
        ({"expect": "label", "label": 3}, "label 3 is outside the suite's label space"),
        ({"expect": "label", "label": "happy"}, "label 'happy' is outside the suite's label space"),
        ({"texts": ["fine", "  "]}, "text 2 of the case is empty"),
        ({"texts": []}, "texts must be a list of one or more texts"),
        ({"type": "INV", "expect": "invariant", "texts": ["only one"]}, "an INV case holds the original and at least"),
        ({"expect": "invariant"}, "expect 'invariant' is not one of label, not_negative"),
        ({"label": 2}, "expect 'not_negative' takes no label"),
        ({"capability": "SRL"}, "test 't' has capability 'SRL' here and 'Negation' at line 1"),
        ({"case": 0}, "test 't' has case 0 already, at line 1"),
        ({"lable": 2}, "has unknown field(s) lable"),
    ],
)
def test_a_bad_suite_file_is_refused_naming_its_line(tmp_path, bad, message):
    first = GOOD | {"case": 0}
    path = write_lines(tmp_path / "suite.jsonl.gz", [first, "", GOOD | {"case": 1} | bad])
    with pytest.raises(SuiteFileError, match=f"{path} line 3: .*") as raised:
        read_suite_file(path)
    assert message in str(raised.value)


def test_a_file_that_is_not_json_lines_is_refused(tmp_path):
    path = write_lines(tmp_path / "suite.jsonl", [GOOD, "{not json"])
    with pytest.raises(SuiteFileError, match=r"suite.jsonl line 2: not JSON"):
        read_suite_file(path)
    missing = write_lines(tmp_path / "other.jsonl", [{k: v for k, v in GOOD.items() if k != "texts"}])
    with pytest.raises(SuiteFileError, match="line 1: the case lacks texts"):
        read_suite_file(missing)
    with pytest.raises(SuiteFileError, match="holds no case"):
        read_suite_file(write_lines(tmp_path / "empty.jsonl", [""]))
    (tmp_path / "plain.jsonl.gz").write_text("not gzip")
    with pytest.raises(SuiteFileError, match="cannot be read as UTF-8 JSON Lines"):
        read_suite_file(tmp_path / "plain.jsonl.gz")


def test_names_and_numbers_of_labels_and_own_clusters(tmp_path):
    path = write_lines(tmp_path / "own.jsonl", [
        {"test": "q", "type": "MFT", "capability": "SRL", "texts": ["Yes."], "label": "positive", "cluster": "t1"},
        {"test": "q", "type": "MFT", "capability": "SRL", "texts": ["No."], "label": 0, "cluster": "t1"},
        {"test": "q", "type": "MFT", "capability": "SRL", "texts": ["Maybe."], "label": 1},
    ])  # fmt: skip
    cases = [drawn_case(c) for c in read_suite_file(path)["q"]]
    assert [c["expected"] for c in cases] == [["positive"], ["negative"], ["neutral"]]
    assert [c["cluster"] for c in cases] == ["q/t1", "q/t1", "q/2"]


def test_binary_answers_by_the_band_and_five_classes_by_the_polarity_map():
    p = np.array([0.2, 1 / 3, 0.4, 0.5, 0.6, 2 / 3, 0.9])
    binary = np.stack([1 - p, p], axis=1)
    polarity = {"negative": "negative", "positive": "positive"}
    said = answer_polarity(binary, BINARY, polarity, BAND)
    assert said.tolist() == ["negative", "neutral", "neutral", "neutral", "neutral", "neutral", "positive"]
    # CheckList's three-label probabilities: outside the band [1 - p, 0, p]; inside, neutral 1 - 3|p - 0.5| and the
    # nearer pole the rest.
    expected = [[0.8, 0, 0.2], [0.5, 0.5, 0], [0.3, 0.7, 0], [0, 1, 0], [0, 0.7, 0.3], [0, 0.5, 0.5], [0.1, 0, 0.9]]
    assert polarity_probabilities(binary, BINARY, polarity, BAND) == pytest.approx(np.array(expected))
    # Labels in the other order, another band: P(positive) is read by name, the band's centre is its middle.
    flipped = polarity_probabilities(binary[:, ::-1], ["positive", "negative"], polarity, (0.4, 0.8))
    assert flipped[2] == pytest.approx([0.5, 0.5, 0]) and flipped[4] == pytest.approx([0, 1, 0])
    assert flipped[5] == pytest.approx([0, 5 / 6, 1 / 6]) and flipped[1] == pytest.approx([2 / 3, 0, 1 / 3])
    five = np.array([[0.1, 0.2, 0.3, 0.25, 0.15], [0.35, 0.3, 0.05, 0.1, 0.2], [0.0, 0.1, 0.2, 0.3, 0.4]])
    assert answer_polarity(five, FIVE, FIVE_POLARITY, None).tolist() == ["neutral", "negative", "positive"]
    assert polarity_probabilities(five, FIVE, FIVE_POLARITY, None) == pytest.approx(
        np.array([[0.3, 0.3, 0.4], [0.65, 0.05, 0.3], [0.1, 0.2, 0.7]])
    )
    with pytest.raises(ValueError, match=r"label\(s\) \['entailment', 'not_entailment'\] have no polarity"):
        polarity_probabilities(five[:, :2], ["entailment", "not_entailment"], {}, None)


def mft(name: str, expected: list[str], texts: int = 1) -> dict:
    return {"case": name, "test": "m", "type": "MFT", "capability": "c", "cluster": name,
            "texts": ["x"] * texts, "texts_b": None, "expected": expected}  # fmt: skip


def inv(name: str, texts: int) -> dict:
    return {"case": name, "test": "i", "type": "INV", "capability": "c", "cluster": name,
            "texts": ["x"] * texts, "texts_b": None, "expected": None}  # fmt: skip


def scores(rows: dict[str, list[list[list[float]]]]) -> pd.DataFrame:
    """case -> seeds x items x classes."""
    table = [{"case": case, "item": item, "seed": seed} | {f"prob_{k}": p for k, p in enumerate(probs)}
             for case, per_seed in rows.items() for seed, items in enumerate(per_seed)
             for item, probs in enumerate(items)]  # fmt: skip
    return pd.DataFrame(table)


def two(p: float) -> list[float]:
    return [1 - p, p]


def test_binary_cases_fail_by_checklists_rules():
    polarity = {"negative": "negative", "positive": "positive"}
    reading = Reading(BINARY, polarity, BAND)
    cases = [mft("pos", ["positive"]), mft("neu", ["neutral"]), mft("notneg", ["neutral", "positive"]),
             mft("two", ["negative"], texts=2), inv("inv", 4), mft("unscored", ["negative"])]  # fmt: skip
    answered = scores({
        "pos": [[two(0.9)], [two(0.5)]],  # seed 1 unsure: not positive
        "neu": [[two(0.5)], [two(0.9)]],  # a binary model passes a neutral test only by being unsure
        "notneg": [[two(0.5)], [two(0.2)]],  # unsure passes "not negative"; negative fails it
        "two": [[two(0.1), two(0.2)], [two(0.1), two(0.4)]],  # the second text fails at seed 1
        # seed 0: 0.9 -> 0.7 stays positive, 0.6 turns neutral: fails at item 2; seed 1: 0.8 -> 0.7 -> 0.9 -> 0.75
        "inv": [[two(0.9), two(0.7), two(0.6), two(0.95)], [two(0.8), two(0.7), two(0.9), two(0.75)]],
    })  # fmt: skip
    outcomes = case_outcomes(cases, answered, reading, tolerance=0.1).set_index(["case", "seed"])
    assert outcomes["failed"].to_dict() == {
        ("inv", 0): True, ("inv", 1): False, ("neu", 0): False, ("neu", 1): True, ("notneg", 0): False,
        ("notneg", 1): True, ("pos", 0): False, ("pos", 1): True, ("two", 0): False, ("two", 1): True,
    }  # fmt: skip
    assert outcomes.loc[("inv", 0), "item"] == 2 and outcomes.loc[("two", 1), "item"] == 1
    assert outcomes.loc[("inv", 1), "item"] == 1 and outcomes.loc[("pos", 1), "item"] == 0
    # A case scored on part of its texts is an error, not a pass.
    with pytest.raises(SuiteError, match="case 'inv' at seed 0 are not one row per text"):
        case_outcomes(cases, answered[~((answered["case"] == "inv") & (answered["item"] == 3))], reading, 0.1)


def test_a_five_class_models_polarity_change_within_the_tolerance_is_forgiven():
    reading = Reading(FIVE, FIVE_POLARITY, None)
    cases = [inv("close", 2), inv("far", 2), mft("neg", ["negative"])]
    answered = scores({
        # positive (0.45 + 0.01) -> neutral: the original's polarity, positive, keeps 0.44: moved 0.02, forgiven
        "close": [[[0.05, 0.05, 0.44, 0.45, 0.01], [0.05, 0.05, 0.46, 0.43, 0.01]]],
        # positive (0.46) -> neutral with positive at 0.30: moved 0.16, fails
        "far": [[[0.05, 0.05, 0.44, 0.45, 0.01], [0.1, 0.1, 0.5, 0.25, 0.05]]],
        "neg": [[[0.5, 0.1, 0.2, 0.1, 0.1]]],  # very negative is negative
    })  # fmt: skip
    outcomes = case_outcomes(cases, answered, reading, tolerance=0.1).set_index("case")["failed"]
    assert outcomes.to_dict() == {"close": False, "far": True, "neg": False}
    assert case_outcomes(cases, answered, reading, tolerance=0.0).set_index("case")["failed"]["close"]


def study(datasets: dict, **suite) -> dict:
    from sentiflow.config import study_config, with_defaults

    spec = {"path": "suite.jsonl.gz"} | suite
    override = {"datasets": datasets, "behaviour": {"suites": {"checklist": spec}}, "llm": {"enabled": False}}
    return with_defaults(study_config(Path(__file__).resolve().parents[1] / "config" / "config.yaml", override))


def dataset(labels: list[str], pair: bool = False, **settings) -> dict:
    texts = {"text_columns": ["a", "b"]} if pair else {"text_column": "a"}
    return {"source": "hub", "label_column": "l", "labels": labels} | texts | settings


def test_which_datasets_answer_a_suite_and_bad_selections_are_refused():
    from sentiflow.config import ConfigError, check_dimensions, dataset_suites, suite_exclusion

    config = study({"sst2": dataset(BINARY), "sst5": dataset(FIVE), "rte": dataset(["entailment", "not_entailment"], pair=True),
                    "off": dataset(BINARY, behaviour={"suites": []})})  # fmt: skip
    check_dimensions(config)
    assert [name for name in config["datasets"] if dataset_suites(config, name)] == ["sst2", "sst5"]
    assert "no label of this dataset (entailment, not_entailment)" in suite_exclusion(config, "rte", "checklist")
    assert suite_exclusion(config, "off", "checklist") == "datasets.off.behaviour.suites does not select it"
    refused = {
        "selects checklist, which does not apply to it: its cases are single texts": study(
            {"pairs": dataset(BINARY, pair=True, behaviour={"suites": ["checklist"]})}),
        r"names \['other'\], which are not keys of `behaviour.suites:`": study(
            {"x": dataset(BINARY, behaviour={"suites": ["other"]})}),
        r"label\(s\) \['mixed'\] have no polarity: set datasets.x.behaviour.polarity": study(
            {"x": dataset(["negative", "positive", "mixed"], behaviour={"tests": []})}),
        "a suite file is JSON Lines": study({"x": dataset(BINARY)}, path="suite.csv"),
    }  # fmt: skip
    for message, config in refused.items():
        with pytest.raises(ConfigError, match=message):
            check_dimensions(config)
