"""The encoder-to-LLM cascade: curves, baselines and cross-fitted operating points, on data whose answers are known;
one seed majority for the cascade rule, the behavioural suite's cascade and the error tables."""

import json

import numpy as np
import pandas as pd
import pytest
from conftest import write_run

from sentiflow.analysis.metrics import bootstrap_ci, ci_settings
from sentiflow.analysis.runs import RunSet
from sentiflow.behaviour.cascade import cascade_scores
from sentiflow.behaviour.outcomes import SuiteError
from sentiflow.errors.misclassified import misclassified
from sentiflow.llm.cascade import analyse, crossfit, curves, fit_threshold, fit_weight, fold_of, run_cascade

BOOTSTRAP = {"samples": 2000, "confidence": 0.95, "seed": 0, "method": "percentile"}


def synthetic(n=400, seed=0):
    """An encoder right 80% of the time and surer when right; an LLM right 85% of the time, independently."""
    rng = np.random.default_rng(seed)
    gold = rng.integers(0, 2, n)
    encoder_right = rng.random(n) < 0.8
    encoder_pred = np.where(encoder_right, gold, 1 - gold)
    confidence = np.where(encoder_right, rng.uniform(0.6, 1.0, n), rng.uniform(0.5, 0.8, n))
    encoder_probs = np.empty((n, 2))
    encoder_probs[np.arange(n), encoder_pred] = confidence
    encoder_probs[np.arange(n), 1 - encoder_pred] = 1 - confidence
    llm_right = rng.random(n) < 0.85
    llm_top = rng.uniform(0.55, 0.95, n)
    llm_pred = np.where(llm_right, gold, 1 - gold)
    llm_probs = np.empty((n, 2))
    llm_probs[np.arange(n), llm_pred] = llm_top
    llm_probs[np.arange(n), 1 - llm_pred] = 1 - llm_top
    return gold, encoder_probs, encoder_pred, llm_probs


def test_curves_run_from_the_encoder_to_the_llm_with_random_and_oracle_baselines():
    gold, encoder_probs, encoder_pred, llm_probs = synthetic()
    encoder_right, llm_right = encoder_pred == gold, llm_probs.argmax(1) == gold
    table = curves(encoder_probs.max(1), encoder_right, llm_right)
    first, last = table.iloc[0], table.iloc[-1]
    assert first["share"] == 0 and first["confidence"] == first["random"] == first["oracle"] == pytest.approx(
        encoder_right.mean()
    )
    assert last["share"] == 1 and last["confidence"] == last["random"] == last["oracle"] == pytest.approx(
        llm_right.mean()
    )
    np.testing.assert_allclose(
        np.diff(table["random"]) / np.diff(table["share"]), llm_right.mean() - encoder_right.mean()
    )
    assert (table["oracle"] >= table["confidence"] - 1e-12).all() and (table["oracle"] >= table["random"] - 1e-12).all()
    # The oracle at the encoder's error rate: the encoder's right answers plus the LLM's fixes, counted by hand.
    errors = int((~encoder_right).sum())
    at_errors = curves(encoder_probs.max(1), encoder_right, llm_right, shares=[errors / len(gold)])
    fixes = sum(1 for enc, llm in zip(encoder_right, llm_right) if not enc and llm)
    assert at_errors["oracle"].iloc[0] == pytest.approx((encoder_right.sum() + fixes) / len(gold))
    # Deferring least confident first beats chance here: the encoder is surer when it is right.
    assert table["confidence"].iloc[10:90].mean() > table["random"].iloc[10:90].mean()


def test_the_fitted_threshold_and_weight_find_the_known_answers():
    confidence = np.array([0.55, 0.6, 0.65, 0.9, 0.95, 0.99])
    encoder_right = np.array([False, False, True, True, True, True])
    llm_right = np.array([True, True, False, False, True, True])
    assert fit_threshold(confidence, encoder_right, llm_right) == pytest.approx(0.625)  # defers exactly the two errors
    assert fit_threshold(confidence, np.ones(6, bool), np.zeros(6, bool)) == -np.inf  # never worth asking
    gold = np.array([0, 1, 1, 0])
    perfect, coin = np.eye(2)[gold] * 0.98 + 0.01, np.full((4, 2), 0.5)
    assert fit_weight(perfect, coin, gold) == 1.0 and fit_weight(coin, perfect, gold) == 0.0


