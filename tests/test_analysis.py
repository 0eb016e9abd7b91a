import json
import math
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest
from conftest import write_run

from sentiflow.analysis import crossed
from sentiflow.analysis.calibration import (
    analyse_calibration,
    calibration_metrics,
    classwise_ece,
    crossfit_temperature,
    fit_temperature,
    reliability_bins,
    softmax,
)
from sentiflow.analysis.metrics import aggregate, bootstrap_ci, class_scores, difference_ci, macro_f1, mcnemar_exact
from sentiflow.analysis.proportions import mover, wilson_of_share
from sentiflow.analysis.runs import MissingRuns, RunSet
from sentiflow.errors.misclassified import ErrorSettings, analyse_errors, cue_tags, failure_modes, words

BOOTSTRAP = {"samples": 2000, "confidence": 0.95, "seed": 0, "method": "BCa"}
CUES = {"negation": ["not", "n't", "no", "never"], "contrast": ["but", "even though"], "question": ["?"]}


CALIBRATION = {"method": "auto", "bins": 15, "folds": 2, "seed": 0}


# --- statistics against hand-computed values ---------------------------------------------------------------


def test_mcnemar_exact_on_a_known_table():
    # 10 sentences only A gets right, 2 only B: p = 2 * P(X <= 2 | n=12, 1/2) = 2 * (1 + 12 + 66) / 4096.
    a = np.array([1] * 10 + [0] * 2 + [1] * 50 + [0] * 5, bool)
    b = np.array([0] * 10 + [1] * 2 + [1] * 50 + [0] * 5, bool)
    result = mcnemar_exact(a, b)
    assert (result["only_a_correct"], result["only_b_correct"]) == (10, 2)
    assert result["p_value"] == pytest.approx(158 / 4096, abs=1e-12)
    assert mcnemar_exact(b, a)["p_value"] == result["p_value"]
    assert mcnemar_exact(a, a)["p_value"] == 1.0  # no discordant pairs
    assert mcnemar_exact(np.array([1, 0], bool), np.array([0, 1], bool))["p_value"] == 1.0  # 2 * 3/4 capped


def test_bootstrap_interval():
    assert bootstrap_ci(np.full(50, 0.7), samples=500) == (pytest.approx(0.7), pytest.approx(0.7))
    # Percentile: two sentences, one right: the resampled mean is 0, 1/2 or 1 with probabilities 1/4, 1/2, 1/4.
    assert bootstrap_ci(np.array([0.0, 1.0]), samples=4000, confidence=0.95, method="percentile") == (0.0, 1.0)
    assert bootstrap_ci(np.array([0.0, 1.0]), samples=4000, confidence=0.4, method="percentile") == (0.5, 0.5)
    # 872 sentences at 90% accuracy: about +-1.96 * sqrt(0.9 * 0.1 / 872) = +-0.0199, both methods.
    correct = np.zeros(872)
    correct[:785] = 1
    for method in ("BCa", "percentile"):
        low, high = bootstrap_ci(correct, samples=10_000, seed=3, method=method)
        assert high - low == pytest.approx(2 * 1.96 * math.sqrt(0.9 * 0.1 / 872), rel=0.08)
        assert low < correct.mean() < high
        assert bootstrap_ci(correct, samples=10_000, seed=3, method=method) == (low, high)  # fixed seed, fixed answer


def test_bca_interval_follows_a_skewed_statistic_where_percentile_lags():
    # The mean of n exponential draws has an exact interval: 2 n mean / theta ~ chi2(2n).
    from scipy.stats import chi2

    values = np.random.default_rng(6).exponential(1.0, size=100)
    n, mean = len(values), values.mean()
    exact = (2 * n * mean / chi2.ppf(0.975, 2 * n), 2 * n * mean / chi2.ppf(0.025, 2 * n))
    bca = bootstrap_ci(values, samples=20_000, seed=1, method="BCa")
    percentile = bootstrap_ci(values, samples=20_000, seed=1, method="percentile")
    assert bca[1] - mean > mean - bca[0]  # the long upper tail of a skewed statistic
    assert abs(bca[0] - exact[0]) + abs(bca[1] - exact[1]) < abs(percentile[0] - exact[0]) + abs(
        percentile[1] - exact[1]
    )
    assert bca == (pytest.approx(exact[0], rel=0.03), pytest.approx(exact[1], rel=0.03))


