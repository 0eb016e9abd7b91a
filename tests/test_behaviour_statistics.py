"""The behavioural tests' scoring and statistics on hand-made suites and scores in the stage's file contract."""

from __future__ import annotations

from collections import Counter
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest
from behaviour_files import case, onehot, study_files, summary_outputs, two, write_scores, write_suite

from sentiflow.behaviour.cascade import cascade_scores, seed_answers
from sentiflow.behaviour.outcomes import PROBABILITY_FLOOR, Reading, SuiteError, case_outcomes, read_scores, read_suite
from sentiflow.behaviour.polarity import answer_polarity
from sentiflow.behaviour.statistics import (
    comparisons,
    fail_table,
    failure_rates,
    hierarchical_rates,
    paired_difference,
    rate_with_interval,
)
from sentiflow.behaviour.summary import run_summary

SST5 = ["very negative", "negative", "neutral", "positive", "very positive"]
SST2 = ["negative", "positive"]
BOOTSTRAP = {"samples": 4000, "confidence": 0.95, "seed": 0, "method": "BCa"}
INCREASE = {"labels": ["positive", "very positive"], "must_not": "increase", "scale": "probability", "tolerance": 0.1}
POLARITY = {"very negative": "negative", "negative": "negative", "neutral": "neutral", "positive": "positive",
            "very positive": "positive"}  # fmt: skip
BAND = (1 / 3, 2 / 3)


def outcomes_of(tmp_path, cases, probs, labels):
    suite = read_suite(write_suite(tmp_path / "suite.jsonl", cases))
    scores = read_scores(write_scores(tmp_path / "scores.parquet", probs, len(labels)), len(labels))
    reading = Reading(labels, {label: POLARITY[label] for label in labels}, BAND)
    return case_outcomes(suite, scores, reading).set_index(["case", "seed"])


def test_mft_fails_when_the_label_is_not_one_of_the_expected(tmp_path):
    cases = [case("neg/0", "negation_positive", "MFT", ["The acting was not good."], "t1",
                  expected_labels=["very negative", "negative"])]  # fmt: skip
    # Seed 0 answers negative (passes), seed 1 very negative (passes: both negative labels count), seed 2 neutral.
    probs = {"neg/0": [[onehot(1, 5)], [onehot(0, 5)], [onehot(2, 5)]]}
    outcomes = outcomes_of(tmp_path, cases, probs, SST5)
    assert outcomes["failed"].tolist() == [False, False, True] and outcomes["item"].tolist() == [0, 0, 0]


def test_inv_fails_when_any_perturbation_changes_the_label(tmp_path):
    texts = ["Tom Hanks is wonderful here.", "Ana Silva is wonderful here.", "Wei Chen is wonderful here."]
    cases = [case("names/0", "inv_names", "INV", texts, "validation:12", probes="shortcuts")]
    probs = {"names/0": [
        [two(0.9), two(0.6), two(0.55)],  # probabilities move, the label does not: passes
        [two(0.9), two(0.8), two(0.4)],  # the second perturbation flips it: fails on item 2
    ]}  # fmt: skip
    outcomes = outcomes_of(tmp_path, cases, probs, SST2)
    assert outcomes["failed"].tolist() == [False, True] and outcomes.loc[("names/0", 1), "item"] == 2