def test_thresholds_are_never_fitted_on_the_sentences_they_score():
    """Change the gold labels of fold 0 only: fold 0's decisions must not move, because its threshold, temperature
    and weight were fitted on fold 1. A fit that saw fold 0 would move them (checked too, so the test can fail)."""
    gold, encoder_probs, encoder_pred, llm_probs = synthetic(n=300, seed=1)
    confidence = encoder_probs[np.arange(len(gold)), encoder_pred]
    before = crossfit(encoder_probs, llm_probs, gold, encoder_pred, confidence, folds=2, seed=5)
    fold0 = fold_of(len(gold), 2, 5) == 0
    np.testing.assert_array_equal(before["fold"] == 0, fold0)
    flipped = gold.copy()
    flipped[fold0] = 1 - flipped[fold0]
    after = crossfit(encoder_probs, llm_probs, flipped, encoder_pred, confidence, folds=2, seed=5)
    np.testing.assert_array_equal(after["deferred"][fold0], before["deferred"][fold0])
    assert after["thresholds"][0] == before["thresholds"][0] and after["weights"][0] == before["weights"][0]
    assert after["temperatures"][0] == before["temperatures"][0]
    # Fold 1's threshold was fitted on fold 0, whose labels changed: it moves. A leak-free fit is sensitive to
    # exactly the other fold.
    encoder_right, llm_right = encoder_pred == flipped, llm_probs.argmax(1) == flipped
    assert fit_threshold(confidence[fold0], encoder_right[fold0], llm_right[fold0]) == after["thresholds"][1]
    assert after["thresholds"][1] != before["thresholds"][1]


def test_an_operating_point_reports_its_interval_calls_and_seconds():
    gold, encoder_probs, encoder_pred, llm_probs = synthetic(n=500, seed=2)
    seconds = np.full(len(gold), 0.25)
    table, point = analyse(encoder_probs, llm_probs, seconds, gold, encoder_pred, {"folds": 2, "seed": 0}, BOOTSTRAP)
    assert point["sentences"] == 500 and len(table) == 101
    assert point["cascade_ci_low"] <= point["cascade_accuracy"] <= point["cascade_ci_high"]
    assert point["llm_calls"] == round(point["deferred_share"] * 500) and point["llm_seconds"] == pytest.approx(
        0.25 * point["llm_calls"]
    )
    # An encoder 80% right that is surer when right, an independent LLM 85% right: the cascade beats both.
    assert point["cascade_accuracy"] > max(point["encoder_accuracy"], point["llm_accuracy"])
    assert point["gain_ci_low"] > 0
    # The LLM alone against the encoder alone, paired over the same sentences: the bootstrap of their difference.
    llm_right, encoder_right = llm_probs.argmax(1) == gold, encoder_pred == gold
    assert point["llm_accuracy"] - point["encoder_accuracy"] == pytest.approx(0.05, abs=0.05)
    low, high = bootstrap_ci(llm_right.astype(float) - encoder_right, **ci_settings(BOOTSTRAP))
    assert (point["llm_gain_ci_low"], point["llm_gain_ci_high"]) == (low, high) and low < high
    assert point["oracle_accuracy"] >= point["cascade_accuracy"]
    # The threshold for new inputs is fitted on every sentence, close to what each fold fitted on half of them.
    confidence = encoder_probs[np.arange(len(gold)), encoder_pred]
    assert point["threshold"] == fit_threshold(confidence, encoder_pred == gold, llm_probs.argmax(1) == gold)
    assert min(point["thresholds"]) - 0.1 <= point["threshold"] <= max(point["thresholds"]) + 0.1


SST5 = ["very negative", "negative", "neutral", "positive", "very positive"]
# Seed-split sentences: per seed the probabilities of one sentence, each seed predicting another class, and gold, the
# tied class with the highest seed-mean probability. The lower class id among the tied classes is wrong.
TIES = {
    "2 seeds, 2 classes": (["negative", "positive"], [[0.38, 0.62], [0.56, 0.44]], 1),  # mean 0.47 / 0.53
    # 0 and 3 tie, 3 leads their mean (4, with the highest mean of all, has no vote: the majority is a voted class)
    "2 seeds, 5 classes": (SST5, [[0.42, 0.1, 0.1, 0.08, 0.3], [0.05, 0.1, 0.1, 0.4, 0.35]], 3),
    "3 seeds, 5 classes": (SST5, [[0.05, 0.4, 0.15, 0.1, 0.3], [0.05, 0.1, 0.05, 0.45, 0.35],
                                  [0.02, 0.1, 0.05, 0.38, 0.45]], 4),  # 1, 3, 4 one vote each; 4 leads the mean
}  # fmt: skip


