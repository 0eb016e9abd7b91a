"""Label issues judged by independent witnesses with a stated precision, and the detection measured on labels flipped
on purpose."""

import itertools
import json

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import smoke_config, write_run

from sentiflow.analysis.runs import RunSet
from sentiflow.config import ConfigError, load_study
from sentiflow.errors import precision, witnesses
from sentiflow.errors.label_check import issue_columns, study
from sentiflow.errors.label_issues import judged_positions

RULE = witnesses.Rule(confirm_probability=0.7, min_witness_accuracy=None, min_precision=0.5, confidence=0.95)


def towards(labels, classes=2, strength=0.95):
    """Probabilities that put `strength` on each label."""
    probs = np.full((len(labels), classes), (1 - strength) / (classes - 1))
    probs[np.arange(len(labels)), labels] = strength
    return probs


def toy_set(seed=0, n=400, flips=12):
    """Truth; gold with `flips` flips; 15 hard sentences (gold right, both encoders confidently wrong: candidates);
    60 unsure ones (gold right, the encoders wrong at 0.6: their other errors, where a witness's false alarms are
    measured); encoders otherwise right. Witnesses: `qwen` reads the truth except on 15 easy sentences and 3 unsure
    ones; `sharer` shares the encoders' difficulties, reading like them on a third of the hard and unsure sentences;
    `coin` is at chance."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, 2, n)
    order = rng.permutation(n)
    cuts = np.cumsum([0, flips, 15, 60, 15])
    flipped, hard, unsure, slips = (np.sort(order[a:b]) for a, b in itertools.pairwise(cuts))
    gold, seen, read, shared = truth.copy(), truth.copy(), truth.copy(), truth.copy()
    gold[flipped] = 1 - gold[flipped]
    seen[hard], seen[unsure] = 1 - seen[hard], 1 - seen[unsure]
    encoders = {"bert": towards(seen, strength=0.9), "roberta": towards(seen, strength=0.95)}
    for probs in encoders.values():
        probs[unsure] = towards(seen[unsure], strength=0.6)
    read[slips], read[unsure[:3]] = 1 - read[slips], 1 - read[unsure[:3]]
    shared[hard[::3]], shared[unsure[::3]] = 1 - shared[hard[::3]], 1 - shared[unsure[::3]]
    seen_by = {"qwen": towards(read, strength=0.9), "sharer": towards(shared, strength=0.9),
               "coin": rng.dirichlet([1, 1], n)}  # fmt: skip
    return gold, encoders, seen_by, {"flipped": flipped, "hard": hard, "unsure": unsure}


def statuses(found):
    return {status: set(found.loc[found["status"] == status, "position"]) for status in ("confirmed", "disputed")}


def test_a_witness_that_reads_the_truth_confirms_the_flips_and_not_the_hard_cases():
    gold, encoders, seen, parts = toy_set()
    found, quality, judge, read = witnesses.detect(gold, encoders, {"qwen": seen["qwen"], "coin": seen["coin"]}, RULE)
    candidates = set(found["position"])
    assert set(parts["flipped"]) | set(parts["hard"]) <= candidates  # cleanlab cannot tell them apart
    assert quality["qwen"]["good"] and not quality["coin"]["good"] and judge.voters == ("qwen",)
    assert quality["qwen"]["bar"] == pytest.approx(np.bincount(gold).max() / len(gold))
    # Its rates off the candidates, by hand: 5 unsure sentences are candidates too; of the other 55 it reads the 3
    # it slips on against gold; of the encoders' 313 right sentences it gives gold >= 0.7 on all but its 15 slips.
    assert sorted(candidates - set(parts["flipped"]) - set(parts["hard"])) == sorted(candidates & set(parts["unsure"]))
    assert len(candidates & set(parts["unsure"])) == 5
    assert quality["qwen"]["false_alarm"] | {"ci": None} == {"successes": 3, "trials": 55, "rate": 3 / 55, "ci": None}
    assert (quality["qwen"]["sensitivity"]["successes"], quality["qwen"]["sensitivity"]["trials"]) == (298, 313)
    assert quality["qwen"]["hard_accuracy"]["successes"] == 52  # the unsure sentences it reads like gold
    assert (quality["qwen"]["candidates_read"], quality["qwen"]["candidates_against_gold"]) == (32, 12)
    # 12 readings against gold among 32 candidates at a false-alarm rate of 3/55 and a sensitivity of 0.95: the
    # base rate (12/32 - 0.055) / (0.95 - 0.055) = 0.36, so a reading against gold is right 0.36 * 0.95 / (12/32)
    # = 0.91 of the time: the flips, and only they, are confirmed.
    assert statuses(found) == {"confirmed": set(parts["flipped"]), "disputed": set()}
    confirmed = found[found["status"] == "confirmed"]
    assert confirmed["p_gold_wrong"].to_numpy() == pytest.approx(0.91, abs=0.05)
    assert (found.loc[found["status"] == "candidate", "p_gold_wrong"] < 0.1).all()
    # The witness at chance has its say in the table, never in the verdict.
    assert (found["witnesses"] == 1).all() and (found["against_gold"] == (found["status"] == "confirmed")).all()
    assert found["witness_prob_suggested"].to_numpy() == pytest.approx(found["qwen_prob_suggested"].to_numpy())
    shown = witnesses.figures(found, read, judge, 0.95)
    assert shown["precision"]["confirmed"]["candidates"] == 12 and shown["precision"]["disputed"]["candidates"] == 0
    low, high = shown["precision"]["confirmed"]["ci"]
    assert low < 1.0 == pytest.approx(1.0) and low < shown["precision"]["confirmed"]["estimate"] < high
    assert [p["against"] for p in shown["patterns"]] == [["qwen"], []]


def test_a_witness_that_shares_the_encoders_difficulties_is_disputed_where_real_errors_are_rare():
    """The old rule confirmed every candidate a good witness read against gold: here 2 flips and 6 hard sentences
    the witness shares with the encoders. It errs on a third of the encoders' other errors too (19 of 57), so its 8
    readings against gold among 20 candidates are mostly false alarms: disputed, with an estimate near the realised
    2 of 8."""
    gold, encoders, seen, parts = toy_set(flips=2)
    found, quality, judge, read = witnesses.detect(gold, encoders, {"sharer": seen["sharer"]}, RULE)
    against = set(found.loc[found["against_gold"] > 0, "position"])
    shared = set(parts["hard"][::3]) | set(parts["unsure"][::3])
    assert against == set(parts["flipped"]) | (set(found["position"]) & shared) and len(found) == 20
    assert len(against) == 8 and statuses(found) == {"confirmed": set(), "disputed": against}
    assert quality["sharer"]["good"] and quality["sharer"]["false_alarm"]["rate"] == pytest.approx(19 / 57)
    assert quality["sharer"]["accuracy"] > 0.9 and quality["sharer"]["hard_accuracy"]["rate"] == pytest.approx(2 / 3)
    shown = witnesses.figures(found, read, judge, 0.95)["precision"]["disputed"]
    assert shown["estimate"] == pytest.approx(2 / 8, abs=0.05) and shown["ci"][0] < 2 / 8 < shown["ci"][1]
    # Its readings alone would reach 0.5 only while it raised false alarms on fewer than q d (1 - m) / (q - m d)
    # = 1 * 0.4 * 0.5 / (1 - 0.5 * 0.4) = 0.25 of the candidates with a right gold label; 0.33 is measured.
    assert quality["sharer"]["false_alarm_limit"] == pytest.approx(0.25)


def test_agreement_counts_between_model_families_only():
    """Two witnesses that each err on hard sentences, independently (a third and a fifth of them): agreeing, they are
    right 4 times in 5, either alone never, if their errors are independent, which the config states through their
    families. Of one family only the more discriminating one votes, and alone it confirms nothing."""
    gold, encoders, seen, parts = toy_set(flips=4)
    truth = gold.copy()
    truth[parts["flipped"]] = 1 - truth[parts["flipped"]]
    hard = np.concatenate([parts["hard"], parts["unsure"]])
    errs = hard[np.random.default_rng(0).random(len(hard)) < 0.2]
    reading = truth.copy()
    reading[errs] = 1 - reading[errs]
    given = {"sharer": seen["sharer"], "other": towards(reading, strength=0.9)}
    apart = witnesses.Rule(families={"sharer": "smollm", "other": "qwen"})
    found, quality, judge, read = witnesses.detect(gold, encoders, given, apart)
    assert judge.voters == ("sharer", "other") and [q["family"] for q in quality.values()] == ["smollm", "qwen"]
    both = found[found["against_gold"] == 2]
    assert len(both) == 5 and set(parts["flipped"]) < set(both["position"]) and (both["status"] == "confirmed").all()
    assert (found.loc[found["against_gold"] == 1, "status"] == "disputed").all()
    shown = {tuple(p["against"]): p for p in witnesses.figures(found, read, judge, 0.95)["patterns"]}
    assert shown["sharer", "other"]["estimate"] == pytest.approx(4 / 5, abs=0.15)
    assert shown["sharer",]["estimate"] < 0.05 and shown["other",]["estimate"] < 0.05
    together, quality, judge, _ = witnesses.detect(gold, encoders, given, witnesses.Rule())  # one family, unstated
    best = max(given, key=lambda name: witnesses.separation(quality[name]))
    assert judge.voters == (best,) and quality[best]["votes"] and not quality[({*given} - {best}).pop()]["votes"]
    assert not (together["status"] == "confirmed").any() and (together["status"] == "disputed").any()


def test_without_a_good_witness_nothing_is_judged_and_an_unscored_candidate_stays_a_candidate():
    gold, encoders, seen, _ = toy_set()
    for given in ({}, {"coin": seen["coin"]}):
        found, _, judge, _ = witnesses.detect(gold, encoders, given, RULE)
        assert len(found) == 32 and (found["status"] == "candidate").all() and judge.voters == ()
        assert found["p_gold_wrong"].isna().all()
    # A witness that scored only part of validation is judged on that part; unscored candidates stay candidates.
    partial = seen["qwen"].copy()
    partial[200:] = np.nan
    found, quality, _, _ = witnesses.detect(gold, encoders, {"qwen": partial}, RULE)
    assert quality["qwen"]["sentences"] == 200 and quality["qwen"]["votes"]
    late = found["position"] >= 200
    assert (found.loc[late, "status"] == "candidate").all() and (found.loc[late, "witnesses"] == 0).all()
    assert found.loc[late, "p_gold_wrong"].isna().all() and found.loc[~late, "p_gold_wrong"].notna().all()
    assert (found.loc[~late, "status"] == "confirmed").any()


def test_a_witness_whose_false_alarms_cannot_be_measured_does_not_vote(tmp_path):
    """The encoders err only on the candidates: nothing measures how often the witness reads a hard sentence with a
    right gold label against it, so its readings cannot be weighed, and nothing is confirmed or disputed."""
    gold, encoders, seen, parts = toy_set()
    for probs in encoders.values():
        probs[parts["unsure"]] = towards(gold[parts["unsure"]], strength=0.6)  # now right
    table, summary = run_study(tmp_path, gold, encoders, {"qwen": seen["qwen"]})
    quality = summary["witnesses"]["qwen"]
    assert quality["good"] and quality["false_alarm"]["trials"] == 0 and not quality["votes"]
    assert set(table["status"]) == {"candidate"} and table["p_gold_wrong"].isna().all()
    assert summary["note"] == (
        "no good witness votes (qwen does not vote: no error of the encoders outside the candidates to measure its "
        "false alarms on)"
    )
    assert summary["base_rate"] is None and summary["patterns"] == []


def test_a_witness_that_does_not_discriminate_does_not_vote():
    """A witness that answers one class whatever the sentence reads the encoders' errors against gold more often
    (f) than it would a wrong gold label (q): the model assumes q > f, so it does not vote, and its posterior draws
    keep q > f even where the measured rates are close."""
    rates = {
        "good": True,
        "sensitivity": {"successes": 82, "trials": 154},
        "false_alarm": {"successes": 40, "trials": 51},
    }
    quality = {"constant": dict(rates), "fine": rates | {"false_alarm": {"successes": 5, "trials": 51}}}
    assert witnesses.voters(quality, witnesses.Rule(families={"constant": "a", "fine": "b"})) == ["fine"]
    assert quality["constant"]["vote"] == (
        "does not vote: it reads the encoders' other errors against gold at least as often as it would a wrong gold "
        "label"
    )
    q, f = precision.informative_rates(np.array([[10, 20]]), np.array([[9, 20]]), 2000, np.random.default_rng(0))
    assert q.shape == (2000, 1) and (q > f).all()


def test_one_witness_gives_rogan_and_gladens_prevalence():
    """The maximum-likelihood base rate of one witness is (d - f) / (q - f), clipped to [0, 1]."""
    rng = np.random.default_rng(0)
    q, f, d = rng.uniform(0.6, 1, 500), rng.uniform(0, 0.4, 500), rng.uniform(0, 1, 500)
    wrong, right = precision.likelihoods(np.array([[1], [0]]), q[:, None], f[:, None])
    mle = precision.base_rate_mle(np.column_stack([d, 1 - d]), wrong, right)
    assert mle == pytest.approx(np.clip((d - f) / (q - f), 0, 1), abs=1e-8)
    # The issue's example: 3 real errors among 119 candidates, a 0.9-accurate witness (q = 0.9, f = 0.1): its reading
    # against gold is right 0.0227 / (0.0227 + 0.0975) of the time.
    one = precision.likelihoods(np.array([[1]]), np.array([0.9]), np.array([0.1]))
    assert precision.gold_wrong(np.array(3 / 119), *one) == pytest.approx(0.189, abs=1e-3)


def simulate(pi, q, f, candidates, right, hard, studies, rng):
    """`studies` datasets of `candidates` candidates, each with a wrong gold label at rate `pi` (per study), read by
    witnesses (last axis of `q`, `f`) that read a wrong gold label against gold with probability q and a right one
    with f, independently; each witness measured on `right` sentences the encoders get right (q) and `hard` other
    errors of the encoders (f). Returns the truth, readings, and the measured counts [successes, trials]."""
    pi = np.broadcast_to(pi, (studies,))[:, None]
    q = np.broadcast_to(q, (studies, np.shape(q)[-1]))
    f = np.broadcast_to(f, q.shape)
    wrong = rng.random((studies, candidates)) < pi
    draws = rng.random((studies, candidates, q.shape[1]))
    against = np.where(wrong[..., None], draws < q[:, None], draws < f[:, None])
    sensitivity = np.stack([rng.binomial(right, q), np.full(q.shape, right)], -1)
    false_alarm = np.stack([rng.binomial(hard, f), np.full(q.shape, hard)], -1)
    return wrong, against.astype(int), sensitivity, false_alarm


def posterior(read, sensitivity, false_alarm, draws, rng):
    """Each simulated study's posterior: P(gold wrong) draws per pattern (studies x draws x patterns), the patterns."""
    cells = precision.possible_patterns(np.zeros((1, read.shape[-1]), dtype=int))
    counts = (read[:, :, None, :] == cells[None, None]).all(-1).sum(1)
    pi, q, f = precision.draw(cells, counts, sensitivity, false_alarm, draws, rng)
    return precision.gold_wrong(pi, *precision.likelihoods(cells, q, f)), cells


