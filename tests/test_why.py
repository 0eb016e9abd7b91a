"""Why the model errs: lexical shortcuts (Gardner et al. 2021), mixed tone (VADER lexicon), label issues (cleanlab)."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sentiflow.errors import label_issues, polarity, shortcuts

# A toy training split, counted by hand below. Labels: 1 five times, 0 four times, so the priors are 5/9 and 4/9.
CORPUS = [
    ("a great film", 1),
    ("great acting , dull plot", 0),
    ("a dull film", 0),
    ("great fun", 1),
    ("dull dull dull", 0),  # one text: "dull" counts once
    ("the great plot", 1),
    ("the film", 1),
    ("a plot", 0),
    ("the end", 1),
]


@pytest.fixture(scope="module")
def toy_stats():
    texts, labels = zip(*CORPUS)
    return shortcuts.word_label_stats(list(texts), list(labels), n_classes=2, min_count=3)


def test_the_word_statistic_matches_a_hand_count(toy_stats):
    table = toy_stats.set_index("word")
    # "great": in 4 texts, 3 of them positive.
    p1 = 5 / 9
    z_great = (3 / 4 - p1) / math.sqrt(p1 * (1 - p1) / 4)
    assert table.loc["great", "count"] == 4
    assert table.loc["great", "share_1"] == pytest.approx(3 / 4) and table.loc["great", "share_0"] == pytest.approx(
        1 / 4
    )
    assert table.loc["great", "z_1"] == pytest.approx(z_great) and table.loc["great", "z_0"] == pytest.approx(-z_great)
    assert table.loc["great", "top_label"] == 1 and table.loc["great", "top_z"] == pytest.approx(z_great)
    # "dull": in 3 texts (one says it three times), all negative.
    p0 = 4 / 9
    z_dull = (1 - p0) / math.sqrt(p0 * (1 - p0) / 3)
    assert table.loc["dull", "count"] == 3 and table.loc["dull", "share_0"] == 1.0
    assert table.loc["dull", "z_0"] == pytest.approx(z_dull) and table.loc["dull", "top_label"] == 0
    assert toy_stats["word"].iloc[0] == "dull"  # strongest first


def test_words_below_min_count_are_left_out(toy_stats):
    assert set(toy_stats["word"]) == {"a", "great", "dull", "film", "plot", "the"}  # fun, acting, end, ",": 1 text
    texts, labels = zip(*CORPUS)
    assert set(shortcuts.word_label_stats(list(texts), list(labels), 2, 4)["word"]) == {"great"}
    with pytest.raises(ValueError, match=r"labels \[2\]"):
        shortcuts.word_label_stats(list(texts), list(labels), 3, 1)


def test_strongest_words_per_label(toy_stats):
    top = shortcuts.strongest(toy_stats, per_label=2)
    assert top[top["label"] == 0]["word"].tolist() == ["dull", "a"]  # "a" and "plot" tie (2 of 3); "a" sorts first
    assert top[top["label"] == 1]["word"].tolist() == ["the", "great"]  # "the": 3 of 3 positive
    assert top["rank"].tolist() == [1, 2, 1, 2]
    # The shortcut table: every word past both bars, labels by name. "a", "plot" and "film" have a share of 2/3.
    strong = shortcuts.strongest(toy_stats, ["negative", "positive"], threshold=0.5, min_share=0.7)
    assert strong[["label", "rank", "word"]].values.tolist() == [
        ["negative", 1, "dull"], ["positive", 1, "the"], ["positive", 2, "great"]
    ]  # fmt: skip
    table = toy_stats.set_index("word")
    assert strong["z"].tolist() == [table.loc["dull", "z_0"], table.loc["the", "z_1"], table.loc["great", "z_1"]]
    assert strong["share"].tolist() == [1.0, 1.0, 0.75] and strong["count"].tolist() == [3, 3, 4]
    assert shortcuts.strongest(toy_stats, threshold=10).empty


def test_shortcut_against_gold_on_hand_written_sentences(toy_stats):
    texts = ["a dull but great film", "a great film", "a dull plot", "great fun was had"]
    gold = [1, 0, 1, 0]
    # z toward the other label: dull -> 0 is 1.94, great -> 1 is 0.78, a and plot -> 0 are 0.77, film -> 1 is 0.39.
    strict = shortcuts.shortcut_against_gold(texts, gold, toy_stats, threshold=1.5)
    assert strict["shortcut_against_gold"].tolist() == [True, False, True, False]
    assert strict["shortcut_words"].tolist() == ["dull", "", "dull", ""]
    assert strict["shortcut_z"].iloc[0] == pytest.approx(toy_stats.set_index("word").loc["dull", "z_0"])
    loose = shortcuts.shortcut_against_gold(texts, gold, toy_stats, threshold=0.5)
    assert loose["shortcut_against_gold"].tolist() == [True, True, True, True]
    assert loose["shortcut_words"].tolist() == ["dull; a", "great", "dull; a; plot", "great"]
    # "a" and "plot" are 2/3 negative, "great" 3/4 positive: a share of 0.8 asks for more.
    skewed = shortcuts.shortcut_against_gold(texts, gold, toy_stats, threshold=0.5, min_share=0.8)
    assert skewed["shortcut_words"].tolist() == ["dull", "", "dull", ""]


def test_word_groups(toy_stats):
    groups = {"words": ["great", "Dull", "superb", "science fiction"], "none": ["superb"], "positive": ["great"]}
    table = shortcuts.word_groups(toy_stats, groups, threshold=1.5).set_index("group")
    row = table.loc["words"]
    assert row["configured"] == 4 and row["found"] == 2 and row["found_words"] == "great; dull"
    assert row["shortcuts"] == 1 and row["shortcut_words"] == "dull"
    # The shortcut table's definition, min_share included: "great" (z 0.7 toward positive, share 3/4) is a shortcut
    # at threshold 0.5 with min_share 0.7, not with 0.8; "dull" (share 1) stays one. The same words as `strongest`.
    loose = shortcuts.word_groups(toy_stats, groups, threshold=0.5, min_share=0.7).set_index("group")
    strict = shortcuts.word_groups(toy_stats, groups, threshold=0.5, min_share=0.8).set_index("group")
    assert loose.loc["words", "shortcut_words"] == "dull; great" and strict.loc["words", "shortcut_words"] == "dull"
    assert strict.loc["positive", "shortcuts"] == 0 and loose.loc["positive", "shortcuts"] == 1
    for min_share, table in ((0.7, loose), (0.8, strict)):
        listed = set(shortcuts.strongest(toy_stats, threshold=0.5, min_share=min_share)["word"])
        assert set(table.loc["words", "shortcut_words"].split("; ")) == listed & {"great", "dull"}
    z = toy_stats.set_index("word")
    assert row["mean_abs_z"] == pytest.approx((z.loc["great", "z_1"] + z.loc["dull", "z_0"]) / 2)
    assert (
        row["strongest"] == "dull"
        and row["strongest_label"] == 0
        and row["strongest_z"] == pytest.approx(z.loc["dull", "z_0"])
    )
    assert table.loc["none", "found"] == 0 and np.isnan(table.loc["none", "mean_abs_z"])
    assert table.loc["positive", "strongest_label"] == 1 and table.loc["positive", "strongest_z"] > 0


def test_significance_threshold_is_bonferroni_corrected_over_words_and_labels():
    # 100 words, each tested toward 2 labels: 200 one-sided tests, alpha / 200 = 5e-5 each, z = 3.8906.
    assert shortcuts.significance_threshold(100, 2, alpha=0.01) == pytest.approx(3.890592, abs=1e-6)
    assert shortcuts.significance_threshold(100, 2, alpha=0.01) == pytest.approx(stats.norm.isf(0.01 / 200))
    # Over words alone (the old count) it would be 3.719: the words x labels bar is higher.
    assert shortcuts.significance_threshold(100, 2) > stats.norm.isf(0.01 / 100) == pytest.approx(3.719016, abs=1e-6)
    assert shortcuts.significance_threshold(200, 5) == pytest.approx(stats.norm.isf(0.01 / 1000))
    with pytest.raises(ValueError, match="at least two labels"):
        shortcuts.significance_threshold(100, 1)


def test_nested_rows_are_counted_once():
    texts = ["a dull , dull film", "dull , dull", "dull film", "a dull", "the end", "The End", "a great film", "great"]
    assert shortcuts.outermost_rows(texts).tolist() == [True, False, False, False, True, False, True, False]
    # Whole words ("end" is not inside "the ending"), split as the statistic splits them ("do n't" is in "don't").
    split_alike = shortcuts.outermost_rows(["the ending", "end", "I don't know", "do n't"])
    assert split_alike.tolist() == [True, True, True, False]
    assert shortcuts.outermost_rows([]).tolist() == []


def brute_force_outermost(texts):
    """The definition, pair by pair: drop a text whose words are a contiguous part of another's, or an earlier twin."""
    from sentiflow.words import words

    keys = [" " + " ".join(words(t)) + " " for t in texts]
    return [
        not any(key in other and (len(other) > len(key) or j < i) for j, other in enumerate(keys) if j != i)
        for i, key in enumerate(keys)
    ]