def test_difference_interval_of_two_groups():
    a, b = np.r_[np.ones(60), np.zeros(40)], np.r_[np.ones(30), np.zeros(70)]  # 0.6 - 0.3
    low, high = difference_ci(a, b, samples=5000, seed=0)
    se = math.sqrt(0.6 * 0.4 / 100 + 0.3 * 0.7 / 100)
    assert low < 0.3 < high and high - low == pytest.approx(2 * 1.96 * se, rel=0.1)
    assert difference_ci(np.ones(5), np.zeros(5)) == (1.0, 1.0)


def test_per_class_scores_against_hand_counts():
    # 3 classes: gold 0 0 0 1 1 2, predicted 0 0 1 1 2 2.
    gold, pred = np.array([0, 0, 0, 1, 1, 2]), np.array([0, 0, 1, 1, 2, 2])
    table = class_scores(gold, pred, ["neg", "neu", "pos"]).set_index("class")
    assert table["precision"].tolist() == pytest.approx([1.0, 0.5, 0.5])
    assert table["recall"].tolist() == pytest.approx([2 / 3, 0.5, 1.0])
    assert table["f1"].tolist() == pytest.approx([0.8, 0.5, 2 / 3]) and table["support"].tolist() == [3, 2, 1]
    assert macro_f1(gold, pred, 3) == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    # A class that is never predicted scores 0, not a warning and a NaN.
    assert class_scores(gold, np.zeros(6, int), ["neg", "neu", "pos"])["precision"].tolist() == [0.5, 0.0, 0.0]


def test_calibration_metrics_on_known_cases():
    # Confidence 0.8 everywhere, 60% right: ECE = MCE = 0.2.
    probs = np.tile([0.8, 0.2], (10, 1))
    gold = np.array([0] * 6 + [1] * 4)
    metrics = calibration_metrics(probs, gold)
    assert metrics["ece"] == pytest.approx(0.2) and metrics["mce"] == pytest.approx(0.2)
    assert metrics["accuracy"] == pytest.approx(0.6)
    # Brier: right 0.08 each, wrong 1.28 each; NLL: -ln 0.8 and -ln 0.2.
    assert metrics["brier"] == pytest.approx((6 * 0.08 + 4 * 1.28) / 10)
    assert metrics["nll"] == pytest.approx(-(6 * math.log(0.8) + 4 * math.log(0.2)) / 10)
    # Two bins: 0.95 all right (gap 0.05) and 0.65 half right (gap 0.15), equal sizes: ECE 0.1, MCE 0.15.
    probs = np.array([[0.95, 0.05]] * 4 + [[0.35, 0.65]] * 4)
    gold = np.array([0, 0, 0, 0, 1, 1, 0, 0])
    metrics = calibration_metrics(probs, gold)
    assert metrics["ece"] == pytest.approx(0.1) and metrics["mce"] == pytest.approx(0.15)
    assert metrics["classwise_ece"] == pytest.approx(classwise_ece(probs, gold))
    bins = reliability_bins(probs, gold, 15)
    assert bins["count"].sum() == 8 and bins.loc[bins["count"] > 0, "count"].tolist() == [4, 4]


def test_classwise_ece_sees_what_top_label_ece_misses():
    # Two classes at 0.8 / 0.2 with 60% / 40% frequency: both classes are off by 0.2.
    assert classwise_ece(np.tile([0.8, 0.2], (10, 1)), np.array([0] * 6 + [1] * 4)) == pytest.approx(0.2)
    # Three classes: the top class is calibrated (0.6, 60% right) but classes 1 and 2 are swapped in probability.
    probs = np.tile([0.6, 0.3, 0.1], (10, 1))
    gold = np.array([0] * 6 + [1] + [2] * 3)
    metrics = calibration_metrics(probs, gold)
    assert metrics["ece"] == pytest.approx(0.0, abs=1e-12)
    assert metrics["classwise_ece"] == pytest.approx((0 + 0.2 + 0.2) / 3)