# (base rate, sensitivities, false-alarm rates, candidates, easy sentences, hard sentences): the issue's 3 in 119 with
# a witness that errs on 10% of hard sentences (truth 0.19); the full SST-2 run's 48 candidates with a witness at
# 0.915 overall and 0.765 on hard sentences (0.31); a much stronger witness (0.89); two witnesses of different
# families at 5% (agreeing: 0.74).
SCENARIOS = [
    (0.025, [0.93], [0.10], 119, 600, 50),
    (0.10, [0.95], [0.235], 48, 700, 40),
    (0.30, [0.95], [0.05], 48, 700, 40),
    (0.05, [0.90, 0.90], [0.10, 0.15], 100, 700, 60),
]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_precision_interval_covers_and_the_estimate_follows_the_realised_precision(scenario):
    """2,000 simulated studies per scenario, a known truth: the 95% interval of P(gold wrong | every witness reads
    it against gold) covers the truth in [0.93, 0.97] of them (measured: 0.939, 0.945, 0.951, 0.936), and the
    estimate's mean is within 0.12 of the realised share of wrong gold labels among those candidates (it leans toward
    1/2 where little is known: 0.286 against 0.189 in the first scenario); a study confirms (estimate >= 0.5) rarely
    when the truth is below 0.5 (0.16, 0.21 of the studies) and mostly when it is above (0.99, 0.78)."""
    pi, q, f, candidates, right, hard = scenario
    rng = np.random.default_rng(7)
    wrong, read, sensitivity, false_alarm = simulate(pi, np.array(q), np.array(f), candidates, right, hard, 2000, rng)
    draws, cells = posterior(read, sensitivity, false_alarm, 400, rng)
    every = int(np.flatnonzero((cells == precision.AGAINST).all(1))[0])
    truth = pi * np.prod(q) / (pi * np.prod(q) + (1 - pi) * np.prod(f))
    low, high = np.quantile(draws[:, :, every], [0.025, 0.975], axis=1)
    assert 0.93 <= ((low <= truth) & (truth <= high)).mean() <= 0.97
    hit = (read == precision.AGAINST).all(-1)
    some = hit.any(1)
    realised = (wrong & hit).sum(1)[some] / hit.sum(1)[some]
    estimate = draws[:, :, every].mean(1)
    assert abs(estimate[some].mean() - realised.mean()) < 0.12
    confirming = (estimate >= 0.5).mean()
    assert confirming < 0.25 if truth < 0.5 else confirming > 0.7


