"""The findings: the verdict rule on hand-made evidence (each verdict, and evidence that is missing), and the findings
rule on a hand-made dataset's files, written as the statistics stages write them (docs/outputs.md)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from sentiflow.findings.build import write_findings
from sentiflow.findings.rows import COLUMNS, Finding
from sentiflow.findings.study import FindingsFiles, FindingsSettings
from sentiflow.findings.verdict import (
    CONTRADICTED,
    EFFECT,
    INCONCLUSIVE,
    NO_EFFECT,
    NO_INTERVAL,
    NOT_MEASURED,
    NOT_TESTED,
    SUPPORTED,
    UNRESOLVED,
    evidence,
    headline,
    side,
    verdict,
    within,
)


def piece(estimate, low, high, threshold=0.0, measure="m", count=10):
    return evidence("association", measure, "minilm", estimate, low, high, threshold, "x.csv", count)


def test_a_piece_is_judged_by_where_its_interval_lies_against_its_threshold():
    assert piece(0.10, 0.04, 0.16).state == EFFECT  # excludes no effect
    assert piece(-0.10, -0.16, -0.04).state == NO_EFFECT  # excludes it, the other way
    assert piece(0.03, -0.02, 0.08).state == UNRESOLVED
    assert piece(0.03, None, None).state == NO_INTERVAL and piece(0.03, float("nan"), 0.1).state == NO_INTERVAL
    # A minimum effect moves the threshold: an interval above 0 but not above it is unresolved, and one wholly
    # below it excludes an effect of that size.
    assert piece(0.03, 0.01, 0.06, threshold=0.02).state == UNRESOLVED
    assert piece(0.01, 0.002, 0.015, threshold=0.02).state == NO_EFFECT
    # A failure rate against the smallest rate that shows a failure mode.
    assert piece(0.45, 0.30, 0.61, threshold=0.1).state == EFFECT and piece(0.02, 0.0, 0.05, 0.1).state == NO_EFFECT


def test_pieces_on_one_side_agree_unless_they_contradict_each_other():
    effect, none, open_, bare = (
        piece(0.1, 0.04, 0.16),
        piece(-0.1, -0.2, -0.05),
        piece(0, -0.1, 0.1),
        piece(0, None, None),
    )
    assert side([effect, open_, bare]) == EFFECT  # one resolves an effect, none excludes it
    assert side([none, open_]) == NO_EFFECT
    assert side([effect, none]) == UNRESOLVED  # they disagree
    assert side([open_, bare]) == UNRESOLVED and side([bare]) == NO_INTERVAL
    assert side([]) is None  # no piece: the side is missing
    # The sentence names the piece that decided the side: the one farthest beyond its threshold.
    strong = piece(0.2, 0.1, 0.3, measure="strong")
    assert headline([effect, strong, open_]).measure == "strong"
    assert headline([open_, piece(0, -0.1, 0.1, measure="big", count=99)]).measure == "big"


@pytest.mark.parametrize(
    "sides, expected",
    [
        ([EFFECT, EFFECT], SUPPORTED),  # association and intervention both show the effect
        ([EFFECT, NO_EFFECT], CONTRADICTED),  # the cue travels with errors, the tests that change only it pass
        ([NO_EFFECT, EFFECT], CONTRADICTED),
        ([EFFECT, UNRESOLVED], INCONCLUSIVE),
        ([UNRESOLVED, UNRESOLVED], INCONCLUSIVE),
        ([EFFECT, NO_INTERVAL], NOT_TESTED),  # an estimate without an interval cannot support
        ([EFFECT, None], NOT_MEASURED),  # a side's evidence is missing: a stage off
        ([EFFECT], SUPPORTED),
        ([NO_EFFECT], CONTRADICTED),
    ],
)
def test_each_verdict_from_the_sides_of_a_claim(sides, expected):
    assert verdict(sides) == expected


def test_a_published_number_is_reproduced_inside_the_interval_widened_by_the_minimum_difference():
    ours = piece(0.88, 0.86, 0.90)
    assert within(ours, 0.89, 0.0) == SUPPORTED and within(ours, 0.905, 0.0) == CONTRADICTED
    assert within(ours, 0.905, 0.01) == SUPPORTED and within(piece(0.88, None, None), 0.9, 0) == NOT_TESTED


def test_a_findings_sentence_ends_with_its_verdict():
    with pytest.raises(ValueError, match="does not end with its verdict"):
        Finding(id="x", topic="t", question="q?", sentence="A: supported.", verdict=INCONCLUSIVE, section="s",
                part="accuracy")  # fmt: skip
    with pytest.raises(ValueError, match="verdict 'maybe'"):
        Finding(id="x", topic="t", question="q?", sentence="A: maybe.", verdict="maybe", section="s", part="accuracy")


GROUP = {"backbone_key": "minilm", "variant": "base", "model": "models/minilm", "seeds": 3}


def write_study(root, behaviour=True, llm=True, absent=None, label_issues=True, reference=None):
    """A dataset's files as the statistics stages write them, with outcomes chosen by hand: MiniLM and its lr-1e-4
    variant over 3 seeds, one LLM entry with its cascade, a behavioural suite of five tests."""
    root.mkdir(parents=True, exist_ok=True)
    summary = {
        "bootstrap": {"confidence": 0.95}, "validation_sentences": 872,
        "backbones": [GROUP | {"backbone": "minilm", "selected_accuracy": 0.88, "selected_ci_low": 0.86,
                               "selected_ci_high": 0.90},
                      GROUP | {"backbone": "minilm+lr", "variant": "lr", "selected_accuracy": 0.87,
                               "selected_ci_low": 0.85, "selected_ci_high": 0.89}],
        "variants": [{"backbone": "minilm", "variant": "lr", "reference": "base", "seeds": 3, "difference": -0.01,
                      "difference_ci_low": -0.03, "difference_ci_high": 0.01, "mcnemar_p_min": 0.2,
                      "mcnemar_p_max": 0.7}],
        "backbone_pairs": [],
    }  # fmt: skip
    (root / "summary.json").write_text(json.dumps(summary))
    modes = [("negation", 130, 0.20, 0.10, 0.04, 0.16), ("contrast", 90, 0.14, 0.12, -0.03, 0.07),
             ("mixed_polarity", 60, 0.20, 0.12, 0.02, 0.15), ("shortcut_against_gold", 40, 0.17, 0.12, -0.02, 0.12),
             ("question", 12, 0.0, 0.12, -0.2, 0.1)]  # fmt: skip
    pd.DataFrame(
        [{"backbone": group, "cue": cue, "sentences": n, "error_rate_with": w, "error_rate_without": wo,
          "difference_ci_low": low, "difference_ci_high": high}
         for group in ("minilm", "minilm+lr") for cue, n, w, wo, low, high in modes]
    ).to_csv(root / "failure_modes.csv", index=False)  # fmt: skip
    (root / "overconfidence.json").write_text(json.dumps({"backbones": {
        group: {"threshold": 0.9, "errors_mean": 104.0, "overconfident_share": 0.35} for group in ("minilm", "minilm+lr")
    }}))  # fmt: skip
    pd.DataFrame(
        [{"backbone": group, "seed": seed, "stage": stage, "method": "holdout", "temperature": t, "ece": ece}
         for group in ("minilm", "minilm+lr") for seed in (1, 2, 3)
         for stage, t, ece in (("before", 1.0, 0.06 + seed / 100), ("after", 1.5, 0.02))]
    ).to_csv(root / "calibration.csv", index=False)  # fmt: skip
    issues = {"candidates": 40, "confirmed": 4, "voters": ["qwen"], "note": None,
              "precision": {"confirmed": {"candidates": 4, "estimate": 0.82, "ci": [0.61, 0.95]}},
              "rule": {"min_precision": 0.5}}  # fmt: skip
    (root / "label_issues.json").write_text(json.dumps(issues))
    files = {name: str(root / name) for name in ("summary.json", "failure_modes.csv", "overconfidence.json",
                                                  "calibration.csv", "label_issues.json")}  # fmt: skip
    files = {"summary": files["summary.json"], "failure_modes": files["failure_modes.csv"],
             "overconfidence": files["overconfidence.json"], "calibration": files["calibration.csv"],
             "label_issues": files["label_issues.json"], "behaviour": None, "llm": {}}  # fmt: skip
    if behaviour:
        tests = [("negation_positive", "MFT", "negation_contrast", 0.45, 0.30, 0.61, 0.10, -0.02, 0.22),
                 ("sarcastic_tail", "DIR", "mixed_tone", 0.02, 0.0, 0.05, -0.01, -0.1, 0.08),
                 ("name_swap", "INV", "shortcuts", 0.20, 0.12, 0.30, 0.15, 0.05, 0.25),
                 ("typos", "INV", "robustness", 0.05, 0.01, 0.12, 0.0, -0.05, 0.05)]  # fmt: skip
        rates = [{"test": t, "type": kind, "probes": probes, "model": model, "kind": "encoder", "seed": "all",
                  "seeds": 3, "cases": 180, "failure_rate": rate, "ci_low": low, "ci_high": high}
                 for t, kind, probes, rate, low, high, *_ in tests for model in ("minilm", "minilm+lr")]  # fmt: skip
        pd.DataFrame(rates).to_csv(root / "failure_rates.csv", index=False)
        pd.DataFrame(
            [{"comparison": "llm", "test": t, "model_a": "minilm", "model_b": "qwen", "clusters": 18, "cases": 18,
              "difference": d, "ci_low": low, "ci_high": high} for t, _, _, _, _, _, d, low, high in tests]
            + [{"comparison": "llm", "test": "all tests", "model_a": "minilm", "model_b": "qwen", "clusters": 80,
                "cases": 80, "difference": 0.06, "ci_low": 0.01, "ci_high": 0.11}]
        ).to_csv(root / "comparisons.csv", index=False)  # fmt: skip
        (root / "behaviour.json").write_text(json.dumps({"cases": 720, "best_encoder": "minilm",
            "tests": [{"test": t, "type": kind, "probes": probes} for t, kind, probes, *_ in tests]}))  # fmt: skip
        files["behaviour"] = {"failure_rates": str(root / "failure_rates.csv"),
                              "comparisons": str(root / "comparisons.csv"), "summary": str(root / "behaviour.json")}  # fmt: skip
    if llm:
        (root / "llm.json").write_text(json.dumps({"entry": "qwen", "validation_llm_accuracy": 0.91}))
        (root / "cascade.json").write_text(json.dumps({"backbones": {group: {
            "sentences": 872, "encoder_accuracy": 0.88, "llm_accuracy": 0.91, "llm_gain_ci_low": 0.005,
            "llm_gain_ci_high": 0.055, "cascade_accuracy": 0.93, "gain_ci_low": 0.03, "gain_ci_high": 0.07,
            "deferred_share": 0.22} for group in ("minilm", "minilm+lr")}}))  # fmt: skip
        files["llm"] = {"qwen": {"summary": str(root / "llm.json"), "cascade": str(root / "cascade.json")}}
    absent = {"llm": None, "cascade": None, "behaviour": None, "label_issues": None} | (absent or {})
    settings = {"rule": {"min_difference": 0.0, "min_failure_rate": 0.1}, "reference": reference or {},
                "absent": absent}  # fmt: skip
    return files, settings


def run_findings(tmp_path, **changes):
    files, settings = write_study(tmp_path / "in", **changes)
    outputs = {"table": tmp_path / "out/findings.csv", "summary": tmp_path / "out/findings.json"}
    write_findings("sst2", files, settings, outputs)
    table = pd.read_csv(outputs["table"]).set_index("id")
    return table, json.loads(outputs["summary"].read_text())


def test_the_findings_of_a_hand_made_study(tmp_path):
    table, summary = run_findings(tmp_path)
    assert list(pd.read_csv(tmp_path / "out/findings.csv").columns) == COLUMNS
    verdicts = table["verdict"].to_dict()
    # Negation: the negation cue's difference excludes 0 (contrast's does not, and does not contradict it), and
    # the negation test fails 45% [30, 61], above 10%: both point the same way.
    assert verdicts["failure_mode/negation_contrast/minilm"] == SUPPORTED
    row = table.loc["failure_mode/negation_contrast/minilm"]
    assert (row["evidence"], row["estimate"], row["ci_low"]) == ("association: negation", pytest.approx(0.10), 0.04)
    assert (row["evidence_2"], row["estimate_2"], row["ci_high_2"]) == ("intervention: negation_positive", 0.45, 0.61)
    assert row["section"] == "sst2-behaviour-association"
    assert (
        row["sentence"].endswith(": supported.")
        and "negation_positive fails minilm in 45% [30, 61] of 180 cases" in row["sentence"]
    )
    # Mixed tone: the cue travels with errors, but the sarcastic tail, all else equal, moves the answer in 2% [0, 5]
    # of cases, below 10%: the intervention excludes what the association suggests.
    assert verdicts["failure_mode/mixed_tone/minilm"] == CONTRADICTED
    # Shortcuts: the association's interval holds 0.
    assert verdicts["failure_mode/shortcuts/minilm"] == INCONCLUSIVE
    assert table.loc["failure_mode/shortcuts/minilm", "reason"].startswith("an interval holds no effect")
    # Robustness has no association measure: the typos test alone, its interval holding 10%.
    assert verdicts["failure_mode/robustness/minilm"] == INCONCLUSIVE
    assert pd.isna(table.loc["failure_mode/robustness/minilm", "evidence_2"])
    # Over-confidence and calibration: no interval is written for them.
    assert verdicts["failure_mode/overconfidence/minilm"] == NOT_TESTED
    assert verdicts["calibration/minilm"] == NOT_TESTED
    assert table.loc["calibration/minilm", "estimate"] == pytest.approx(0.08)  # mean of 0.07, 0.08, 0.09
    # The LLM: better on validation by 0.03 [0.005, 0.055] (the cascade's paired interval), better on the tests
    # overall; per failure mode by the tests that probe it; its cascade gains 0.05 [0.03, 0.07] deferring 22%.
    assert verdicts["llm/validation"] == SUPPORTED and verdicts["llm/behaviour"] == SUPPORTED
    assert verdicts["llm/failure_mode/negation_contrast"] == INCONCLUSIVE
    assert verdicts["llm/failure_mode/shortcuts"] == SUPPORTED
    assert (
        verdicts["cascade/qwen"] == SUPPORTED and "sends 22% of 872 sentences" in table.loc["cascade/qwen", "sentence"]
    )
    # The variant against base: its interval holds 0; one backbone: nothing to compare.
    assert verdicts["variants/minilm+lr"] == INCONCLUSIVE
    assert (
        "minilm is more accurate than minilm+lr by +0.010 [-0.010, +0.030]"
        in table.loc["variants/minilm+lr", "sentence"]
    )
    assert verdicts["backbones"] == NOT_MEASURED and "one backbone" in table.loc["backbones", "reason"]
    # No published number for MiniLM: the accuracy is shown, not judged.
    assert verdicts["accuracy/minilm"] == NOT_TESTED
    # Label issues: 4 confirmed, an estimated 0.82 [0.61, 0.95] of them wrong, above the bar of 0.5.
    assert verdicts["label_issues"] == SUPPORTED and table.loc["label_issues", "threshold"] == 0.5
    assert summary["rule"] == {"min_difference": 0.0, "min_failure_rate": 0.1, "confidence": 0.95}
    assert summary["counts"][SUPPORTED] == (table["verdict"] == SUPPORTED).sum()
    assert {row["id"] for row in summary["unanswered"]} == set(table.index[table["verdict"].isin([NOT_MEASURED,
                                                                                                   NOT_TESTED])])  # fmt: skip
    # Every piece of evidence is in the JSON with its state.
    negation = next(f for f in summary["findings"] if f["id"] == "failure_mode/negation_contrast/minilm")
    assert [(p["measure"], p["state"]) for p in negation["evidence"]] == [
        ("negation", EFFECT), ("contrast", UNRESOLVED), ("negation_positive", EFFECT)]  # fmt: skip


def test_a_published_number_inside_or_outside_the_interval(tmp_path):
    table, _ = run_findings(tmp_path, reference={"minilm": {"best": 0.905, "last": 0.9}})
    assert table.loc["accuracy/minilm", "verdict"] == CONTRADICTED  # 0.905 lies above [0.86, 0.90]
    assert "above our interval" in table.loc["accuracy/minilm", "sentence"]
    assert table.loc["accuracy/minilm+lr", "verdict"] == NOT_TESTED  # a variant: the paper did not run it


def test_missing_evidence_is_not_measured_and_says_why(tmp_path):
    table, summary = run_findings(
        tmp_path, behaviour=False, llm=False, label_issues=False,
        absent={"behaviour": "behaviour.enabled: false", "llm": "llm.enabled: false",
                "label_issues": "analysis.label_issues.enabled: false"},
    )  # fmt: skip
    for mode in ("negation_contrast", "mixed_tone", "shortcuts"):
        row = table.loc[f"failure_mode/{mode}/minilm"]
        # The association is still shown; the verdict waits for the intervention.
        assert row["verdict"] == NOT_MEASURED and row["reason"] == "no behavioural test ran (behaviour.enabled: false)"
        assert row["evidence"].startswith("association") and pd.isna(row["evidence_2"])
    assert "failure_mode/robustness/minilm" not in table.index  # no suite: nothing says robustness is probed
    for id in ("llm/validation", "llm/behaviour", "llm/failure_mode/negation_contrast", "cascade"):
        assert table.loc[id, "verdict"] == NOT_MEASURED and table.loc[id, "reason"] == "llm.enabled: false"
    assert table.loc["label_issues", "reason"] == "label issues are off (analysis.label_issues.enabled: false)"
    assert table.loc["cascade", "sentence"].endswith("? — llm.enabled: false: not measured.")
    assert len(summary["unanswered"]) == (table["verdict"].isin([NOT_MEASURED, NOT_TESTED])).sum()


def test_the_cascade_off_and_no_witness(tmp_path):
    files, settings = write_study(tmp_path / "in")
    files["llm"]["qwen"].pop("cascade")
    settings["absent"]["cascade"] = "llm.cascade.enabled: false"
    issues = json.loads((tmp_path / "in/label_issues.json").read_text())
    (tmp_path / "in/label_issues.json").write_text(
        json.dumps(
            issues
            | {"confirmed": 0, "precision": None, "voters": [], "note": "no witness is configured for this dataset"}
        )
    )
    outputs = {"table": tmp_path / "findings.csv", "summary": tmp_path / "findings.json"}
    write_findings("sst2", files, settings, outputs)
    table = pd.read_csv(outputs["table"]).set_index("id")
    assert (
        table.loc["cascade", "verdict"] == NOT_MEASURED
        and "llm.cascade.enabled: false" in table.loc["cascade", "reason"]
    )
    assert table.loc["llm/validation", "verdict"] == NOT_MEASURED  # paired with the encoder only in the cascade
    assert table.loc["llm/behaviour", "verdict"] == SUPPORTED  # the behavioural comparison does not need it
    assert (
        table.loc["label_issues", "reason"]
        == "40 candidates, none confirmed: no witness is configured for this dataset"
    )


def test_the_findings_inputs_are_checked_by_name(tmp_path):
    files, settings = write_study(tmp_path)
    typed = FindingsFiles.from_dict(files)
    assert len(typed.paths()) == 5 + 3 + 2 and typed.llm["qwen"].cascade == tmp_path / "cascade.json"
    with pytest.raises(ValueError, match=r"the findings' inputs: unknown \['slices'\], missing \['calibration'\]"):
        FindingsFiles.from_dict({k: v for k, v in files.items() if k != "calibration"} | {"slices": "x"})
    with pytest.raises(ValueError, match=r"the findings' inputs, llm qwen: unknown \['table'\], missing \['summary'\]"):
        FindingsFiles.from_dict(files | {"llm": {"qwen": {"table": "t.csv"}}})
    with pytest.raises(ValueError, match=r"unknown absent part\(s\) \['slices'\]"):
        FindingsSettings.from_dict(settings | {"absent": {"slices": "analysis.slices.enabled: false"}})