def test_temperature_scaling_recovers_a_known_temperature():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 4, size=(40_000, 2))
    gold = (rng.random(40_000) < softmax(logits / 2.5)[:, 1]).astype(int)  # labels drawn at temperature 2.5
    assert fit_temperature(logits, gold) == pytest.approx(2.5, rel=0.04)
    calibrated, temperatures = crossfit_temperature(logits, gold, folds=2, seed=0)
    assert len(temperatures) == 2 and all(t == pytest.approx(2.5, rel=0.06) for t in temperatures)
    assert calibration_metrics(calibrated, gold)["ece"] < 0.5 * calibration_metrics(softmax(logits), gold)["ece"]


def test_crossfitting_never_uses_a_sentences_own_label():
    rng = np.random.default_rng(1)
    logits = rng.normal(0, 3, size=(400, 2))
    gold = (rng.random(400) < softmax(logits / 2)[:, 1]).astype(int)  # informative labels: a finite temperature
    calibrated, _ = crossfit_temperature(logits, gold, folds=2, seed=0)
    fold = np.random.default_rng(0).permutation(400) % 2
    flipped = gold.copy()
    flipped[fold == 0] = 1 - flipped[fold == 0]  # change only fold 0's labels
    again, _ = crossfit_temperature(logits, flipped, folds=2, seed=0)
    np.testing.assert_array_equal(again[fold == 0], calibrated[fold == 0])  # fold 0 is scored by fold 1's fit
    assert not np.allclose(again[fold == 1], calibrated[fold == 1])


# --- cues and failure modes ----------------------------------------------------------------------------------


def test_cue_words_match_whole_words_in_raw_and_ptb_text():
    assert words("It doesn't work, does it?") == ["it", "does", "n't", "work", ",", "does", "it", "?"]
    tags = cue_tags(
        [
            "it 's not funny",
            "the film does n't work",
            "it doesn't work",
            "a notable , nothing-like film",
            "funny but long",
            "good even though long",
            "even good though",
            "is it good ?",
        ],
        CUES,
    )
    assert tags["negation"].tolist() == [True, True, True, False, False, False, False, False]
    assert tags["contrast"].tolist() == [False, False, False, False, True, True, False, False]
    assert tags["question"].tolist() == [False] * 7 + [True]


def test_failure_mode_rates_and_shares():
    tags = pd.DataFrame({"negation": [True, True, False, False, False]})
    wrong = np.array([[1, 1, 0, 0, 0], [1, 0, 1, 0, 0]])  # two seeds: shares of seeds wrong 1, 0.5, 0.5, 0, 0
    row = failure_modes(tags, {"m": wrong}, 0.95).iloc[0]
    assert row["sentences"] == 2 and row["share_of_sentences"] == pytest.approx(0.4)
    assert row["error_rate_with"] == pytest.approx(0.75) and row["error_rate_without"] == pytest.approx(1 / 6)
    assert row["share_of_errors"] == pytest.approx(0.75)
    assert row["difference_ci_low"] <= 0.75 - 1 / 6 <= row["difference_ci_high"]
    # With the cue, by hand: failures beyond the rate per (seed, sentence) 0.25, 0.25 / 0.25, -0.75; the seeds' sums
    # 0.5 and -0.5 give the seeds' part 2 x 0.5 / 4^2 = 1/16; the interaction residuals are all +-0.25, 2 x 2 x
    # 0.25 / 16 = 1/16, which is the clusters' part too: no sentence effect beyond the noise. So the variance 1/16
    # is all the cases' noise, 0.75 x 0.25 / 3 at the rate: Wilson's interval on 3 effective trials at t(1) 97.5%.
    t1 = 12.706204736
    centre = (0.75 + t1 * t1 / 6) / (1 + t1 * t1 / 3)
    half = t1 / (1 + t1 * t1 / 3) * math.sqrt(0.75 * 0.25 / 3 + t1 * t1 / 36)
    assert (row["error_rate_with_ci_low"], row["error_rate_with_ci_high"]) == pytest.approx(
        (max(centre - half, 0.0), min(centre + half, 1.0)), abs=1e-6
    )


