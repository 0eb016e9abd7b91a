"""Label issues confirmed by independent witnesses, and the detection measured on labels flipped on purpose."""

import json

import numpy as np
import pandas as pd
import pytest

from sentiflow.errors import witnesses
from sentiflow.errors.label_issues import judged_positions

RULE = witnesses.Rule(confirm_probability=0.7, min_witness_accuracy=None, confidence=0.95)


def towards(labels, classes=2, strength=0.95):
    """Probabilities that put `strength` on each label."""
    probs = np.full((len(labels), classes), (1 - strength) / (classes - 1))
    probs[np.arange(len(labels)), labels] = strength
    return probs


def toy_set(seed=0, n=400):
    """Truth, gold with 12 flips, 15 hard sentences (gold right, both encoders confidently wrong), encoders that
    are otherwise right, a witness that reads the truth (wrong on 5% of the other sentences) and one at chance."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, n)
    flipped = np.sort(rng.choice(n, 12, replace=False))
    rest = np.setdiff1d(np.arange(n), flipped)
    hard = np.sort(rng.choice(rest, 15, replace=False))
    gold = truth.copy()
    gold[flipped] = 1 - gold[flipped]
    seen = truth.copy()
    seen[hard] = 1 - seen[hard]  # the encoders' failure modes: confidently wrong
    encoders = {"bert": towards(seen, strength=0.9), "roberta": towards(seen, strength=0.95)}
    slips = rng.choice(np.setdiff1d(rest, hard), 15, replace=False)
    read = truth.copy()
    read[slips] = 1 - read[slips]
    return gold, encoders, {"qwen": towards(read, strength=0.9), "coin": rng.dirichlet([1, 1], n)}, flipped, hard


def test_confirmed_issues_keep_the_flips_and_drop_the_hard_cases():
    gold, encoders, seen, flipped, hard = toy_set()
    found, quality = witnesses.detect(gold, encoders, seen, RULE)
    candidates = set(found["position"])
    assert set(flipped) <= candidates and set(hard) <= candidates  # cleanlab cannot tell them apart
    assert quality["qwen"]["good"] and not quality["coin"]["good"]
    assert quality["qwen"]["bar"] == pytest.approx(np.bincount(gold).max() / len(gold))
    confirmed = set(found.loc[found["status"] == witnesses.CONFIRMED, "position"])
    assert confirmed == set(flipped)
    # The witness at chance has its say in the table, never in the verdict.
    assert (found["witnesses"] == 1).all()
    assert found["witness_prob_suggested"].to_numpy() == pytest.approx(found["qwen_prob_suggested"].to_numpy())


def test_without_a_good_witness_nothing_is_confirmed():
    gold, encoders, seen, _flipped, _hard = toy_set()
    for witnesses_given in ({}, {"coin": seen["coin"]}):
        found, quality = witnesses.detect(gold, encoders, witnesses_given, RULE)
        assert len(found) >= 27 and (found["status"] == witnesses.CANDIDATE).all()
    # A witness that scored only part of validation is judged on that part; unscored candidates stay candidates.
    partial = seen["qwen"].copy()
    partial[200:] = np.nan
    found, quality = witnesses.detect(gold, encoders, {"qwen": partial}, RULE)
    assert quality["qwen"]["sentences"] == 200
    late = found["position"] >= 200
    assert (found.loc[late, "status"] == witnesses.CANDIDATE).all() and (found.loc[late, "witnesses"] == 0).all()
    assert (found.loc[~late, "status"] == witnesses.CONFIRMED).any()


def test_wilson_by_hand():
    assert witnesses.wilson(2, 2) == pytest.approx((0.3424, 1.0), abs=1e-4)
    assert witnesses.wilson(1, 2) == pytest.approx((0.0945, 0.9055), abs=1e-4)
    assert witnesses.wilson(0, 38) == pytest.approx((0.0, 0.0918), abs=1e-4)
    assert all(np.isnan(witnesses.wilson(0, 0)))


def test_injected_flips_by_hand():
    gold = np.tile([0, 1], 20)
    judged = np.arange(40)
    flips = witnesses.flip_positions(judged, 0.05, 2, seed=3)
    flipped = flips[0]
    assert len(flipped) == 2 and (flips[1] == 1).all()  # 5% of 40, each to the other class
    encoders = {"bert": towards(gold, strength=0.99)}
    read = gold.copy()
    read[flipped[1]] = 1 - read[flipped[1]]  # the witness reads the second flip like its new label
    measured = witnesses.inject_flips(gold, encoders, {"qwen": towards(read)}, judged, RULE, flips)
    # Both flips are candidates (2 of 2), one confirmed (1 of 2); no other sentence is flagged (0 of 38).
    assert measured["recall_candidates"] == 1.0 and measured["recall_confirmed"] == 0.5
    assert measured["recall_candidates_ci"] == pytest.approx([0.3424, 1.0], abs=1e-4)
    assert measured["recall_confirmed_ci"] == pytest.approx([0.0945, 0.9055], abs=1e-4)
    assert measured["unflipped"] == 38 and measured["unflipped_candidates"] == measured["unflipped_confirmed"] == 0
    assert measured["unflipped_confirmed_ci"] == pytest.approx([0.0, 0.0918], abs=1e-4)


def test_the_judged_sentences_are_all_or_a_seeded_sample():
    assert judged_positions(10, None, 0).tolist() == list(range(10))
    assert judged_positions(10, 50, 0).tolist() == list(range(10))
    sample = judged_positions(100, 20, 1)
    assert (
        len(set(sample)) == 20 and sample.tolist() == sorted(sample) and (sample == judged_positions(100, 20, 1)).all()
    )
    assert witnesses.flip_positions(np.array([], dtype=int), 0.05, 2, 0)[0].size == 0


@pytest.mark.e2e
def test_smoke_run_label_issues(smoke_run):
    workdir, config = smoke_run
    settings = config["analysis"]["label_issues"]
    for name in config["datasets"]:
        results = workdir / "results" / name
        summary = json.loads((results / "analysis/label_issues.json").read_text())
        table = pd.read_csv(results / "analysis/label_issues.csv")
        assert len(table) == summary["candidates"] and (table["status"] == "confirmed").sum() == summary["confirmed"]
        flips = summary["injected_flips"]
        judged = min(settings["witness_sentences"] or 10**9, len(pd.read_parquet(results / "data/validation.parquet")))
        assert flips["judged"] == judged and flips["flipped"] == max(1, round(settings["flip_share"] * judged))
        # Label issues are known only after the witnesses: no table written before them carries a flag.
        for earlier in ("analysis/misclassified.csv", "analysis/cues.csv", "llm/smollm2/predictions.csv"):
            assert "label_issue" not in pd.read_csv(results / earlier).columns, earlier
        if not summary["witnesses"]:
            assert summary["confirmed"] == 0 and "no LLM witness" in summary["note"]
    # SST-2's witness: the judged sample, scored through llm_compare's prompt and cache (the same probabilities
    # where both scored a sentence), and its accuracy as the summary gives it.
    results = workdir / "results/sst2"
    witness = pd.read_csv(results / "llm/smollm2/witness.csv")
    assert len(witness) == settings["witness_sentences"] and witness["index"].is_unique
    probs = witness[["llm_prob_negative", "llm_prob_positive"]].to_numpy()
    assert np.allclose(probs.sum(1), 1)
    compared = pd.read_csv(results / "llm/smollm2/predictions.csv").set_index("index")
    shared = witness[witness["index"].isin(compared.index)].set_index("index")
    assert len(shared) > 0
    assert np.allclose(shared["llm_prob_positive"], compared.loc[shared.index, "llm_prob_positive"])
    summary = json.loads((results / "analysis/label_issues.json").read_text())
    quality = summary["witnesses"]["smollm2"]
    assert quality["accuracy"] == pytest.approx((witness["llm_predicted"] == witness["gold"]).mean())
    table = pd.read_csv(results / "analysis/label_issues.csv")
    scored = table["smollm2_predicted"].notna()
    assert set(table.loc[scored, "index"]) <= set(witness["index"])
    html = (workdir / "results/report/report.html").read_text()
    assert "candidates, not confirmed" in html and "recall of the flips" in html
    if summary["confirmed"] == 0:
        assert "No label issue is confirmed" in html and "<i>confirmed label issue</i>" not in html