def test_nested_treebank_rows_on_real_sst2(sst2_dir):
    import csv

    table = pd.read_csv(sst2_dir / "train.tsv", sep="\t", quoting=csv.QUOTE_NONE, dtype=str, keep_default_na=False)
    sample = table["sentence"].iloc[:1500].tolist()
    kept = shortcuts.outermost_rows(sample)
    assert kept.tolist() == brute_force_outermost(sample)
    # GLUE SST-2's rows are the treebank's phrases: of all 67,349, 6,882 are no part of another row (measured: 2 s).
    assert len(table) == 67349 and shortcuts.outermost_rows(table["sentence"].tolist()).sum() == 6882


def test_mixed_polarity_on_hand_written_sentences():
    texts = ["a great cast wasted on a terrible script", "a great, moving film", "a fine film with a boring plot"]
    table = polarity.mixed_polarity(texts)
    assert table["mixed_polarity"].tolist() == [True, False, False]
    assert table["positive_words"].tolist() == [1, 1, 0] and table["negative_words"].tolist() == [2, 0, 0]
    assert table.loc[0, "negative"] == "wasted; terrible"
    # fine is +0.8 and boring -1.3 in the lexicon: mixed only with thresholds below them.
    loose = polarity.mixed_polarity(texts, positive_threshold=0.8, negative_threshold=1.3)
    assert loose["mixed_polarity"].tolist() == [True, False, True]
    assert not polarity.mixed_polarity(texts, positive_threshold=0.8, negative_threshold=1.31)["mixed_polarity"].iloc[2]
    # great is +3.1: above 3.2 the first sentence has no positive word left.
    assert polarity.mixed_polarity(texts[:1], positive_threshold=3.2)["positive_words"].tolist() == [0]
    assert polarity.mixed_polarity(texts[:1], ignore={"great"})["mixed_polarity"].tolist() == [False]