def test_rate_intervals_are_honest_at_zero_and_match_newcombe():
    # Newcombe (1998), Statistics in Medicine 17: Wilson's interval of 81/263 and the hybrid score interval
    # (method 10, MOVER of two Wilson intervals) of 56/70 - 48/80 and 9/10 - 3/10, as published to four places.
    def newcombe(k1, n1, k2, n2):
        return mover(k1 / n1, wilson_of_share(k1 / n1, n1), k2 / n2, wilson_of_share(k2 / n2, n2))

    assert wilson_of_share(81 / 263, 263) == pytest.approx((0.2553, 0.3662), abs=5e-5)
    assert newcombe(56, 70, 48, 80) == pytest.approx((0.0524, 0.3339), abs=5e-5)
    assert newcombe(9, 10, 3, 10) == pytest.approx((0.1705, 0.8090), abs=5e-5)
    # SST-2's `question` family, one seed: 12 sentences, all right. A bootstrap says [0, 0]; with one seed the
    # sentences are independent trials and the interval is Wilson's, upper limit z² / (n + z²) = 0.2425; the
    # difference from a 15% rate elsewhere is Newcombe's, keeps a width and reaches past 0.
    z2 = NormalDist().inv_cdf(0.975) ** 2
    assert wilson_of_share(0.0, 12) == pytest.approx((0.0, z2 / (12 + z2)))
    assert bootstrap_ci(np.zeros(12), samples=200, method="percentile") == (0.0, 0.0)
    tags = pd.DataFrame({"question": [True] * 12 + [False] * 100})
    wrong = np.r_[np.zeros(12), np.ones(15), np.zeros(85)][None, :]
    modes = failure_modes(tags, {"m": wrong}, 0.95).iloc[0]
    assert modes["error_rate_with"] == 0 and modes["error_rate_with_ci_high"] == pytest.approx(0.2425, abs=1e-4)
    assert (modes["difference_ci_low"], modes["difference_ci_high"]) == pytest.approx(newcombe(0, 12, 15, 100))
    assert modes["difference_ci_low"] < -0.15 < 0 < modes["difference_ci_high"]
    assert all(np.isnan(wilson_of_share(0.0, 0)))
    # A family of one sentence has no interval (the sentences' variance needs two); nor does one covering them all.
    lonely = failure_modes(pd.DataFrame({"q": [True] + [False] * 4}), {"m": np.ones((3, 5))}, 0.95).iloc[0]
    assert np.isnan(lonely["error_rate_with_ci_low"]) and np.isnan(lonely["difference_ci_high"])
    assert lonely["error_rate_without_ci_low"] > 0.3


def test_a_family_with_no_errors_keeps_its_uncertainty_in_the_difference():
    """Three seeds, a family of 12 sentences none of them wrong, 20% wrong elsewhere: the family's rate interval is
    Wilson's on its 36 (seed, sentence) pairs at the seeds' t quantile, and the difference reaches as high as that
    interval allows, instead of being rescaled to the other rate's quantile (which excluded 0)."""
    rng = np.random.default_rng(0)
    wrong = np.zeros((3, 872))
    wrong[:, 12:] = rng.random((3, 860)) < 0.2
    tags = pd.DataFrame({"question": np.arange(872) < 12})
    row = failure_modes(tags, {"m": wrong}, 0.95).iloc[0]
    t2 = 4.302652730
    assert row["error_rate_with_ci_high"] == pytest.approx(t2**2 / (36 + t2**2))
    assert row["difference_ci_low"] < -row["error_rate_without"] < 0 < row["difference_ci_high"]
    assert row["difference_ci_high"] >= row["error_rate_with_ci_high"] - row["error_rate_without_ci_high"]


def test_a_failure_modes_seeds_are_shared_by_both_rates():
    """A seed that errs more errs more with and without the cue: the rates' intervals carry the seeds' spread, and
    the difference keeps only what the seeds do not share. Here seed 3 errs on every sentence: each rate has a wide
    interval, while the with-minus-without difference, 0 in every seed, has a narrow one."""
    wrong = np.zeros((3, 400))
    wrong[:, ::10] = 1  # 10% in every seed, with and without the cue
    wrong[2, 5::10] = 1  # seed 3 errs on another 10%, with and without alike
    tags = pd.DataFrame({"cue": np.arange(400) < 200})
    row = failure_modes(tags, {"m": wrong}, 0.95).iloc[0]
    assert row["error_rate_with"] == pytest.approx(0.4 / 3) and row["error_rate_without"] == pytest.approx(0.4 / 3)
    with_width = row["error_rate_with_ci_high"] - row["error_rate_with_ci_low"]
    assert with_width > 0.15
    assert row["difference_ci_high"] - row["difference_ci_low"] < with_width / 2
    # Counted with the sentences as trials, the seeds' spread would be lost: the interval is wider than Wilson's.
    low, high = wilson_of_share(row["error_rate_with"], 200)
    assert with_width > 2 * (high - low)
    assert crossed.rate_interval(wrong[:, :200], np.arange(200), 0.95)[1] == pytest.approx(
        row["error_rate_with_ci_low"]
    )