def test_confirmed_issues_have_a_wrong_gold_label_more_often_than_not():
    """Over 4,000 studies with base rates, sensitivities and false-alarm rates spread over what real studies show
    (one witness, 60 candidates), the confirmed candidates' gold label is wrong in more than half of them on average,
    the disputed ones' in less than half: 'confirmed' means what it says in expectation."""
    rng = np.random.default_rng(1)
    studies = 4000
    pi, q, f = (
        rng.uniform(0.01, 0.4, studies),
        rng.uniform(0.85, 0.97, (studies, 1)),
        rng.uniform(0.03, 0.3, (studies, 1)),
    )
    wrong, read, sensitivity, false_alarm = simulate(pi, q, f, 60, 500, 50, studies, rng)
    draws, cells = posterior(read, sensitivity, false_alarm, 300, rng)
    estimate = draws[:, :, int(np.flatnonzero(cells[:, 0] == precision.AGAINST)[0])].mean(1)
    hit = read[..., 0] == precision.AGAINST
    some = hit.any(1)
    realised = np.where(some, (wrong & hit).sum(1) / np.maximum(hit.sum(1), 1), np.nan)
    confirmed = estimate >= 0.5
    assert np.nanmean(realised[confirmed]) > 0.6 and np.nanmean(realised[~confirmed]) < 0.45


