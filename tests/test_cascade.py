"""The encoder-to-LLM cascade: curves, baselines and cross-fitted operating points, on data whose answers are known."""

import numpy as np
import pytest

from sentiflow.llm.cascade import analyse, crossfit, curves, fit_threshold, fit_weight, fold_of

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
    assert point["oracle_accuracy"] >= point["cascade_accuracy"]
    # The threshold for new inputs is fitted on every sentence, close to what each fold fitted on half of them.
    confidence = encoder_probs[np.arange(len(gold)), encoder_pred]
    assert point["threshold"] == fit_threshold(confidence, encoder_pred == gold, llm_probs.argmax(1) == gold)
    assert min(point["thresholds"]) - 0.1 <= point["threshold"] <= max(point["thresholds"]) + 0.1
