"""A peer's suite from scores to the report on hand-made files: the peer_summary rule's rates, intervals and failing
cases; the section's published rates, cited, and our tests beside their counterparts; its text escaped in both
documents; what the report says where a dataset answers no suite."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from behaviour_files import compile_with_report_preamble, two, write_scores
from conftest import REPO
from markupsafe import escape

from sentiflow.analysis.proportions import wilson_of_share
from sentiflow.behaviour.peer_published import published_rates, shipped
from sentiflow.behaviour.peer_summary import run_peer_summary
from sentiflow.behaviour.summary import EncoderFiles, LLMFiles
from sentiflow.report import absent, peer_suites
from sentiflow.report.render import _template
from sentiflow.report.settings import DatasetSettings

TEMPLATES = REPO / "report"
SST2 = ["negative", "positive"]
POLARITY = {"negative": "negative", "positive": "positive"}
ODD = "<script>alert(1)</script> & 100% $x_#"


def case(test: str, number: int, kind: str, texts: list[str], expected=None, capability="Negation") -> dict:
    name = f"{test}/{number}"
    return {"case": name, "test": test, "type": kind, "capability": capability, "number": number, "cluster": name,
            "texts": texts, "texts_b": None, "expected": expected}  # fmt: skip


def study(folder: Path) -> dict:
    """Ten "not negative" MFT cases, four typo INV cases and an oddly named test; two run groups of two seeds, an
    LLM entry on some cases and its cascade."""
    folder.mkdir(parents=True)
    cases = [case("simple negations: not negative", i, "MFT", [f"The flight is not bad {i}."], ["neutral", "positive"])
             for i in range(10)]  # fmt: skip
    cases += [
        case("typos", i, "INV", [f"great flight {i}", f"graet flight {i}"], capability="Robustness") for i in range(4)
    ]
    cases += [case(ODD, 0, "MFT", ["<b>bold</b> & 50% off_"], ["positive"], capability="SRL & co")]
    (folder / "cases.jsonl").write_text("".join(json.dumps(c) + "\n" for c in cases))
    tests = [("simple negations: not negative", "MFT", "Negation", 6786, 10), ("typos", "INV", "Robustness", 500, 4),
             (ODD, "MFT", "SRL & co", 1, 1)]  # fmt: skip
    draw = {"file": "suite_{x}.jsonl", "sha256": "0" * 64, "cases": 10, "seed": 1, "paper_sample": False,
            "drawn": len(cases), "texts": 19,
            "tests": [{"test": t, "type": k, "capability": c, "cases": n, "drawn": d, "texts": d} for t, k, c, n, d in tests]}  # fmt: skip
    (folder / "draw.json").write_text(json.dumps(draw))
    # minilm: seed 0 fails 3 of the 10 negations (negative), seed 1 fails 5; typos: seed 0 fails typos/0 (0.9 -> 0.5).
    base = {f"simple negations: not negative/{i}": [[two(0.1 if i < 3 else 0.5)], [two(0.1 if i < 5 else 0.9)]]
            for i in range(10)}  # fmt: skip
    base |= {f"typos/{i}": [[two(0.9), two(0.5 if i == 0 else 0.8)], [two(0.9), two(0.95)]] for i in range(4)}
    base |= {f"{ODD}/0": [[two(0.9)], [two(0.2)]]}
    variant = {name: [seeds[1], seeds[1]] for name, seeds in base.items()}
    llm = {f"simple negations: not negative/{i}": [[two(0.2 if i < 4 else 0.6)]] for i in range(8)}
    (folder / "cascade.json").write_text(json.dumps({"backbones": {"minilm": {"threshold": 0.95}}}))
    aggregate = {"backbones": [{"backbone": "minilm", "selected_accuracy": 0.8},
                               {"backbone": "minilm+lr", "selected_accuracy": 0.7}]}  # fmt: skip
    (folder / "aggregate.json").write_text(json.dumps(aggregate))
    return {
        "cases": folder / "cases.jsonl",
        "draw": folder / "draw.json",
        "encoders": [
            EncoderFiles("minilm", "base", "minilm", write_scores(folder / "base.parquet", base, 2)),
            EncoderFiles("minilm", "lr", "minilm+lr", write_scores(folder / "lr.parquet", variant, 2)),
        ],
        "llms": [LLMFiles("smollm2", write_scores(folder / "llm.parquet", llm, 2), folder / "cascade.json")],
        "aggregate": folder / "aggregate.json",
    }


@pytest.fixture
def summarised(tmp_path):
    outputs = {"failure_rates": tmp_path / "out" / "failure_rates.csv",
               "failing_cases": tmp_path / "out" / "failing_cases.csv", "summary": tmp_path / "out" / "summary.json"}  # fmt: skip
    run_peer_summary(**study(tmp_path / "in"), labels=SST2, polarity=POLARITY, band=(1 / 3, 2 / 3), tolerance=0.1,
                     confidence=0.95, outputs=outputs)  # fmt: skip
    return outputs


def test_rates_per_test_and_model_with_intervals_and_the_failing_cases(summarised):
    rates = pd.read_csv(summarised["failure_rates"], dtype={"seed": str}).set_index(["test", "model", "seed"])
    negation = "simple negations: not negative"
    assert rates.loc[(negation, "minilm", "0"), "failure_rate"] == 0.3
    assert rates.loc[(negation, "minilm", "1"), "failure_rate"] == 0.5
    assert rates.loc[(negation, "minilm", "all"), ["failure_rate", "seeds", "cases"]].tolist() == [0.4, 2, 10]
    assert rates.loc[("typos", "minilm", "all"), "failure_rate"] == 1 / 8
    # One seed on cases that are their own clusters: Wilson's interval of the LLM's 4 failures in 8.
    llm = rates.loc[(negation, "smollm2", "all")]
    assert llm["cases"] == 8 and llm[["ci_low", "ci_high"]].tolist() == pytest.approx(wilson_of_share(0.5, 8))
    assert rates.loc[("typos", "smollm2", "all"), "cases"] == 0  # the LLM answered no typo case
    # The cascade: minilm's seed-mean P(positive) at or below 0.9 is under its 0.95 threshold: the LLM answers.
    cascade = rates.loc[(negation, "cascade minilm / smollm2", "all")]
    assert cascade["cases"] == 8 and cascade["failure_rate"] == 0.5
    assert rates.loc[(negation, "minilm", "all"), "capability"] == "Negation"
    failing = pd.read_csv(summarised["failing_cases"])
    mine = failing[(failing["model"] == "minilm") & (failing["test"] == negation)]
    # Failing in at least half the seeds: cases 0-4 (both seeds fail 0-2, seed 1 alone fails 3 and 4).
    assert mine["case"].tolist() == [f"{negation}/{i}" for i in range(5)]
    assert mine.iloc[0][["answer", "expected", "p_positive"]].tolist() == ["negative", "neutral or positive", 0.1]
    typo = failing[(failing["model"] == "minilm") & (failing["test"] == "typos")].iloc[0]
    assert typo[["case", "seed", "answer", "perturbed_answer", "perturbed"]].tolist() == [
        "typos/0", 0, "positive", "neutral", "graet flight 0"]  # fmt: skip
    assert typo["moved"] == pytest.approx(0.9)  # P(positive) 0.9 of the original; 0 as CheckList's neutral answer
    summary = json.loads(summarised["summary"].read_text())
    assert summary["best_encoder"] == "minilm" and summary["reading"]["binary"]
    assert [m["model"] for m in summary["models"]] == ["minilm", "minilm+lr", "smollm2", "cascade minilm / smollm2"]


def test_the_shipped_published_rates_cite_their_sources():
    assert shipped() == ["checklist_sentiment"]
    table = published_rates("checklist_sentiment")
    tutorial = table[table["source"] == "checklist-tutorial-5"]
    assert len(tutorial) == 30 and tutorial["test"].is_unique and not tutorial["secondary"].any()
    assert tutorial.set_index("test").loc["typos", ["failure_rate", "cases"]].tolist() == [0.066, 500]
    secondary = table[table["secondary"]]
    assert len(secondary) == 16 and set(secondary["model"]) == {"Microsoft", "Google", "Amazon", "BERT-base (SST-2)"}
    assert secondary["citation"].str.contains("not checked against the paper").all()
    assert table["citation"].str.len().gt(50).all() and "RoBERTa" not in " ".join(table["model"])


def settings(published: str | None = "checklist_sentiment", excluded: str | None = None) -> DatasetSettings:
    suite = {"title": "CheckList", "published": published, "excluded": excluded}
    return DatasetSettings(reference={}, max_train_rows=None, holdout_rows=0, llm_models=[], label_witnesses=None,
                           behaviour_enabled=True, behaviour_tests=[], peer_suites={"checklist": suite})  # fmt: skip


def our_rates(folder: Path) -> Path:
    """Our own behaviour_summary failure rates (the columns the section reads) for two tests with counterparts."""
    rows = [("negation_negative", "MFT", "minilm", 0.35, 0.2, 0.5), ("typos", "INV", "minilm", 0.05, 0.01, 0.2),
            ("typos", "INV", "smollm2", 0.2, 0.1, 0.4), ("contractions", "INV", "minilm", 0.0, 0.0, 0.1)]  # fmt: skip
    frame = pd.DataFrame(rows, columns=["test", "type", "model", "failure_rate", "ci_low", "ci_high"])
    path = folder / "ours.csv"
    frame.assign(seed="all", cases=20).to_csv(path, index=False)
    return path


@pytest.fixture
def section(summarised, tmp_path):
    files = peer_suites.PeerSuiteFiles(summarised["failure_rates"], summarised["summary"])
    return peer_suites.collect("checklist", files, settings().peer_suites["checklist"], our_rates(tmp_path))


def test_the_section_puts_published_rates_and_our_tests_beside_ours(section):
    assert section["title"] == "CheckList" and not section["paper_prefix"]
    negation, _, odd = section["capabilities"]
    assert [c["capability"] for c in section["capabilities"]] == ["Negation", "Robustness", "SRL & co"]
    test = negation["tests"][0]
    assert [r["model"] for r in test["rows"]] == ["minilm", "minilm+lr", "smollm2", "cascade minilm / smollm2"]
    assert [(q["model"], q["mark"], q["secondary"], q["failure_rate"]) for q in test["published"]] == [
        ("DistilBERT-base SST-2 (HF pipeline default)", 1, False, 0.102)]  # fmt: skip
    assert [s["source"] for s in section["sources"]] == ["checklist-tutorial-5", "paper-table-1-via-secondary"]
    assert section["sources"][1]["secondary"] and "RoBERTa-base" in section["published_absent"]
    assert odd["tests"][0]["published"] == []
    # Our tests beside their counterparts, for each model that answered both suites.
    pairs = [(c["test"], c["counterpart"], c["model"], c["ours"]["failure_rate"], c["theirs"]["failure_rate"])
             for c in section["counterparts"]]  # fmt: skip
    assert pairs == [
        ("negation_negative", "simple negations: not negative", "minilm", 0.35, 0.4),
        ("typos", "typos", "minilm", 0.05, 0.125),
    ]


def test_the_section_is_escaped_in_html_and_latex(section, tmp_path):
    context = {"d": {"name": "sst2", "peer_suites": [section], "absent": {"peer_suites": None}}, "s": 3}
    html = _template(TEMPLATES / "peer_suites.html.j2", latex=False).render(context)
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; 100% $x_#" in html
    assert "3.10 A peer's suite: CheckList" in html and "<i>DistilBERT-base SST-2 (HF pipeline default)</i> [1]" in html
    assert "not checked against the original" in html and "typos (INV)" in html
    tex = _template(TEMPLATES / "peer_suites.tex.j2", latex=True).render(context)
    assert (
        r"\textless{}script\textgreater{}alert(1)\textless{}/script\textgreater{} \& 100\% \$x\_\allowbreak{}\#" in tex
    )
    assert r"SRL \& co" in tex and r"suite\_\allowbreak{}\{x\}.jsonl" in tex
    compile_with_report_preamble(tex, tmp_path)


def test_a_dataset_without_a_suite_is_said_so():
    reason = "it tests sentiment, and no label of this dataset (entailment, not_entailment) has a negative or positive polarity"
    note = absent.peer_suites_note(None, settings(excluded=reason), enabled=True)
    assert str(note) == f"CheckList is not run on this dataset: {reason}"
    assert absent.peer_suites_note(None, settings(), enabled=True) is None  # answered: no note
    assert absent.peer_suites_note(None, settings(excluded=reason), enabled=False) is None  # the stage's own note says
    context = {"d": {"name": "rte", "peer_suites": None, "absent": {"peer_suites": note}}, "s": 5}
    assert str(escape(reason)) in _template(TEMPLATES / "peer_suites.html.j2", latex=False).render(context)
    assert "no label of this dataset (entailment, not\\_\\allowbreak{}entailment)" in _template(
        TEMPLATES / "peer_suites.tex.j2", latex=True).render(context)  # fmt: skip