def test_flips_follow_the_candidates_confidence_and_label_distance():
    """Most sentences are easy (the encoders give the other labels 0.01); a band of 40 is hard (0.3 on a label next
    to gold). Candidates at a self-confidence near 0.3 with an adjacent suggestion draw their flips from that band,
    never from the easy sentences a random flip would mostly hit."""
    n, classes = 400, 5
    rng = np.random.default_rng(2)
    gold = rng.integers(1, 4, n)  # labels 1..3, each with both neighbours
    pooled = np.full((n, classes), 0.01)
    pooled[np.arange(n), gold] = 0.96
    band = np.arange(40)
    pooled[band, gold[band]], pooled[band, gold[band] + 1] = 0.67, 0.3
    found = pd.DataFrame({"position": [390, 391, 392], "gold": [1, 2, 3], "suggested": [2, 3, 2],
                          "self_confidence": [0.3, 0.32, 0.28]})  # fmt: skip
    flipped, new, skipped = witnesses.flip_positions(np.arange(n), 0.05, pooled, gold, found, seed=3)
    assert len(flipped) == 20 and skipped == 0 and set(flipped) <= set(band) and (new == gold[flipped] + 1).all()
    again = witnesses.flip_positions(np.arange(n), 0.05, pooled, gold, found, seed=3)
    assert (again[0] == flipped).all() and (again[1] == new).all()
    # A distant candidate (0 -> 4 in the labels' order) draws a distant flip, among the easy sentences here.
    distant = found.assign(suggested=[4, 4, 0], gold=[1, 1, 2], self_confidence=0.01)
    flipped, new, _ = witnesses.flip_positions(np.arange(n), 0.01, pooled, gold, distant, seed=3)
    assert len(flipped) == 4 and (np.abs(new - gold[flipped]) >= 2).all()
    # A candidate no sentence comes near (0.1: the band's 0.3 and the easy 0.01 are more than 0.5 off in log-odds)
    # is skipped, not replaced by an easy flip.
    assert [len(x) if hasattr(x, "__len__") else x for x in witnesses.flip_positions(
        np.arange(n), 0.05, pooled, gold, found.assign(self_confidence=0.1), seed=3)] == [0, 0, 20]  # fmt: skip
    # No candidate: no confidence to follow, no flip.
    assert witnesses.flip_positions(np.arange(n), 0.05, pooled, gold, found.iloc[:0], 3)[0].size == 0


