"""The behavioural tests' scoring and statistics on hand-made suites and scores in the stage's file contract."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest
from behaviour_files import case, onehot, study_files, summary_outputs, two, write_scores, write_suite

from sentiflow.analysis import crossed
from sentiflow.analysis.proportions import wilson_of_share
from sentiflow.behaviour.cascade import cascade_scores, seed_answers
from sentiflow.behaviour.outcomes import PROBABILITY_FLOOR, Reading, SuiteError, case_outcomes, read_scores, read_suite
from sentiflow.behaviour.polarity import answer_polarity
from sentiflow.behaviour.statistics import (
    comparisons,
    fail_table,
    failure_rates,
    paired_difference,
    rate_with_interval,
)
from sentiflow.behaviour.summary import run_summary

SST5 = ["very negative", "negative", "neutral", "positive", "very positive"]
SST2 = ["negative", "positive"]
CONFIDENCE = 0.95
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
    # One answer (a failing case's item at one seed): a 0-d array, as for a binary answer.
    one = answer_polarity(probs[0], SST5, POLARITY, None, predicted=np.int64(3))
    assert one.shape == () and str(one) == "positive" == str(
        answer_polarity(np.array([0.1, 0.9]), SST2, POLARITY, BAND)
    )
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
T975 = {1: 12.7062047, 2: 4.30265273}  # Student's t quantiles, 97.5%, 1 and 2 degrees of freedom


def test_the_variance_parts_match_a_hand_computation():
    """2 failures in 6 (seed, case) pairs. Failures beyond the rate per cell (seed 1: A 1 - 2/3, B 1 - 1/3; seed 2:
    A -2/3, B -1/3): seeds' sums 1 and -1, so the seeds' part is 2/1 x 2 / 6^2 = 1/9; clusters' sums -1/3 and 1/3,
    2/1 x 2/9 / 36 = 1/81; the interaction residuals (seed rates 2/3 and 0, cluster rates 1/4 and 1/2) are all
    +-1/6, 2 x 2 x 4/36 / 36 = 1/81: the clusters' part beyond the cases' noise is 0."""
    parts = crossed.rate_parts(*crossed.cell_counts(FAILS, CLUSTERS))
    assert (parts.rate, parts.trials, parts.seeds, parts.clusters) == (pytest.approx(1 / 3), 6, 2, 2)
    assert (parts.seed, parts.cluster, parts.cells, parts.noise) == pytest.approx((1 / 9, 0.0, 1 / 81, 1 / 81))
    # The cluster names and the cases' order do not matter.
    renamed = crossed.rate_parts(*crossed.cell_counts(FAILS[:, ::-1], np.array(["z", "b", "b"])))
    assert (renamed.rate, renamed.seed, renamed.cluster) == pytest.approx((parts.rate, parts.seed, parts.cluster))


def test_the_score_limits_are_wilsons_and_the_logit_scales_at_their_extremes():
    # Variance p (1 - p) / n at the candidate rate: Wilson's interval.
    z = NormalDist().inv_cdf(0.975)
    assert crossed.score_limits(0.3, z, 1 / 50, 0.0) == pytest.approx(wilson_of_share(0.3, 50), abs=1e-9)
    # Variance c^2 (t (1 - t))^2: |t - p| = q c t (1 - t), whose roots a quadratic gives.
    p, qc = 0.2, 0.5
    upper = (-(1 - qc) + math.sqrt((1 - qc) ** 2 + 4 * qc * p)) / (2 * qc)
    lower = ((1 + qc) - math.sqrt((1 + qc) ** 2 - 4 * qc * p)) / (2 * qc)
    assert crossed.score_limits(p, 1.0, 0.0, qc**2) == pytest.approx((lower, upper), abs=1e-9)


def test_one_seed_on_single_case_clusters_is_wilsons_interval_and_one_cluster_has_none():
    fails = np.zeros((1, 40))
    fails[0, :7] = 1
    result = rate_with_interval(fails, np.arange(40), 0.95)
    assert (result["ci_low"], result["ci_high"]) == pytest.approx(wilson_of_share(7 / 40, 40), abs=1e-9)
    one = rate_with_interval(np.ones((3, 5)), np.zeros(5), 0.95)
    assert one["failure_rate"] == 1 and np.isnan(one["ci_low"]) and np.isnan(one["ci_high"])
    empty = rate_with_interval(np.zeros((1, 0)), np.array([]), 0.95)
    assert empty["cases"] == 0 and np.isnan(empty["failure_rate"])


def test_seeds_that_tie_by_chance_still_leave_a_width():
    """The smoke run's contractions test: seed 1 fails one sentence, seed 2 another, so both seeds' rates are 1/10
    and the seeds' spread is 0. The seeds' part is floored at what the cases' noise alone would give in 1 study of 20
    (the interaction mean square, 1/180, times chi2(1)'s 5% quantile); with no clusters' part beyond the noise, the
    interval is the score interval of that variance at t(1)'s quantile, 12.7: a width, where the bare sums gave 0."""
    fails = np.zeros((2, 10))
    fails[0, 1] = fails[1, 2] = 1
    parts = crossed.rate_parts(*crossed.cell_counts(fails, np.arange(10)))
    assert parts.cells == pytest.approx(1 / 180) and parts.seed == pytest.approx(0.0039321 / 180, rel=1e-4)
    result = rate_with_interval(fails, np.arange(10), 0.95)
    variance = 0.0039321 / 180
    linear = variance / 0.09  # all of it the cases' noise, t (1 - t) at the candidate rate
    low, high = crossed.score_limits(0.1, T975[1], linear, 0.0)
    assert (result["ci_low"], result["ci_high"]) == pytest.approx((float(low), float(high)), rel=1e-4)
    assert 0.05 < result["ci_low"] < 0.1 < result["ci_high"] < 0.2


def test_no_jump_at_zero_failures():
    """Three seeds, 20 templates of 9 cases: nothing fails, then one case of one seed. At 0 the interval is Wilson's
    on the 540 pairs at the seeds' t quantile (2 degrees of freedom), the limit of one failure's interval."""
    clusters = np.repeat(np.arange(20), 9)
    none = rate_with_interval(np.zeros((3, 180)), clusters, 0.95)
    assert none["ci_low"] == 0 and none["ci_high"] == pytest.approx(T975[2] ** 2 / (540 + T975[2] ** 2))
    one = np.zeros((3, 180))
    one[0, 0] = 1
    single = rate_with_interval(one, clusters, 0.95)
    assert 0 < single["ci_low"] < 1 / 540 < single["ci_high"] < 1.2 * none["ci_high"]
    assert single["ci_high"] > none["ci_high"]
    every = rate_with_interval(np.ones((3, 180)), clusters, 0.95)
    assert every["ci_high"] == 1 and every["ci_low"] == pytest.approx(1 - none["ci_high"])


def test_a_paired_difference_keeps_each_models_seeds():
    """Two models answering 30 single-case clusters with one seed each: the difference's variance is that of the
    per-case differences (a paired design) and, with no rate at 0 or 1, the interval spans about 1.96 of its
    standard errors either side. A model compared with itself has a difference of exactly 0; two seeded models with
    the same answers in every seed still have each model's seeds in the interval, so it keeps a width."""
    rng = np.random.default_rng(0)
    a, b = (rng.random((1, 30)) < 0.4).astype(float), (rng.random((1, 30)) < 0.2).astype(float)
    result = paired_difference(a, b, np.arange(30), 0.95)
    d = (a - b)[0]
    se = math.sqrt(30 / 29 * ((d - d.mean()) ** 2).sum() / 30**2)
    assert result["difference"] == pytest.approx(d.mean()) and result["cases"] == 30
    assert result["ci_high"] - result["ci_low"] == pytest.approx(2 * 1.96 * se, rel=0.15)
    seeded = (rng.random((3, 30)) < 0.3).astype(float)
    same = paired_difference(seeded, seeded, np.arange(30), 0.95)
    assert same["difference"] == 0 and same["ci_low"] < 0 < same["ci_high"]


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
    rates = failure_rates(suite, tables, CONFIDENCE).set_index(["model", "seed"])
    assert rates.loc[("minilm", "all"), "failure_rate"] == pytest.approx(1 / 3)
    assert (
        rates.loc[("minilm", "1"), "failure_rate"] == pytest.approx(2 / 3)
        and rates.loc[("minilm", "2"), "failure_rate"] == 0
    )
    assert rates.loc[("smollm2", "all"), ["cases", "clusters", "failure_rate"]].tolist() == [2, 2, 0.5]
    assert ("smollm2", "0") not in rates.index  # one seed: its rate over seeds is its only rate
    table = comparisons(suite, tables, [("llm", "minilm", "smollm2")], CONFIDENCE).set_index("test")
    # On the two shared cases minilm fails a in 1 of 2 seeds and c in 1 of 2: 0.5 against the LLM's 0.5.
    assert table.loc["neg", ["cases", "rate_a", "rate_b", "difference"]].tolist() == [2, 0.5, 0.5, 0.0]
    assert table.loc["all tests", "cases"] == 2


def test_outcome_table_round_trip():
    outcomes = pd.DataFrame({"case": ["a", "a", "b", "b"], "seed": [0, 1, 0, 1], "failed": [True, False, False, False],
                             "item": [0, 0, 0, 0]})  # fmt: skip
    assert fail_table(outcomes).to_numpy().tolist() == [[1.0, 0.0], [0.0, 0.0]]


def test_the_summary_rule_on_hand_made_files(tmp_path):
    files, outputs = study_files(tmp_path / "in"), summary_outputs(tmp_path / "out")
    summary = run_summary(**files, labels=SST2, confidence=CONFIDENCE, outputs=outputs)
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
        run_summary(**files, labels=["neg", "pos"], confidence=CONFIDENCE, outputs=summary_outputs(tmp_path / "out"))