def test_the_lexicon_is_vaders_and_its_modifiers_are_not_sentiment():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    assert polarity.lexicon() == SentimentIntensityAnalyzer().lexicon
    assert polarity.lexicon()["great"] == 3.1 and polarity.lexicon()["terrible"] == -2.1
    # "kind" alone is +2.4; in "kind of" it is a dampener, as VADER scores it. PTB text splits "n't".
    assert polarity.polar_words("a kind of bad film") == [("bad", -2.5)]
    assert polarity.polar_words("a kind man") == [("kind", 2.4)]
    # Negation is left to the negation cue: "n't bad" still has a negative word, in PTB and in raw text alike.
    ptb, raw = "it is n't bad , it 's kind of great", "it isn't bad, it's kind of great"
    assert polarity.polar_words(ptb) == polarity.polar_words(raw) == [("bad", -2.5), ("great", 3.1)]
    assert polarity.mixed_polarity([ptb, raw])["mixed_polarity"].tolist() == [True, True]


def test_pretty_is_a_sentiment_word_to_vader_and_a_degree_adverb_here_before_a_word():
    from vaderSentiment.vaderSentiment import BOOSTER_DICT, SentimentIntensityAnalyzer

    # VADER does not treat "pretty" as a modifier: +2.2 in its lexicon, no booster, so it finds "pretty bad" mixed.
    assert polarity.lexicon()["pretty"] == 2.2 and "pretty" not in BOOSTER_DICT
    assert SentimentIntensityAnalyzer().polarity_scores("pretty bad")["pos"] > 0
    # Here it is skipped before a word, counted as the adjective at the end or before a conjunction.
    assert polarity.polar_words("a pretty bad film") == [("bad", -2.5)]
    assert (
        polarity.mixed_polarity(["a pretty bad film", "a pretty good film"])["mixed_polarity"].tolist() == [False] * 2
    )
    assert polarity.polar_words("and it ai n't pretty .") == [("pretty", 2.2)]
    assert polarity.polar_words("the joys of pretty and weightless fun") == [
        ("joys", 2.2),
        ("pretty", 2.2),
        ("fun", 2.3),
    ]
    assert polarity.mixed_polarity(["pretty and awful"])["mixed_polarity"].tolist() == [True]