def test_injected_flips_by_hand():
    gold = np.tile([0, 1], 20)
    judged = np.arange(40)
    encoders = {"bert": towards(gold, strength=0.95)}  # every other label at 0.05
    encoders["bert"][[4, 5]] = towards(1 - gold[[4, 5]], strength=0.95)  # two real candidates, p(gold) 0.05
    encoders["bert"][[10, 11]] = towards(1 - gold[[10, 11]], strength=0.6)  # errors where false alarms are measured
    flips = witnesses.flip_positions(judged, 0.05, encoders["bert"], gold, pd.DataFrame(
        {"position": [4, 5], "gold": [0, 1], "suggested": [1, 0], "self_confidence": [0.05, 0.05]}), seed=3)  # fmt: skip
    flipped = flips[0]
    assert len(flipped) == 2 and (flips[1] == 1 - gold[flipped]).all()  # 5% of 40, each to the other class
    read = gold.copy()
    read[flipped[1]] = 1 - read[flipped[1]]  # the witness reads the second flip like its new label
    read[[4, 5]] = 1 - read[[4, 5]]  # and the real candidates against gold
    seen = {"qwen": towards(read)}
    _, quality, judge, _ = witnesses.detect(gold, encoders, seen, RULE)
    assert judge.voters == ("qwen",) and quality["qwen"]["false_alarm"]["trials"] == 2
    measured = witnesses.inject_flips(gold, encoders, seen, judged, RULE, flips, judge)
    # Both flips are candidates (2 of 2), one read against gold (1 of 2), whatever the model makes of it.
    assert measured["recall_candidates"] == 1.0 and measured["recall_against_gold"] == 0.5
    assert measured["recall_candidates_ci"] == pytest.approx([0.3424, 1.0], abs=1e-4)
    assert measured["recall_against_gold_ci"] == pytest.approx([0.0945, 0.9055], abs=1e-4)
    # The unflipped sentences flagged are the data's own two label issues: 2 of 38.
    assert measured["unflipped"] == 38 and measured["unflipped_candidates"] == 2
    assert measured["flips_self_confidence_median"] == pytest.approx(0.05) and measured["unmatched"] == 0
    assert measured["by_distance"] is None  # two classes: every flip is to the other one