# --- the analysis stages on run folders in the documented format ---------------------------------------------


@pytest.fixture
def two_backbones(tmp_path):
    """Backbone 'a' right on 80 of 100 sentences in both seeds, 'b' on 90 (epoch 1) then 85 (epoch 2)."""
    gold = np.array([0, 1] * 50)
    paths = []
    for seed in (1, 2):
        a = np.tile([0.3, 0.7], (100, 1))
        a[gold == 0] = [0.7, 0.3]
        a[:20] = a[:20, ::-1]  # sentences 0-19 wrong, confidence 0.7
        a[:5] = np.where(a[:5] > 0.5, 0.95, 0.05)  # the first five wrong with confidence 0.95
        b1 = np.where(np.eye(2)[gold] == 1, 0.8, 0.2)
        b1[10 + seed : 20 + seed] = b1[10 + seed : 20 + seed, ::-1]  # 10 wrong, differing by seed
        b2 = b1.copy()
        b2[50:55] = b2[50:55, ::-1]
        paths.append(write_run(tmp_path / f"a/seed{seed}", "a", seed, [a, a], gold))
        paths.append(write_run(tmp_path / f"b/seed{seed}", "b", seed, [b1, b2], gold))
    validation = pd.DataFrame(
        {
            "index": range(100),
            "text": [f"it is not film {i}" if i < 10 else f"film {i}" for i in range(100)],
            "label": gold,
        }
    )
    validation.to_parquet(tmp_path / "validation.parquet")
    validation.to_parquet(tmp_path / "train.parquet")  # the shortcut statistic's training split
    return tmp_path, paths, [["a", 1], ["a", 2], ["b", 1], ["b", 2]]


def test_missing_runs_are_an_error_unless_partial_results_are_allowed(two_backbones):
    _folder, paths, expected = two_backbones
    with pytest.raises(MissingRuns, match=r"1 of 5 configured runs are missing \(c seed 1\).*allow_partial"):
        RunSet.load(paths, expected + [["c", 1]])
    runs = RunSet.load(paths, expected + [["c", 1]], allow_partial=True)
    assert len(runs.runs) == 4 and runs.missing == [{"backbone": "c", "seed": 1}] and list(runs.groups) == ["a", "b"]


def test_a_run_group_reads_each_seed_at_its_selected_epoch_and_votes(tmp_path):
    gold = np.array([0, 1, 2, 2])
    epoch1 = np.array([[0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.5, 0.1, 0.4], [0.1, 0.1, 0.8]])
    epoch2 = np.array([[0.2, 0.7, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8], [0.1, 0.7, 0.2]])
    paths = [
        write_run(tmp_path / "s1", "m", 1, [epoch1, epoch2], gold, selected=2),  # chosen on a holdout: epoch 2
        write_run(tmp_path / "s2", "m", 2, [epoch1, epoch2], gold, selected=1),
    ]
    shuffled = pd.read_csv(tmp_path / "s1/predictions.csv").sample(frac=1, random_state=0)
    shuffled.to_csv(tmp_path / "s1/predictions.csv", index=False)  # the group orders sentences by index
    group = RunSet.load(paths, [["m", 1], ["m", 2]]).groups["m"]
    assert group.seeds == [1, 2] and group.index.tolist() == [0, 1, 2, 3] and group.gold.tolist() == [0, 1, 2, 2]
    np.testing.assert_allclose(group.probs(), np.stack([epoch2, epoch1]))
    # Every split vote is a 1-1 tie, each broken by the seed-mean probability, not toward the lower class id:
    # sentence 0 (1 vs 0) means 0.4/0.5/0.1, sentence 2 (2 vs 0) 0.3/0.1/0.6, sentence 3 (1 vs 2) 0.1/0.4/0.5.
    assert group.predictions().tolist() == [[1, 1, 2, 1], [0, 1, 0, 2]]
    assert group.majority().tolist() == [1, 1, 2, 2]
    assert group.wrong_in_seeds().tolist() == [1, 0, 1, 1]
    assert group.correct().to_numpy().tolist() == [[False, True], [True, True], [True, False], [False, True]]
    assert group.runs[0].epoch() == 2 and group.runs[0].epoch("best") == 1 and group.runs[0].epoch("last") == 2