def confident_probs(rng, truth, classes, strength=3.0):
    logits = rng.normal(0, 1, (len(truth), classes))
    logits[np.arange(len(truth)), truth] += strength
    probs = np.exp(logits)
    return probs / probs.sum(1, keepdims=True)


def noisy_set(seed: int, n: int = 600, classes: int = 3, flips: int = 30):
    """True labels, two backbones' confident probabilities (~96% accurate), and gold with `flips` labels changed."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, classes, n)
    probs = {"bert": confident_probs(rng, truth, classes), "roberta": confident_probs(rng, truth, classes)}
    flipped = rng.choice(n, flips, replace=False)
    gold = truth.copy()
    gold[flipped] = (gold[flipped] + rng.integers(1, classes, flips)) % classes
    return truth, probs, gold, flipped


def test_cleanlab_finds_injected_label_flips():
    recall, precision = [], []
    for seed in range(10):
        _truth, probs, gold, flipped = noisy_set(seed)
        issues = label_issues.find_issues(gold, probs)
        found = issues.loc[issues["flagged_pooled"], "position"].to_numpy()
        hits = np.isin(found, flipped).sum()
        recall.append(hits / len(flipped))
        precision.append(hits / len(found))
    # Measured (cleanlab 2.9, default filter): recall 0.60-1.00, mean 0.90; precision 0.94-1.00, mean 0.98.
    assert np.mean(recall) >= 0.88 and np.mean(precision) >= 0.95
    assert min(precision) >= 0.9


def test_the_issue_table_says_who_flags_what():
    truth, probs, gold, flipped = noisy_set(1)
    issues = label_issues.find_issues(gold, probs)
    assert list(issues.columns) == label_issues.ISSUE_COLUMNS
    pooled = (probs["bert"] + probs["roberta"]) / 2
    rows = issues["position"].to_numpy()
    np.testing.assert_allclose(issues["self_confidence"], pooled[rows, gold[rows]])
    assert (issues["suggested"] == pooled[rows].argmax(1)).all() and (issues["gold"] == gold[rows]).all()
    assert issues["self_confidence"].is_monotonic_increasing
    caught = issues[issues["position"].isin(flipped)]
    assert (caught["suggested"] == truth[caught["position"]]).mean() >= 0.9  # the suggestion is mostly the truth
    # flagged_by agrees with cleanlab run on each backbone alone.
    from cleanlab.filter import find_label_issues

    for name in probs:
        alone = np.flatnonzero(find_label_issues(labels=gold, pred_probs=probs[name], n_jobs=1))
        named = issues["flagged_by"].str.split("; ").map(lambda names, name=name: name in names)
        assert sorted(issues.loc[named, "position"]) == alone.tolist()
    assert (
        issues["backbones_flagging"] == issues["flagged_by"].str.split("; ").map(lambda x: len([n for n in x if n]))
    ).all()
    assert ((issues["backbones_flagging"] > 0) | issues["flagged_pooled"]).all()


def test_a_clean_set_has_an_empty_table_and_a_missing_class_a_clear_error():
    truth = np.tile([0, 1, 2], 50)
    clean = label_issues.find_issues(truth, {"bert": np.eye(3)[truth] * 0.97 + 0.01})
    assert clean.empty and list(clean.columns) == label_issues.ISSUE_COLUMNS
    with pytest.raises(ValueError, match=r"bert: cleanlab needs every class.*\[2\]"):
        label_issues.find_issues(truth % 2, {"bert": np.eye(3)[truth] * 0.97 + 0.01})
    with pytest.raises(ValueError, match="sentences x classes"):
        label_issues.find_issues(truth, {"bert": np.ones((3, 3)) / 3})


def test_sensitivity_by_hand():
    flagged = np.array([False, False, True, False, True])
    table = label_issues.sensitivity(
        {"bert": np.array([1, 1, 0, 1, 0]), "roberta": np.array([0.5, 1, 1, 0, 0.5])}, flagged
    ).set_index("backbone")
    assert table.loc["bert", ["accuracy", "accuracy_without_flagged", "accuracy_on_flagged"]].tolist() == [
        0.6,
        1.0,
        0.0,
    ]
    assert table.loc["roberta", "accuracy"] == pytest.approx(0.6)
    assert table.loc["roberta", "accuracy_without_flagged"] == pytest.approx(0.5)
    assert table.loc["roberta", "difference"] == pytest.approx(-0.1)
    assert table.loc["roberta", "accuracy_on_flagged"] == pytest.approx(0.75)
    assert (table["flagged"] == 2).all() and (table["sentences"] == 5).all()
    assert isinstance(table, pd.DataFrame)


def test_the_flags_are_cue_columns_of_failure_modes(toy_stats):
    from sentiflow.errors.misclassified import cue_tags, failure_modes

    texts = ["a dull but great film", "a great film", "a great cast wasted on a terrible script", "the plot"]
    gold = [1, 1, 0, 1]
    tags = pd.concat(
        [
            cue_tags(texts, {"contrast": ["but"]}),
            shortcuts.shortcut_against_gold(texts, gold, toy_stats, threshold=1.5)["shortcut_against_gold"],
            polarity.mixed_polarity(texts)["mixed_polarity"],
        ],
        axis=1,
    )
    assert tags.to_numpy().tolist() == [[True, True, True], [False, False, False], [False, False, True], [False] * 3]
    wrong = {"bert": np.array([[1, 0, 1, 0], [1, 0, 0, 0]])}  # two seeds: shares of seeds wrong 1, 0, 0.5, 0
    modes = failure_modes(tags, wrong, 0.95).set_index("cue")
    assert modes.loc["shortcut_against_gold", "sentences"] == 1
    assert modes.loc["mixed_polarity", "error_rate_with"] == pytest.approx(0.75)
    assert modes.loc["mixed_polarity", "error_rate_without"] == 0.0
    assert modes.loc["mixed_polarity", "share_of_errors"] == 1.0