def test_wilson_by_hand():
    assert witnesses.wilson(2, 2) == pytest.approx((0.3424, 1.0), abs=1e-4)
    assert witnesses.wilson(1, 2) == pytest.approx((0.0945, 0.9055), abs=1e-4)
    assert witnesses.wilson(0, 38) == pytest.approx((0.0, 0.0918), abs=1e-4)
    assert all(np.isnan(witnesses.wilson(0, 0)))


def test_the_judged_sentences_are_all_or_a_seeded_sample():
    assert judged_positions(10, None, 0).tolist() == list(range(10))
    assert judged_positions(10, 50, 0).tolist() == list(range(10))
    sample = judged_positions(100, 20, 1)
    assert (
        len(set(sample)) == 20 and sample.tolist() == sorted(sample) and (sample == judged_positions(100, 20, 1)).all()
    )


SETTINGS = {"enabled": True, "witness_sentences": None, "confirm_probability": 0.7, "min_precision": 0.5,
            "families": {}, "min_witness_accuracy": None, "flip_share": 0.05, "seed": 0}  # fmt: skip


def run_study(tmp_path, gold, encoders, seen: dict, settings=SETTINGS, labels=("negative", "positive")):
    """The rule's job on written files: runs of each encoder, the validation split, the witnesses' tables."""
    texts = [f"sentence {i}" for i in range(len(gold))]
    validation = pd.DataFrame({"index": np.arange(len(gold)), "text": texts, "label": gold})
    validation.to_parquet(tmp_path / "validation.parquet")
    paths = [write_run(tmp_path / "runs" / name, name, 1, [probs], gold) for name, probs in encoders.items()]
    tables = {}
    for name, probs in seen.items():
        table = pd.DataFrame({"index": np.arange(len(gold)), "gold": [labels[k] for k in gold]})
        for k, label in enumerate(labels):
            table[f"llm_prob_{label}"] = probs[:, k]
        table.to_csv(tmp_path / f"{name}.csv", index=False)
        tables[name] = tmp_path / f"{name}.csv"
    outputs = {"table": tmp_path / "label_issues.csv", "summary": tmp_path / "label_issues.json"}
    data = {"validation": tmp_path / "validation.parquet", "witnesses": tables}
    summary = study(RunSet.load(paths), data, list(labels), settings, 0.95, outputs)
    assert json.loads(outputs["summary"].read_text()) == json.loads(json.dumps(summary))
    return pd.read_csv(outputs["table"]), summary