def tied_study(folder, seed_probs, tie_gold):
    """Runs of one group (a seed per row of `seed_probs`) on 8 seed-split sentences (gold: `tie_gold`), 8 sentences
    every seed gets wrong with less confidence than the split ones and 16 every seed gets right with more, and an
    LLM that is right on the wrong ones and wrong on the split ones: a threshold fitted by the cascade rule lies
    between the two confidences, so the split sentences stay with the encoder if their majority is the rule's."""
    seed_probs = np.asarray(seed_probs, dtype=float)
    seeds, classes = seed_probs.shape
    tie_confidence = seed_probs.mean(0)[tie_gold]
    wrong_row = np.full(classes, (1 - (tie_confidence - 0.02)) / (classes - 1))
    wrong_row[0] = tie_confidence - 0.02  # predicted 0, a little below the split sentences' confidence
    right_row = np.full(classes, 0.1 / (classes - 1))
    right_row[tie_gold] = 0.9
    gold = np.array([tie_gold] * 8 + [2 if classes > 2 else 1] * 8 + [tie_gold] * 16)
    paths = []
    for s in range(seeds):
        probs = np.vstack([np.tile(seed_probs[s], (8, 1)), np.tile(wrong_row, (8, 1)), np.tile(right_row, (16, 1))])
        paths.append(write_run(folder / f"seed{s + 1}", "minilm", s + 1, [probs], gold))
    llm_class = np.concatenate([np.zeros(8, int), gold[8:]])  # split sentences: class 0, wrong
    llm_probs = np.eye(classes)[llm_class] * 0.8 + 0.2 / classes
    return RunSet.load(paths, [["minilm", s + 1] for s in range(seeds)]), gold, llm_probs


@pytest.mark.parametrize("case", list(TIES))
def test_a_tie_between_seeds_gets_one_answer_in_the_cascade_rule_and_in_the_suite(case, tmp_path):
    labels, seed_probs, tie_gold = TIES[case]
    runs, gold, llm_probs = tied_study(tmp_path, seed_probs, tie_gold)
    group = runs.groups["minilm"]
    llm_table = pd.DataFrame({"index": np.arange(len(gold)), "in_cascade": True, "llm_seconds": 0.5})
    for k, label in enumerate(labels):
        llm_table[f"llm_prob_{label}"] = llm_probs[:, k]
    llm_table.to_csv(tmp_path / "llm.csv", index=False)
    names = ("curves", "points", "summary", "png", "pdf")
    outputs = {name: tmp_path / f"cascade.{name}" for name in names}
    points = run_cascade("qwen", tmp_path / "llm.csv", runs, labels, BOOTSTRAP, {"folds": 2, "seed": 0}, outputs)
    rule = points[points["encoder"] == "seed majority"].iloc[0]
    threshold = json.loads(outputs["summary"].read_text())["backbones"]["minilm"]["threshold"]
    # The cascade rule: its seed majority is right on the split sentences (8 + 16 of 32), and its threshold keeps them.
    assert rule["encoder_accuracy"] == pytest.approx(24 / 32)
    confidence = group.mean_probs()[np.arange(len(gold)), group.majority()]
    assert confidence[8:16].max() < threshold < confidence[:8].min()
    rule_answer = np.where(confidence < threshold, llm_probs.argmax(1), group.majority())
    # The suite's cascade on the same probabilities, as behaviour_encoder and behaviour_llm write them.
    encoder = pd.DataFrame(
        [(f"c{i:02d}", 0, seed, *p) for seed, probs in zip(group.seeds, group.probs()) for i, p in enumerate(probs)],
        columns=["case", "item", "seed", *(f"prob_{k}" for k in range(len(labels)))],
    )
    llm = pd.DataFrame([(f"c{i:02d}", 0, 0, *p) for i, p in enumerate(llm_probs)], columns=encoder.columns)
    suite = cascade_scores(encoder, llm, threshold, len(labels)).sort_values("case")
    np.testing.assert_array_equal(suite["pred"], rule_answer)
    np.testing.assert_array_equal(suite["deferred"], confidence < threshold)
    assert (suite["pred"].to_numpy()[:8] == tie_gold).all() and not suite["deferred"].to_numpy()[:8].any()
    alone = cascade_scores(encoder, llm, -np.inf, len(labels)).sort_values("case")
    assert (alone["pred"].to_numpy() == gold).mean() == pytest.approx(rule["encoder_accuracy"])
    # A seed's row missing: no majority of the seeds that happen to be there, but the item named.
    with pytest.raises(SuiteError, match=r"case 'c03' item 0 are not one row per seed of"):
        cascade_scores(encoder.drop(index=3), llm, threshold, len(labels))


def test_the_error_table_names_the_wrong_label_of_tied_wrong_seeds_by_the_same_rule(tmp_path):
    """Two seeds wrong on an SST-5 sentence of gold 2, one saying 0 and one 3: `predicted` is the label with the
    higher mean probability over those seeds (3), as `seed_majority` breaks a tie, not the lower class id."""
    probs = [np.array([[0.4, 0.1, 0.2, 0.3, 0.0]]), np.array([[0.1, 0.1, 0.2, 0.6, 0.0]])]
    paths = [write_run(tmp_path / f"s{s}", "minilm", s, [p], np.array([2])) for s, p in ((1, probs[0]), (2, probs[1]))]
    group = RunSet.load(paths, [["minilm", 1], ["minilm", 2]]).groups["minilm"]
    validation = pd.DataFrame({"index": [0], "text": ["a film"], "label": [2]})
    table = misclassified(group, {}, validation, SST5)
    assert table["predicted"].tolist() == ["positive"] and table["confidence"].tolist() == [pytest.approx(0.45)]