def test_a_tied_vote_goes_to_the_tied_class_with_the_higher_mean_probability(tmp_path):
    gold = np.array([1, 1])
    # Sentence 0: seed 1 says 0, seed 2 says 1; means 0.30, 0.275, 0.425: class 2 has the highest mean but no
    # vote, so the tie goes to class 0. Sentence 1: 0 and 1 again, class 1 the more probable on average.
    seed1 = np.array([[0.55, 0.05, 0.40], [0.50, 0.45, 0.05]])
    seed2 = np.array([[0.05, 0.50, 0.45], [0.20, 0.70, 0.10]])
    paths = [write_run(tmp_path / f"s{s}", "m", s, [p], gold) for s, p in ((1, seed1), (2, seed2))]
    group = RunSet.load(paths, [["m", 1], ["m", 2]]).groups["m"]
    assert group.predictions().tolist() == [[0, 0], [1, 1]]
    assert group.majority().tolist() == [0, 1]


def test_aggregate_tables(two_backbones, tmp_path):
    _folder, paths, expected = two_backbones
    out = {
        name: tmp_path / f"out/{name}"
        for name in ("runs", "summary", "summary_json", "per_class", "mcnemar", "variants", "backbone_pairs")
    }
    result = aggregate(RunSet.load(paths, expected), ["negative", "positive"], BOOTSTRAP, out)
    summary = pd.read_csv(out["summary"]).set_index("backbone")
    assert summary.loc["a", "best_accuracy_mean"] == pytest.approx(0.8) and summary.loc["a", "best_accuracy_std"] == 0
    assert summary.loc["b", "best_accuracy_mean"] == pytest.approx(0.9) and summary.loc[
        "b", "last_accuracy_mean"
    ] == pytest.approx(0.85)
    assert summary.loc["b", "best_epoch_mode"] == 1 and summary.loc["b", "seeds"] == 2
    assert summary.loc["b", "selected_epoch_mode"] == 1 and summary.loc["b", "epochs_max"] == 2
    assert (
        summary.loc["b", "selected_accuracy_mean"] == pytest.approx(0.9)
        and summary.loc["b", "selected_accuracy_std"] == 0
    )
    assert summary.loc["a", "selected_ci_low"] < 0.8 < summary.loc["a", "selected_ci_high"]
    tests = pd.read_csv(out["mcnemar"])
    assert tests[["backbone_a", "backbone_b", "seed"]].values.tolist() == [["a", "b", 1], ["a", "b", 2]]
    first = tests.iloc[0]  # seed 1: a wrong on 0-19, b wrong on 11-20
    assert (first["only_a_correct"], first["only_b_correct"]) == (1, 11)
    assert first["p_value"] == pytest.approx(
        mcnemar_exact(np.r_[np.ones(1), np.zeros(11)].astype(bool), np.r_[np.zeros(1), np.ones(11)].astype(bool))[
            "p_value"
        ]
    )
    assert json.loads(out["summary_json"].read_text())["missing_runs"] == [] and result["validation_sentences"] == 100
    # a: 10 of each class wrong in both seeds; b (best epoch 1): 5 of each class wrong.
    classes = pd.read_csv(out["per_class"]).set_index(["backbone", "class"])
    assert classes.loc[
        ("a", "negative"), ["precision_mean", "recall_mean", "f1_mean", "support"]
    ].tolist() == pytest.approx([0.8, 0.8, 0.8, 50])
    assert (
        classes.loc[("b", "positive"), "f1_mean"] == pytest.approx(0.9) and classes.loc[("b", "positive"), "seeds"] == 2
    )
    assert summary.loc["a", "selected_macro_f1_mean"] == pytest.approx(0.8) and summary.loc[
        "b", "selected_macro_f1_mean"
    ] == pytest.approx(0.9)
    assert pd.read_csv(out["variants"]).empty  # one variant per backbone: nothing to compare
    # The two backbones as a pair: the difference of their seed-mean accuracies, its paired interval over sentences,
    # and the range of the per-seed McNemar p-values above.
    pair = pd.read_csv(out["backbone_pairs"]).iloc[0]
    assert (pair["variant"], pair["backbone_a"], pair["backbone_b"], pair["seeds"]) == ("base", "a", "b", 2)
    accuracy = summary["selected_accuracy_mean"]
    assert pair["difference"] == pytest.approx(accuracy["a"] - accuracy["b"]) and pair["accuracy_a"] == accuracy["a"]
    assert pair["difference_ci_low"] < pair["difference"] < pair["difference_ci_high"] < 0
    assert [pair["mcnemar_p_min"], pair["mcnemar_p_max"]] == pytest.approx(sorted(tests["p_value"]))
    assert result["backbone_pairs"][0]["backbone_b"] == "b"