def test_the_rule_writes_every_status_and_its_figures(tmp_path):
    gold, encoders, seen, parts = toy_set()
    table, summary = run_study(tmp_path, gold, encoders, {"qwen": seen["qwen"], "coin": seen["coin"]})
    assert list(table.columns) == issue_columns(pd.DataFrame(columns=["text"]), ["qwen", "coin"])
    assert summary["confirmed"] == 12 and summary["disputed"] == 0 and summary["candidates"] == len(table) == 32
    assert set(table.loc[table["status"] == "confirmed", "index"]) == set(parts["flipped"])
    assert summary["voters"] == ["qwen"] and summary["note"] is None
    assert summary["precision"]["confirmed"]["estimate"] == pytest.approx(table.loc[
        table["status"] == "confirmed", "p_gold_wrong"].mean())  # fmt: skip
    assert 0 < summary["base_rate"]["ci"][0] < summary["base_rate"]["estimate"] < summary["base_rate"]["ci"][1] < 1
    flips = summary["injected_flips"]
    # 20 candidates drawn: the 5 unsure ones (pooled probability of gold 0.4) have no sentence near them (the easy
    # sentences give another label 0.075, the unsure ones 0.6), the others (0.075) match easy sentences exactly.
    assert flips["flipped"] + flips["unmatched"] == 20 and 0 < flips["unmatched"] < 10 and flips["judged"] == 400
    assert flips["flips_self_confidence_median"] == flips["candidates_self_confidence_median"] == pytest.approx(0.075)
    # Every flip is a candidate; all but one are confirmed: that one landed on a sentence qwen slips on, where it reads
    # the flipped gold label as gold. The unflipped confirmed issues are the toy's own 12 flips.
    assert flips["recall_candidates"] == 1.0 and flips["recall_confirmed"] == flips["recall_against_gold"]
    assert flips["recall_confirmed"] == (flips["flipped"] - 1) / flips["flipped"] and flips["unflipped_confirmed"] == 12
    sensitivity = summary["sensitivity"][0]
    assert sensitivity["flagged"] == 12 and sensitivity["accuracy_on_flagged"] == 0.0