def test_dir_fails_when_the_watched_probability_moves_the_forbidden_way_beyond_the_tolerance(tmp_path):
    texts = ["A charming film.", "A charming film, if you enjoy being bored.", "A charming film, sort of."]
    cases = [case("tail/0", "dir_sarcasm", "DIR", texts, "validation:3", probes="mixed_tone", direction=INCREASE)]
    # P(positive) + P(very positive): 0.5 -> 0.55 -> 0.58 (within 0.1: passes); 0.5 -> 0.2 -> 0.65 (+0.15: fails
    # on item 2); 0.5 -> 0.1 -> 0.3 (falls: the allowed way).
    probs = {"tail/0": [
        [[0.1, 0.1, 0.3, 0.3, 0.2], [0.1, 0.1, 0.25, 0.35, 0.2], [0.1, 0.1, 0.22, 0.3, 0.28]],
        [[0.1, 0.1, 0.3, 0.3, 0.2], [0.4, 0.2, 0.2, 0.1, 0.1], [0.1, 0.05, 0.2, 0.4, 0.25]],
        [[0.1, 0.1, 0.3, 0.3, 0.2], [0.5, 0.3, 0.1, 0.05, 0.05], [0.3, 0.3, 0.1, 0.2, 0.1]],
    ]}  # fmt: skip
    outcomes = outcomes_of(tmp_path, cases, probs, SST5)
    assert outcomes["failed"].tolist() == [False, True, False] and outcomes.loc[("tail/0", 1), "item"] == 2
    decrease = dict(INCREASE, must_not="decrease")
    cases[0]["direction"] = decrease  # the same answers under the opposite rule: seeds 1 (-0.3) and 2 (-0.4) fail
    assert outcomes_of(tmp_path, cases, probs, SST5)["failed"].tolist() == [False, True, True]


def test_the_neutral_band_reads_binary_answers_and_the_polarity_map_multi_class_ones():
    p_positive = np.array([0.0, 0.2, 1 / 3, 0.5, 2 / 3, 0.7, 1.0])
    said = answer_polarity(np.stack([1 - p_positive, p_positive], 1), SST2, POLARITY, BAND)
    assert said.tolist() == ["negative", "negative", "neutral", "neutral", "neutral", "positive", "positive"]
    # The labels in the other order, and a narrower band: the positive label is found by its polarity.
    flipped = answer_polarity(np.array([[0.45, 0.55], [0.3, 0.7]]), ["positive", "negative"], POLARITY, (0.4, 0.6))
    assert flipped.tolist() == ["neutral", "negative"]
    # Five classes: the predicted label's polarity, or the given prediction's (the cascade's seed majority).
    probs = np.array([onehot(0, 5), onehot(1, 5), onehot(2, 5), onehot(4, 5)])
    assert answer_polarity(probs, SST5, POLARITY, None).tolist() == ["negative", "negative", "neutral", "positive"]
    assert answer_polarity(probs[:1], SST5, POLARITY, None, predicted=np.array([3])).tolist() == ["positive"]
    with pytest.raises(ValueError, match="neutral band"):
        answer_polarity(np.array([[0.5, 0.5]]), SST2, POLARITY, None)
    with pytest.raises(ValueError, match=r"label\(s\) \['entailment', 'not_entailment'\] have no polarity"):
        answer_polarity(np.array([[0.5, 0.5]]), ["entailment", "not_entailment"], {}, BAND)


def test_a_negated_negative_passes_on_positive_or_unsure_and_a_negated_positive_needs_negative(tmp_path):
    cases = [case("nn/0", "negation_negative", "MFT", ["The plot was not bad."], "t0", expected_labels=["positive"],
                  expected_polarity=["positive", "neutral"]),
             case("np/0", "negation_positive", "MFT", ["The plot was not good."], "t0", expected_labels=["negative"],
                  expected_polarity=["negative"])]  # fmt: skip
    # P(positive) per seed: 0.8 (positive), 0.5 (unsure), 0.2 (negative).
    probs = {name: [[two(0.8)], [two(0.5)], [two(0.2)]] for name in ("nn/0", "np/0")}
    outcomes = outcomes_of(tmp_path, cases, probs, SST2)
    assert outcomes.loc["nn/0", "failed"].tolist() == [False, False, True]
    # Read by label, 0.5 would pass the negated positive (the tie's most probable class is the first, negative);
    # the band reads it as unsure, which a negated positive fails.
    assert outcomes.loc["np/0", "failed"].tolist() == [True, True, False]
    assert outcomes["can_fail"].all()