def test_variants_are_compared_with_their_base_over_seeds_and_sentences(tmp_path):
    from scipy.stats import t as student

    gold = np.array([0, 1] * 100)
    right = np.where(np.eye(2)[gold] == 1, 0.8, 0.2)
    paths, expected, accuracy = [], [], {}
    wrong = {("base", 1): 40, ("base", 2): 44, ("base", 3): 38, ("lr", 1): 30, ("lr", 2): 36, ("lr", 3): 31}
    for (variant, seed), n_wrong in wrong.items():
        probs = right.copy()
        probs[:n_wrong] = probs[:n_wrong, ::-1]  # the first n_wrong sentences wrong
        label = "m" if variant == "base" else "m+lr"
        paths.append(
            write_run(tmp_path / f"{variant}/seed{seed}", label, seed, [probs], gold, variant=variant, backbone_key="m")
        )
        expected.append([label, seed])
        accuracy[variant, seed] = 1 - n_wrong / 200
    out = {
        name: tmp_path / f"out/{name}"
        for name in ("runs", "summary", "summary_json", "per_class", "mcnemar", "variants", "backbone_pairs")
    }
    aggregate(RunSet.load(paths, expected), ["negative", "positive"], BOOTSTRAP, out)
    row = pd.read_csv(out["variants"]).iloc[0]
    assert (row["backbone"], row["variant"], row["reference"], row["seeds"]) == ("m", "lr", "base", 3)
    diffs = np.array([accuracy["lr", s] - accuracy["base", s] for s in (1, 2, 3)])  # 0.05, 0.04, 0.035
    assert row["difference"] == pytest.approx(diffs.mean())
    # Paired t-test over seeds, by hand: t = mean / (sd / sqrt(n)), two-sided, n - 1 degrees of freedom.
    t_value = diffs.mean() / (diffs.std(ddof=1) / np.sqrt(3))
    assert row["seeds_p_value"] == pytest.approx(2 * student.sf(t_value, 2))
    assert row["difference_ci_low"] < diffs.mean() < row["difference_ci_high"] and row["difference_ci_low"] > 0
    # Per seed, lr is right on every sentence base is right on: McNemar on 10, 8 and 7 discordant sentences.
    assert row["mcnemar_p_max"] == pytest.approx(
        mcnemar_exact(np.r_[np.ones(7), np.zeros(0)].astype(bool), np.zeros(7, bool))["p_value"]
    )
    # Backbones are compared by McNemar within a variant only; here there is one backbone.
    assert pd.read_csv(out["mcnemar"]).empty and pd.read_csv(out["backbone_pairs"]).empty