@pytest.mark.parametrize("kind", ["no witness", "no candidate", "none confirmed", "disabled"])
def test_every_table_has_its_header_and_every_reader_accepts_it(tmp_path, kind):
    """No witness, no candidate, no confirmed issue, the stage off: the table keeps its header, the summary says
    why, and the report's readers take it (only `confirmed` is ever tagged)."""
    from sentiflow.report.why import confirmed_indices, label_issue_section

    gold, encoders, seen, _ = toy_set(flips=2)
    given = {"no witness": {}, "none confirmed": {"sharer": seen["sharer"]}}.get(kind, {"qwen": seen["qwen"]})
    if kind == "no candidate":
        encoders = {"bert": towards(gold, strength=0.9)}
    settings = SETTINGS | {"enabled": kind != "disabled"}
    table, summary = run_study(tmp_path, gold, encoders, given, settings)
    assert list(table.columns) == issue_columns(pd.DataFrame(columns=["text"]), list(given))
    assert summary["confirmed"] == 0 and (table["status"] != "confirmed").all()
    note = {"no witness": "no LLM witness", "no candidate": "cleanlab flags no candidate",
            "none confirmed": "below min_precision 0.5: disputed", "disabled": "enabled is false"}[kind]  # fmt: skip
    assert note in summary["note"]
    if kind == "no candidate":
        assert summary["injected_flips"] is None and "no candidate" in summary["injected_flips_note"]
    if kind == "none confirmed":
        assert summary["disputed"] == 8 and summary["precision"]["confirmed"]["estimate"] is None
    inputs = type("Inputs", (), {"name": "toy", "label_issues": tmp_path / "label_issues.csv",
                                 "label_summary": tmp_path / "label_issues.json"})  # fmt: skip
    section = label_issue_section(inputs, top=5)
    assert confirmed_indices(inputs.label_issues) == set() and section["confirmed_rows"] == []
    assert len(section["disputed_rows"]) == min(5, summary["disputed"])
    # Every disputed candidate to explore in the HTML report, the first five shown when it opens.
    disputed = section["explore"]["disputed"]
    assert (disputed["id"], disputed["total"], disputed["shown"]) == ("toy-label-disputed", summary["disputed"], 5)
    assert section["explore"]["confirmed"]["rows"] == []


def test_a_family_for_an_unknown_llm_entry_is_refused(tmp_path):
    config = smoke_config()
    config["analysis"]["label_issues"]["families"] = {"smollm2": "smollm", "qwen": "qwen"}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(ConfigError, match=r"analysis\.label_issues\.families names \['qwen'\], which are not keys"):
        load_study([path])
    config["analysis"]["label_issues"]["families"] = {"smollm2": "smollm"}
    path.write_text(yaml.safe_dump(config))
    assert load_study([path])["analysis"]["label_issues"]["min_precision"] == 0.5


@pytest.mark.e2e
def test_smoke_run_label_issues(smoke_run):
    workdir, config = smoke_run
    settings = config["analysis"]["label_issues"]
    for name in config["datasets"]:
        results = workdir / "results" / name
        summary = json.loads((results / "analysis/label_issues.json").read_text())
        table = pd.read_csv(results / "analysis/label_issues.csv")
        assert len(table) == summary["candidates"]
        for status in ("confirmed", "disputed"):
            assert (table["status"] == status).sum() == summary[status]
        flips = summary["injected_flips"]
        if flips is not None:
            assert flips["judged"] == min(settings["witness_sentences"] or 10**9,
                                          len(pd.read_parquet(results / "data/validation.parquet")))  # fmt: skip
            assert 0 < flips["flipped"] <= max(1, round(settings["flip_share"] * flips["judged"]))
            if name == "sst5":
                assert set(flips["by_distance"]) == {"adjacent", "distant"}
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
    assert "candidates, neither confirmed nor disputed" in html and "recall of the flips" in html
    if summary["confirmed"] == 0:
        assert "No label issue is confirmed" in html and "<i>confirmed label issue</i>" not in html