def test_a_dir_case_at_p_099_can_fail_on_the_log_odds_scale_and_not_on_the_probability_scale(tmp_path):
    texts = ["A charming film.", "A charming film, if you enjoy being bored."]
    logit = {"labels": ["positive"], "must_not": "increase", "scale": "logit", "tolerance": 0.4}
    cases = [case("tail/0", "sarcasm", "DIR", texts, "validation:0", probes="mixed_tone", direction=logit),
             case("tail/1", "sarcasm_p", "DIR", texts, "validation:0", probes="mixed_tone",
                  direction=dict(logit, scale="probability", tolerance=0.1))]  # fmt: skip
    # 0.99 -> 0.999: the odds grow tenfold (+2.3 in log-odds), the probability by 0.009.
    probs = {name: [[two(0.99), two(0.999)], [two(0.99), two(0.991)]] for name in ("tail/0", "tail/1")}
    outcomes = outcomes_of(tmp_path, cases, probs, SST2)
    assert outcomes.loc["tail/0", "failed"].tolist() == [True, False]  # +2.30 fails; +0.10 stays within 0.4
    assert outcomes.loc["tail/0", "can_fail"].tolist() == [True, True]
    assert outcomes.loc["tail/1", "failed"].tolist() == [False, False]
    assert outcomes.loc["tail/1", "can_fail"].tolist() == [False, False]  # 0.99 + 0.1 is past 1: fixed by the original


def test_log_odds_of_probabilities_that_are_exactly_0_or_1_are_floored_not_infinite(tmp_path):
    texts = ["A film.", "A film, sort of."]
    logit = {"labels": ["positive"], "must_not": "decrease", "scale": "logit", "tolerance": 0.4}
    cases = [case("d/0", "dir", "DIR", texts, "validation:0", probes="mixed_tone", direction=logit)]
    ceiling = -np.log(PROBABILITY_FLOOR)  # 27.6
    # Seed 0: exactly 1 -> 1 - 1e-9 (in float32 1 - 1e-9 rounds to 1, but the negative class keeps its 1e-9):
    # log-odds 27.6 -> 20.7, a fall of 6.9. Seed 1: exactly 0 -> 0: at the floor, it cannot fall further.
    probs = {"d/0": [[[0.0, 1.0], [1e-9, 1.0]], [[1.0, 0.0], [1.0, 0.0]]]}
    outcomes = outcomes_of(tmp_path, cases, probs, SST2)
    assert outcomes["failed"].tolist() == [True, False] and outcomes["can_fail"].tolist() == [True, False]
    assert ceiling == pytest.approx(27.631, abs=1e-3)


def test_cases_without_scores_are_left_out_and_a_bad_suite_line_is_named(tmp_path):
    cases = [case(f"neg/{i}", "negation", "MFT", ["not good"], f"t{i}", expected_labels=["negative"]) for i in range(3)]
    outcomes = outcomes_of(tmp_path, cases, {"neg/1": [[two(0.8)]]}, SST2)  # an LLM asked about one case
    assert outcomes.index.tolist() == [("neg/1", 0)] and outcomes["failed"].tolist() == [True]
    bad = dict(cases[1], type="MFX")
    with pytest.raises(SuiteError, match=r"suite.jsonl line 2 has type 'MFX'"):
        read_suite(write_suite(tmp_path / "suite.jsonl", [cases[0], bad]))
    with pytest.raises(SuiteError, match="repeats case 'neg/0'"):
        read_suite(write_suite(tmp_path / "suite.jsonl", [cases[0], cases[0]]))