def test_misclassified_tables_and_failure_modes(two_backbones, tmp_path):
    folder, paths, expected = two_backbones
    out = tmp_path / "out"
    outputs = {"combined": out / "all.csv", "cues": out / "cues.csv", "failure_modes": out / "modes.csv",
               "overconfidence": out / "over.json", "shortcut_words": out / "shortcuts.csv", "word_groups": out / "groups.csv",
               "why": out / "why.json"}  # fmt: skip
    runs = RunSet.load(paths, expected)
    # Training rows as a treebank nests them: 50 phrases "is not film i" inside the 10 texts "it is not film i".
    train = pd.read_parquet(folder / "train.parquet")
    phrases = pd.DataFrame({"index": range(100, 150), "text": [f"is not film {i % 10}" for i in range(50)], "label": 1})
    pd.concat([train, phrases], ignore_index=True).to_parquet(folder / "train.parquet")
    data = {"validation": folder / "validation.parquet", "train": folder / "train.parquet"}
    settings = ErrorSettings(cues=CUES, confidence=0.95, overconfidence_threshold=0.9)
    confident = analyse_errors(runs, data, ["negative", "positive"], settings, outputs)
    table = pd.read_csv(out / "all.csv")
    a = table[table["backbone"] == "a"].reset_index(drop=True)
    assert len(a) == 20 and a["index"].tolist()[:5] == [0, 1, 2, 3, 4]  # the 0.95 errors first
    assert a["confidence"].is_monotonic_decreasing and a["confidence"].iloc[0] == pytest.approx(0.95)
    assert (a["wrong_in_seeds"] == 2).all() and (a["seeds"] == 2).all()
    assert (
        a.loc[a["index"] == 0, "gold"].item() == "negative" and a.loc[a["index"] == 0, "predicted"].item() == "positive"
    )
    assert a.loc[a["index"] == 0, "prob_gold"].item() == pytest.approx(0.05)
    # Sentence 12 is wrong for b in both seeds, sentence 11 in seed 1 only, sentence 0 in neither.
    assert a.set_index("index").loc[[0, 11, 12], "b_wrong_in_seeds"].tolist() == [0, 1, 2]
    b = table[table["backbone"] == "b"]
    assert set(b["index"]) == set(range(11, 22)) and b.set_index("index").loc[11, "wrong_in_seeds"] == 1
    assert len(table) == len(a) + len(b)
    assert confident["a"]["overconfident_mean"] == 5 and confident["a"]["overconfident_share"] == pytest.approx(5 / 20)

    modes = pd.read_csv(out / "modes.csv").set_index(["backbone", "cue"])
    assert modes.loc[("a", "negation"), "sentences"] == 10
    assert modes.loc[("a", "negation"), "error_rate_with"] == pytest.approx(1.0)  # sentences 0-9: always wrong for a
    assert modes.loc[("a", "negation"), "error_rate_without"] == pytest.approx(10 / 90)
    assert modes.loc[("a", "negation"), "share_of_errors"] == pytest.approx(0.5)
    # The study's other failure modes beside the cue families; label issues are the label_issues rule's, confirmed
    # only after the LLM witnesses, so no table written before them carries a flag.
    assert {"shortcut_against_gold", "mixed_polarity"} <= set(modes.loc["a"].index)
    assert "shortcut_words" in table.columns and "label_issue" not in table.columns
    assert "label_issue" not in pd.read_csv(out / "cues.csv").columns
    # The shortcut statistic counts each text once, the phrases left out: "is" and "not" are in 60 rows but only 10
    # texts, under min_count 20, so "film" alone is tested, toward 2 labels.
    shortcut = json.loads((out / "why.json").read_text())["shortcuts"]
    assert (shortcut["training_rows"], shortcut["rows_counted"]) == (150, 100)
    assert (shortcut["words_tested"], shortcut["tests"]) == (1, 2)
    assert shortcut["z_threshold"] == pytest.approx(NormalDist().inv_cdf(1 - 0.01 / 2))


def test_calibration_with_crossfitting_and_with_a_holdout(two_backbones, tmp_path):
    folder, paths, expected = two_backbones
    runs = RunSet.load(paths, expected)
    result = analyse_calibration(runs, CALIBRATION, 0, {"table": tmp_path / "c.csv", "bins": tmp_path / "bins.csv"})
    assert set(result["method"]) == {"crossfit"} and len(result) == 8
    before = result.query("stage == 'before' and backbone == 'a'").iloc[0]
    assert before["temperature"] == 1.0 and before["accuracy"] == pytest.approx(0.8)
    assert before["classwise_ece"] > 0 and before["ece"] == pytest.approx(
        calibration_metrics(
            pd.read_csv(folder / "a/seed1/predictions.csv").query("epoch == 1")[["prob_0", "prob_1"]].to_numpy(),
            np.array([0, 1] * 50),
        )["ece"]
    )
    bins = pd.read_csv(tmp_path / "bins.csv")
    assert bins.groupby(["backbone", "stage"])["count"].sum().eq(200).all()  # 2 seeds x 100 sentences, pooled
    with pytest.raises(ValueError, match="holdout_rows is 0"):
        settings = CALIBRATION | {"method": "holdout"}
        analyse_calibration(runs, settings, 0, {"table": tmp_path / "x.csv", "bins": tmp_path / "y.csv"})