# Two seeds; cluster A holds two cases, B one. Seed 1 fails the first case of A and B's case; seed 2 fails none.
FAILS = np.array([[1.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
CLUSTERS = np.array(["A", "A", "B"])


def test_the_hierarchical_bootstrap_matches_the_hand_computed_distribution():
    """Seeds drawn (s1 s1, s1 s2 or s2 s1, s2 s2: 1/4, 1/2, 1/4), then clusters (AA, AB or BA, BB: the same); the
    rate is failures over the drawn (seed, case) pairs. s1 s1 with AA: 4/8; AB: 4/6; BB: 2/2. s1 s2 with AA: 2/8;
    AB: 2/6; BB: 2/4. s2 s2: 0. So 0 has 1/4, 1/4 has 1/8, 1/3 has 1/4, 1/2 has 1/8 + 1/16, 2/3 has 1/8, 1 has 1/16."""
    exact = {0.0: 4 / 16, 0.25: 2 / 16, 1 / 3: 4 / 16, 0.5: 3 / 16, 2 / 3: 2 / 16, 1.0: 1 / 16}
    rates = hierarchical_rates(FAILS, CLUSTERS, samples=40_000, seed=1)
    counts = Counter(np.round(rates, 6))
    assert set(counts) == {round(v, 6) for v in exact}
    for value, probability in exact.items():
        assert counts[round(value, 6)] / len(rates) == pytest.approx(probability, abs=0.01)
    # The point estimate pools the seeds: 2 failures in 6 (seed, case) pairs. At 80% the percentiles are the 10th
    # (0: a quarter of resamples) and the 90th (2/3: 13/16 lie below it, 15/16 at or below it).
    result = rate_with_interval(FAILS, CLUSTERS, {"samples": 40_000, "confidence": 0.8, "seed": 1})
    assert result["failure_rate"] == pytest.approx(1 / 3) and (result["cases"], result["clusters"]) == (3, 2)
    assert (result["ci_low"], result["ci_high"]) == pytest.approx((0.0, 2 / 3))


def test_one_seed_resamples_clusters_only_and_cluster_names_do_not_matter():
    """Seed 1 alone: AA 2/4, AB 2/3, BB 1 (1/4, 1/2, 1/4)."""
    rates = hierarchical_rates(FAILS[:1], CLUSTERS, samples=20_000, seed=3)
    counts = Counter(np.round(rates, 6))
    assert set(counts) == {0.5, round(2 / 3, 6), 1.0}
    assert counts[round(2 / 3, 6)] / len(rates) == pytest.approx(0.5, abs=0.015)
    renamed = hierarchical_rates(FAILS[:1], np.array(["z", "z", "b"]), samples=20_000, seed=3)
    assert np.array_equal(rates, renamed)
    empty = rate_with_interval(np.zeros((1, 0)), np.array([]), BOOTSTRAP)
    assert empty["cases"] == 0 and np.isnan(empty["failure_rate"])


def test_a_paired_difference_resamples_clusters_with_both_models():
    a = np.array([1.0, 1.0, 0.0, 0.5])
    b = np.array([0.0, 1.0, 0.0, 0.0])
    clusters = np.array(["x", "x", "y", "z"])
    result = paired_difference(a, b, clusters, {"samples": 20_000, "confidence": 0.95, "seed": 0})
    assert result["difference"] == pytest.approx(0.375) and result["cases"] == 4
    # Differences per cluster: x 1 over 2 cases, y 0 over 1, z 0.5 over 1; every resample is above 0 unless only
    # y is drawn (1/27), and at most 1/2 (x only, or x with y and z in proportion): the interval lies in [0, 0.5].
    assert 0.0 <= result["ci_low"] < 0.375 < result["ci_high"] <= 0.5
    same = paired_difference(a, a, clusters, {"samples": 2000, "confidence": 0.95, "seed": 0})
    assert (same["difference"], same["ci_low"], same["ci_high"]) == (0.0, 0.0, 0.0)


def test_the_cascade_uses_the_seed_majority_and_asks_the_llm_below_the_threshold():
    encoder = pd.DataFrame(
        [("c", 0, s, *p) for s, p in enumerate([two(0.6), two(0.6), two(0.05)])]  # majority positive, mean 0.417
        + [("c", 1, s, *p) for s, p in enumerate([two(0.9), two(0.8), two(0.7)])]  # positive, confidence 0.8
        + [("d", 0, s, *p) for s, p in enumerate([two(0.9)] * 3)],  # not asked of the LLM: left out
        columns=["case", "item", "seed", "prob_0", "prob_1"],
    )
    majority = seed_answers(encoder, 2).set_index(["case", "item"])
    assert majority.loc[("c", 0), "pred"] == 1 and majority.loc[("c", 0), "confidence"] == pytest.approx(1.25 / 3)
    llm = pd.DataFrame([("c", 0, 0, 0.3, 0.7), ("c", 1, 0, 0.8, 0.2)], columns=encoder.columns)
    table = cascade_scores(encoder, llm, threshold=0.5, classes=2).set_index("item")
    # Item 0 (confidence 0.417) goes to the LLM; item 1 (0.8) keeps the encoder's majority and mean probabilities.
    assert table["deferred"].tolist() == [True, False] and table["pred"].tolist() == [1, 1]
    assert table.loc[1, "prob_1"] == pytest.approx(0.8) and table.loc[0, "prob_1"] == 0.7
    kept = cascade_scores(encoder, llm, threshold=0.3, classes=2).set_index("item")
    # Below the threshold nothing is asked; item 0 keeps the majority (positive) though its mean favours negative.
    assert not kept["deferred"].any() and kept.loc[0, "pred"] == 1 and kept.loc[0, "prob_1"] < 0.5


def test_failure_rates_per_seed_and_over_seeds_and_comparisons_on_shared_cases():
    suite = pd.DataFrame({"case": ["a", "b", "c"], "test": ["neg"] * 3, "type": ["MFT"] * 3,
                          "probes": ["negation_contrast"] * 3, "cluster": CLUSTERS})  # fmt: skip
    encoder = pd.DataFrame(FAILS.T, index=["a", "b", "c"], columns=[1, 2])
    llm = pd.DataFrame({0: [1.0, 0.0]}, index=["a", "c"])  # asked about two cases only
    tables = {"minilm": ("encoder", encoder), "smollm2": ("llm", llm)}
    rates = failure_rates(suite, tables, BOOTSTRAP).set_index(["model", "seed"])
    assert rates.loc[("minilm", "all"), "failure_rate"] == pytest.approx(1 / 3)
    assert (
        rates.loc[("minilm", "1"), "failure_rate"] == pytest.approx(2 / 3)
        and rates.loc[("minilm", "2"), "failure_rate"] == 0
    )
    assert rates.loc[("smollm2", "all"), ["cases", "clusters", "failure_rate"]].tolist() == [2, 2, 0.5]
    assert ("smollm2", "0") not in rates.index  # one seed: its rate over seeds is its only rate
    table = comparisons(suite, tables, [("llm", "minilm", "smollm2")], BOOTSTRAP).set_index("test")
    # On the two shared cases minilm fails a in 1 of 2 seeds and c in 1 of 2: 0.5 against the LLM's 0.5.
    assert table.loc["neg", ["cases", "rate_a", "rate_b", "difference"]].tolist() == [2, 0.5, 0.5, 0.0]
    assert table.loc["all tests", "cases"] == 2


def test_outcome_table_round_trip():
    outcomes = pd.DataFrame({"case": ["a", "a", "b", "b"], "seed": [0, 1, 0, 1], "failed": [True, False, False, False],
                             "item": [0, 0, 0, 0]})  # fmt: skip
    assert fail_table(outcomes).to_numpy().tolist() == [[1.0, 0.0], [0.0, 0.0]]


def test_the_summary_rule_on_hand_made_files(tmp_path):
    files, outputs = study_files(tmp_path / "in"), summary_outputs(tmp_path / "out")
    summary = run_summary(**files, labels=SST2, bootstrap=BOOTSTRAP, outputs=outputs)
    assert summary["best_encoder"] == "minilm" and summary["cases"] == 5
    cascade = "cascade minilm / smollm2"
    # The cascade (minilm's threshold, 0.8) on the LLM's items: neg/0 and neg/2 (confidence 0.85) and names/0's
    # original (0.9) keep the encoder; names/0's perturbation goes to the LLM (one seed says positive, one
    # negative: the tie goes to negative, whose mean probability 0.45 is the confidence).
    assert summary["cascades"][cascade]["items"] == 4 and summary["cascades"][cascade]["deferred_share"] == 0.25
    rates = pd.read_csv(outputs["failure_rates"], dtype={"seed": str}).set_index(["test", "model", "seed"])
    assert rates.loc[("negation", "minilm", "all"), "failure_rate"] == pytest.approx(2 / 6)
    assert rates.loc[("names", "minilm", "1"), "failure_rate"] == 0.5
    assert rates.loc[("negation", "smollm2", "all"), ["cases", "failure_rate"]].tolist() == [2, 0.5]
    # neg/0 keeps the encoder (fails), neg/2 keeps it (passes); names/0 item 1 takes the LLM's positive: passes.
    assert rates.loc[("negation", cascade, "all"), "failure_rate"] == 0.5
    assert rates.loc[("names", cascade, "all"), "failure_rate"] == 0.0
    # Every MFT and INV case can fail: 3 negation cases x 2 seeds, and per seed 3.
    assert (
        rates.loc[("negation", "minilm", "all"), "can_fail"] == 6
        and rates.loc[("negation", "minilm", "1"), "can_fail"] == 3
    )
    assert rates.loc[("names", "smollm2", "all"), "can_fail"] == 1  # the LLM answered one names case
    edits = {t["test"]: t["edits"] for t in summary["tests"]}
    assert edits["names"] == {"before": [["ann", 1]], "after": [["bo", 1]]} and edits["negation"]["before"] == []
    compared = pd.read_csv(outputs["comparisons"])
    assert set(zip(compared["comparison"], compared["model_a"], compared["model_b"])) == {
        ("variant", "minilm+lr-1e-4", "minilm"), ("llm", "minilm", "smollm2"), ("cascade", "minilm", cascade),
        ("cascade", "smollm2", cascade)}  # fmt: skip
    association = pd.read_csv(outputs["association"])
    negation = association[(association["failure_mode"] == "negation_contrast") & (association["backbone"] == "minilm")]
    assert negation["measure"].tolist() == ["negation", "contrast", "negation"]
    assert negation["value"].round(3).tolist() == [0.08, 0.14, round(2 / 6, 3)]
    failing = pd.read_csv(outputs["failing_cases"])
    names = failing[(failing["model"] == "minilm") & (failing["test"] == "names")].iloc[0]
    assert names[["case", "failed_seeds", "seeds", "item", "perturbed"]].tolist() == [
        "names/0", 1, 2, 1, "<script>x</script> is great."]  # fmt: skip
    assert outputs["png"].stat().st_size > 0 and outputs["pdf"].read_bytes().startswith(b"%PDF")


def test_a_suite_naming_a_label_the_dataset_lacks_is_refused(tmp_path):
    files = study_files(tmp_path / "in")
    with pytest.raises(SuiteError, match=r"case 'neg/0' names label\(s\) \['negative'\] not among \['neg', 'pos'\]"):
        run_summary(**files, labels=["neg", "pos"], bootstrap=BOOTSTRAP, outputs=summary_outputs(tmp_path / "out"))


def test_a_rate_at_the_boundary_gets_an_interval_with_width_over_its_clusters():
    clusters = np.repeat(np.arange(10), 3)  # 10 clusters of 3 cases, 2 seeds, nothing fails
    none = rate_with_interval(np.zeros((2, 30)), clusters, {"samples": 200, "seed": 0, "confidence": 0.95})
    z2 = NormalDist().inv_cdf(0.975) ** 2
    assert none["failure_rate"] == 0 and none["ci_low"] == 0
    assert none["ci_high"] == pytest.approx(z2 / (10 + z2))  # Wilson's upper bound for 0 of 10 clusters
    every = rate_with_interval(np.ones((2, 30)), clusters, {"samples": 200, "seed": 0, "confidence": 0.95})
    assert every["ci_high"] == 1 and every["ci_low"] == pytest.approx(10 / (10 + z2))
