"""The behavioural suite: generators on hand-made validation frames, determinism on real SST-2, the config errors,
and scoring with a real MiniLM checkpoint and the real SmolLM2 GGUF (through the score cache)."""

from __future__ import annotations

import copy
import json
import re

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from conftest import MINILM, REPO, SST2, require

from sentiflow.behaviour.generators import GENERATORS, Context, neutral_shortcuts, shortcut_choices, toggle_contractions
from sentiflow.behaviour.lexicons import Style, shipped, style_of, styled
from sentiflow.behaviour.score import case_items, llm_cases, score_encoders, score_llm
from sentiflow.behaviour.suite import build_suite, make_suite, read_suite
from sentiflow.config import (
    BEHAVIOUR_GENERATORS,
    ConfigError,
    check_dimensions,
    dataset_tests,
    label_polarity,
    overlay,
    own_lists,
    study_config,
    with_defaults,
)
from sentiflow.data import Columns, load_file_split
from sentiflow.errors.polarity import lexicon as vader_lexicon
from sentiflow.llm.compare import LLMJob
from sentiflow.sentiment_words import evaluative, pattern_lexicon

PLAIN = Style(lower=False, ptb=False)
SST2_LABELS = ["negative", "positive"]
SST5_LABELS = ["very negative", "negative", "neutral", "positive", "very positive"]


def study(**changes) -> dict:
    """config/smoke.yaml over the study, with defaults, and `changes` laid over it (dicts merged)."""
    smoke = yaml.safe_load((REPO / "config" / "smoke.yaml").read_text())
    return with_defaults(study_config(REPO / "config" / "config.yaml", overlay(smoke, changes, replace=("tests",))))


def frame(texts, labels=None, pairs=None) -> pd.DataFrame:
    table = pd.DataFrame({"index": np.arange(len(texts)), "text": texts, "label": labels or [1] * len(texts)})
    return table.assign(text_pair=pairs) if pairs is not None else table


def context(validation, labels=SST2_LABELS, **changes) -> Context:
    polarity = {label: next((p for p in ("negative", "positive", "neutral") if p in label), None) for label in labels}
    return Context(validation=validation, labels=labels, polarity=polarity, style=PLAIN, **changes)


def spec(generator, **changes) -> dict:
    return {"name": "t", "type": "INV", "generator": generator, "probes": "robustness", "slots": [], "templates": [],
            "perturbations": 1, "sources": None} | changes  # fmt: skip


def test_the_generators_are_those_the_config_knows():
    assert set(GENERATORS) == set(BEHAVIOUR_GENERATORS)


def test_contractions_swap_both_ways_in_the_dataset_style():
    assert toggle_contractions("The plot is not bad.", PLAIN) == "The plot isn't bad."
    assert toggle_contractions("It isn't bad and I can't stop.", PLAIN) == "It is not bad and I can not stop."
    ptb = Style(lower=True, ptb=True)
    assert toggle_contractions("it does not work and it is n't fun .", ptb) == "it does n't work and it is not fun ."
    assert toggle_contractions("This is nothing new.", PLAIN) == "This is nothing new."  # "is no..." is no "is not"
    cases = GENERATORS["contractions"](spec("contractions"), context(frame(["Is not it?", "A fine film."])), 10, None)
    assert [c["texts"] for c in cases] == [["Is not it?", "Isn't it?"]] and cases[0]["edits"] == [[["Is not", "Isn't"]]]
    assert cases[0]["source"] == cases[0]["cluster"] == "validation:0"


def test_a_name_swap_changes_both_texts_of_a_pair_alike():
    pairs = frame(
        ["John met Mary in Paris.", "Nobody came."], pairs=["John is in Paris.", "Someone came."], labels=[0, 1]
    )
    test = spec("swap_words", slots=["female_names", "male_names"], perturbations=3)
    (case,) = GENERATORS["swap_words"](
        test, context(pairs, ["entailment", "not_entailment"]), 10, np.random.default_rng(0)
    )
    assert case["texts"][0] == "John met Mary in Paris." and case["texts_b"][0] == "John is in Paris."
    assert len(case["texts"]) == len(case["texts_b"]) > 1
    men, women = shipped("male_names"), shipped("female_names")
    for text, pair, edits in zip(case["texts"][1:], case["texts_b"][1:], case["edits"]):
        first, second = text.split()[0], text.split()[2]
        assert first != "John" and first[0].isupper() and pair == f"{first} is in Paris."
        assert first.lower() in men and second.lower() in women  # each name swapped within its gender
        assert sorted(edits) == [["john", first.lower()], ["mary", second.lower()]]


def test_a_perturbation_that_matches_nothing_makes_an_empty_test(tmp_path):
    plain = frame(["a fine film .", "dull ."], labels=[1, 0])
    settings = {
        "tests": [["genre_swap", spec("swap_words", slots=["genre_words"])],
                  ["shortcut_words", spec("shortcut_words", slots=["filler_words"])]],
        "labels": SST2_LABELS, "polarity": {"negative": "negative", "positive": "positive"}, "lexicons": {},
        "seed": 0, "max_cases": 10,
    }  # fmt: skip
    counts = make_suite(settings, plain, pd.DataFrame({"word": ["plot"]}), tmp_path / "suite.jsonl")
    assert counts == {"genre_swap": 0, "shortcut_words": 0}
    assert (tmp_path / "suite.jsonl").read_text() == ""


# The review words an audit found the shortcut test deleting as "non-evaluative" (VADER lacks them all).
REVIEW_WORDS = ["tedious", "bland", "pointless", "lifeless", "mediocre", "clumsy", "moving", "memorable", "touching", "unfunny", "formulaic", "predictable", "contrived", "pretentious", "flat", "poignant"]  # fmt: skip


def test_a_shortcut_word_with_sentiment_in_any_resource_is_never_perturbed():
    assert set(evaluative(REVIEW_WORDS, own_lists({}))) == set(REVIEW_WORDS)
    texts = ["a poignant and memorable film .", "the performances are tedious , the plot formulaic .",
             "it feels like 90 minutes .", "a film that were n't moving ."]  # fmt: skip
    ctx = context(frame(texts, labels=[1, 0, 0, 0]), shortcut_words=[*REVIEW_WORDS, "plot", "performances",
                                                                      "minutes", "feels", "were", "n't", "too", "film", "?"])  # fmt: skip
    assert neutral_shortcuts(ctx) == ["plot", "performances", "minutes", "film"]
    reasons = shortcut_choices(ctx)
    assert reasons["poignant"] == "carries sentiment (pattern +0.5)" and reasons["moving"].endswith(
        "(review_polar_words)"
    )
    assert reasons["feels"] == reasons["were"] == "not a common noun: no filler can stand in for it"
    assert reasons["too"] == "a negation, degree or structural word" and reasons["n't"] == "not a word of letters"
    test = spec("shortcut_words", slots=["filler_words"], perturbations=3)
    cases = GENERATORS["shortcut_words"](test, ctx, 10, np.random.default_rng(1))
    assert [c["source"] for c in cases] == [f"validation:{i}" for i in range(4)]
    fillers = set(shipped("filler_words"))
    for case in cases:
        original = case["texts"][0].split()
        for text, edits in zip(case["texts"][1:], case["edits"]):
            words = text.split()
            assert len(words) == len(original)  # a noun is replaced, never deleted
            for i, (before, after) in enumerate(zip(original, words)):
                if before in {"plot", "film"}:
                    assert after in fillers and [before, after] in edits
                elif before in {"performances", "minutes"}:
                    assert after[:-1] in fillers and after.endswith("s") and [before, after] in edits
                elif before == "a" and words[i + 1] in fillers:  # the article agrees with the filler
                    assert after == ("an" if words[i + 1][0] in "aeiou" else "a")
                else:
                    assert after == before  # poignant, memorable, tedious, formulaic, moving, feels, were stay


def test_templates_and_tails_take_the_dataset_style_and_polarity():
    sst = frame(["it 's a charming journey .", "a dull mess .", "is n't it good ?"], labels=[1, 0, 1])
    assert style_of(sst["text"]) == Style(lower=True, ptb=True)
    assert (
        styled("The acting isn't good, if you enjoy it.", Style(True, True))
        == "the acting is n't good , if you enjoy it ."
    )
    ctx = context(sst)
    ctx.style = Style(lower=True, ptb=True)
    tests = [
        ("neg", spec("templates", type="MFT", templates=["The {thing} was not {pos_adj}."], polarity=["negative"])),
        ("tail", spec("append_tail", type="DIR", slots=["sarcastic_tails"], sources=["positive"], polarity=["positive"],
                      must_not="increase", perturbations=2)),
    ]  # fmt: skip
    cases = build_suite(tests, ctx, max_cases=5, seed=0)
    mft = [c for c in cases if c["test"] == "neg"]
    assert len(mft) == 5 and len({c["texts"][0] for c in mft}) == 5
    assert all(
        c["texts"][0].startswith("the ") and " was not " in c["texts"][0] and "{" not in c["texts"][0] for c in mft
    )
    assert {c["expected_labels"] == ["negative"] and c["cluster"] == "neg/t0" for c in mft} == {True}
    tails = [c for c in cases if c["test"] == "tail"]
    assert [c["source"] for c in tails] == ["validation:0", "validation:2"]  # the positive sentences only
    assert tails[0]["texts"][1].startswith("it 's a charming journey , ") and tails[0]["texts"][1].endswith(" .")
    assert tails[0]["direction"] == {"labels": ["positive"], "must_not": "increase", "scale": "logit", "tolerance": 0.4}
    assert [c["case"] for c in cases][:2] == ["neg/0000", "neg/0001"]


def test_a_polarity_maps_to_every_label_that_has_it():
    config = study()
    assert label_polarity(config, "sst5")["very negative"] == "negative"
    ctx = context(frame(["x"]), SST5_LABELS)
    (case, *_) = build_suite([("neg", spec("templates", type="MFT", templates=["The {thing} was not {pos_adj}."],
                                           polarity=["negative"]))], ctx, 3, 0)  # fmt: skip
    assert case["expected_labels"] == ["very negative", "negative"]
    assert list(dataset_tests(config, "rte")) == ["name_swap", "typos"]  # a pair dataset's default suite


def sst2_settings(seed=0) -> dict:
    config = study()
    return {"tests": [[n, s] for n, s in dataset_tests(config, "sst2").items()], "labels": SST2_LABELS,
            "polarity": label_polarity(config, "sst2"), "lexicons": {}, "seed": seed, "max_cases": 15}  # fmt: skip


def test_the_same_config_and_data_give_the_same_suite_byte_for_byte(tmp_path):
    validation = load_file_split(require(SST2) / "dev.tsv", Columns(("sentence",), "label", tuple(SST2_LABELS)))
    shortcuts = pd.DataFrame({"word": ["plot", "bad", "minutes", "script"]})
    paths = [tmp_path / f"{name}.jsonl" for name in ("a", "b", "c")]
    counts = make_suite(sst2_settings(), validation, shortcuts, paths[0])
    make_suite(sst2_settings(), validation.sample(frac=1, random_state=3).sort_values("index"), shortcuts, paths[1])
    make_suite(sst2_settings(seed=1), validation, shortcuts, paths[2])
    assert paths[0].read_bytes() == paths[1].read_bytes()
    assert paths[0].read_bytes() != paths[2].read_bytes()
    # Every default test finds its 15 cases in SST-2's validation split but the genre swap: 8 sentences there name a
    # genre that carries no sentiment and no everyday sense (documentary, noir, sci-fi).
    assert counts == dict.fromkeys(counts, 15) | {"genre_swap": 8}, counts
    cases = read_suite(paths[0])
    assert len({c["case"] for c in cases}) == len(cases) == sum(counts.values())
    assert all(len(c["texts"]) >= (1 if c["type"] == "MFT" else 2) and c["texts_b"] is None for c in cases)
    # Each perturbed text says what it changed; templates change nothing.
    assert all((c["edits"] is None) == (c["type"] == "MFT") for c in cases)
    assert all(len(c["edits"]) == len(c["texts"]) - 1 and all(c["edits"]) for c in cases if c["type"] != "MFT")


@pytest.mark.parametrize(
    "changes, dataset, message",
    [
        ({"behaviour": {"tests": {"x": {"type": "INV", "generator": "paraphrase", "probes": "robustness"}}}}, "sst2",
         "behaviour.tests.x.generator: 'paraphrase' is not a generator"),
        ({"behaviour": {"tests": {"x": {"type": "MFT", "generator": "templates", "probes": "negation_contrast",
                                        "polarity": ["negative"], "templates": ["The {plot_word} was bad."]}}}}, "sst2",
         "behaviour.tests.x.templates names lexicon slot(s) ['plot_word']"),
        ({"behaviour": {"tests": {"x": {"type": "INV", "generator": "swap_words", "probes": "shortcuts",
                                        "slots": ["actor_names"]}}}}, "sst2",
         "behaviour.tests.x.slots names lexicon slot(s) ['actor_names']"),
        ({"behaviour": {"tests": {"x": {"type": "MFT", "generator": "templates", "probes": "negation_contrast",
                                        "labels": ["awful"], "templates": ["Bad."]}}}}, "sst2",
         "behaviour.tests.x.labels names ['awful'], which are not labels of datasets.sst2"),
        ({"behaviour": {"tests": {"x": {"type": "DIR", "generator": "append_tail", "probes": "mixed_tone",
                                        "slots": ["negative_tails"], "polarity": ["positive"]}}}}, "sst2",
         "behaviour.tests.x is DIR but has no direction: set behaviour.tests.x.must_not"),
        ({"behaviour": {"tests": {"x": {"type": "DIR", "generator": "append_tail", "probes": "mixed_tone",
                                        "slots": ["negative_tails"], "must_not": "increase"}}}}, "sst2",
         "behaviour.tests.x is DIR but names no labels whose probability it watches"),
        ({"datasets": {"rte": {"behaviour": {"tests": ["name_swap", "sarcastic_tail"]}}}}, "rte",
         "datasets.rte.behaviour.tests selects sarcastic_tail, whose generator append_tail makes single texts"),
        ({"datasets": {"rte": {"behaviour": {"tests": ["name_swap", "typos_x"]}}}}, "rte",
         "datasets.rte.behaviour.tests names ['typos_x']"),
        ({"datasets": {"sst2": {"labels": ["bad", "good"], "prompt": {"verbalizers": {"bad": ["bad"], "good": ["good"]}}}}},
         "sst2",
         "behaviour.tests.negation_positive.polarity reads labels by polarity, but datasets.sst2 label(s) ['bad', 'good']"),
        # A word put in where a neutral one is needed, named with the test and the resource that gives it polarity.
        ({"behaviour": {"lexicons": {"genre_words": ["documentary", "horror"]}}}, "sst2",
         "behaviour.lexicons.genre_words, read by behaviour.tests.genre_swap, holds 'horror', which carries sentiment (VADER -2.7)"),
        ({"behaviour": {"lexicons": {"filler_words": ["thing", "mess"]}}}, "sst2",
         "behaviour.lexicons.filler_words, read by behaviour.tests.shortcut_words, holds 'mess', which carries sentiment (VADER -1.5, pattern -0.5)"),
        ({"behaviour": {"lexicons": {"thing": ["plot", "poignant"]}}}, "sst2",
         "behaviour.lexicons.thing, read by behaviour.tests.negation_positive, holds 'poignant'"),
        ({"behaviour": {"lexicons": {"last_names": ["johnson", "spielberg"]}}}, "sst2",
         "behaviour.lexicons.last_names, read by behaviour.tests.name_swap, holds ['spielberg'], film-industry names"),
        ({"behaviour": {"lexicons": {"male_names": ["john", "mary"]}}}, "sst2",
         "behaviour.tests.name_swap.slots: 'mary' is in both female_names and male_names"),
        ({"behaviour": {"tests": {"x": {"type": "MFT", "generator": "templates", "probes": "negation_contrast",
                                        "polarity": ["negative"], "templates": ["The {thing} was not {pos_adj}."] * 3}}}},
         "sst2", "behaviour.tests.x.templates has 3 template(s), fewer than behaviour.min_templates (20)"),
        ({"behaviour": {"tests": {"x": {"type": "MFT", "generator": "templates", "probes": "negation_contrast",
                                        "polarity": ["negative", "positive"], "templates": ["It is {pos_adj}."] * 20}}}},
         "sst2", "behaviour.tests.x on datasets.sst2 passes every label (['negative', 'positive']), so no answer can fail it"),
        ({"behaviour": {"tests": {"x": {"type": "DIR", "generator": "append_tail", "probes": "mixed_tone",
                                        "slots": ["negative_tails"], "labels": ["negative", "positive"],
                                        "must_not": "increase"}}}}, "sst2",
         "behaviour.tests.x on datasets.sst2 watches every label, whose summed probability is always 1"),
        ({"behaviour": {"tests": {"x": {"type": "DIR", "generator": "append_tail", "probes": "mixed_tone",
                                        "slots": ["negative_tails"], "polarity": ["positive"], "must_not": "increase",
                                        "scale": "probability", "tolerance": 1}}}}, "sst2",
         "behaviour.tests.x.tolerance is 1: on the probability scale no change exceeds 1, so the test cannot fail"),
    ],
)  # fmt: skip
def test_a_test_that_cannot_run_is_refused_at_validation(changes, dataset, message):
    config = study()
    for key, value in changes.items():
        if key == "datasets":
            for name, settings in value.items():
                config["datasets"][name] = config["datasets"][name] | copy.deepcopy(settings)
        else:
            config = with_defaults(config | {key: config[key] | copy.deepcopy(value)})
    with pytest.raises(ConfigError) as error:
        check_dimensions(config)
    assert message in str(error.value)
    assert dataset in str(error.value) or "behaviour.tests" in str(error.value)


def test_the_shipped_suite_validates_and_a_reversed_neutral_band_is_refused():
    config = study()
    check_dimensions(config)  # every shipped word list a test reads holds neutral words, every MFT 20+ templates
    mft = [spec for spec in config["behaviour"]["tests"].values() if spec["type"] == "MFT"]
    assert len(mft) == 4 and min(len(spec["templates"]) for spec in mft) >= config["behaviour"]["min_templates"] == 20
    with pytest.raises(ConfigError, match=r"behaviour.neutral_band \[0.7, 0.3\]: the low end"):
        check_dimensions(with_defaults(config | {"behaviour": config["behaviour"] | {"neutral_band": [0.7, 0.3]}}))


def test_our_review_word_list_holds_only_words_both_lexicons_miss():
    words = shipped("review_polar_words")
    assert len(words) == len(set(words)) >= 40
    assert not [w for w in words if vader_lexicon().get(w) or pattern_lexicon().get(w)]
    assert {"lifeless", "moving", "unfunny", "formulaic"} <= set(words)


def test_no_replacement_name_is_a_film_industry_name_and_articles_follow_the_new_word():
    config = study()
    film = {w.lower() for w in config["analysis"]["shortcuts"]["groups"]["names"]}
    names = [w for slot in ("female_names", "male_names", "last_names") for w in shipped(slot)]
    assert not set(names) & (film | {"spielberg", "hitchcock", "kubrick", "tarantino", "sandler", "carrey", "stallone"})
    texts = ["only steven spielberg could make it , with mary miller and an anna .", "a john and an emma ."]
    (one, two_) = GENERATORS["swap_words"](spec("swap_words", slots=["female_names", "male_names", "last_names"],
                                                perturbations=20), context(frame(texts)), 10, np.random.default_rng(0))  # fmt: skip
    replacements = {after for case in (one, two_) for edits in case["edits"] for _, after in edits}
    assert replacements <= set(names) and "spielberg" not in replacements and len(replacements) > 10
    assert all(" spielberg " in text for text in one["texts"])  # a film name is never a source either
    # "an western" and "a adventure" cannot occur: the article before a swapped word agrees with the new word.
    genres = context(
        frame(["an adventure , a western and An epic .", "A western ?"]),
        lexicon_overrides={"genre_words": ["western", "adventure", "epic", "documentary"]},
    )
    cases = GENERATORS["swap_words"](spec("swap_words", slots=["genre_words"], perturbations=12), genres, 10,
                                     np.random.default_rng(0))  # fmt: skip
    perturbed = [text for case in cases for text in case["texts"][1:]]
    assert any(" an epic" in t or "a documentary" in t for t in perturbed)  # the articles did change
    assert not [t for t in perturbed if re.search(r"\b[Aa] (adventure|epic)\b|\b[Aa]n (western|documentary)\b", t)]
    ctx = context(frame(["x"]), lexicon_overrides={"pos_adj": ["excellent", "good"]})
    made = build_suite([("t", spec("templates", type="MFT", templates=["A {pos_adj} {work}.", "This is not a {pos_adj} {work}."],
                                   polarity=["negative"]))], ctx, max_cases=8, seed=0)  # fmt: skip
    agreeing = re.compile(r"^(An excellent|A good) \w+\.$|^This is not (an excellent|a good) \w+\.$")
    assert len(made) == 8 and all(agreeing.match(c["texts"][0]) for c in made), [c["texts"][0] for c in made]


def test_a_polarity_map_lets_other_label_names_through():
    config = study(llm={"enabled": False})
    config["datasets"]["sst2"] = config["datasets"]["sst2"] | {
        "labels": ["bad", "good"], "behaviour": {"polarity": {"bad": "negative", "good": "positive"}}
    }  # fmt: skip
    check_dimensions(config)
    assert label_polarity(config, "sst2") == {"bad": "negative", "good": "positive"}


def test_the_llm_draw_is_bounded_stratified_and_deterministic():
    cases = [{"case": f"{t}/{i}", "test": t} for t, n in (("a", 6), ("b", 2), ("c", 5)) for i in range(n)]
    chosen = llm_cases(cases, 7, seed=0)
    assert len(chosen) == 7 and chosen == llm_cases(cases, 7, seed=0)
    counts = pd.Series([c["test"] for c in chosen]).value_counts().to_dict()
    assert counts == {"a": 3, "b": 2, "c": 2} or counts == {"a": 2, "b": 2, "c": 3}
    assert [cases.index(c) for c in chosen] == sorted(cases.index(c) for c in chosen)
    assert len(llm_cases(cases, 100, seed=0)) == len(cases)


SUITE = [
    {"case": "neg/0000", "test": "neg", "texts": ["the acting was not good .", ], "texts_b": None},
    {"case": "tail/0000", "test": "tail", "texts": ["a charming film .", "a charming film , if you enjoy being bored ."],
     "texts_b": None},
    {"case": "typos/0000", "test": "typos", "texts": ["a charming film .", "a chrming film ."], "texts_b": None},
]  # fmt: skip


def test_encoder_scores_match_a_direct_forward_pass(tmp_path):
    from sentiflow.train.modeling import load_classifier, load_tokenizer
    from sentiflow.train.tokens import Tokenization

    require(MINILM)
    torch.manual_seed(0)
    model, tokenizer = load_classifier(str(MINILM), SST2_LABELS), load_tokenizer(str(MINILM))
    model.save_pretrained(tmp_path / "model")
    tokenizer.save_pretrained(tmp_path / "model")
    tokenization = Tokenization(128, segment_ids=False)
    table = score_encoders(SUITE, {3: tmp_path / "model"}, 2, tokenization, "cpu", tmp_path / "scores.parquet")
    assert table.equals(pd.read_parquet(tmp_path / "scores.parquet"))
    assert list(table.columns) == ["case", "item", "seed", "prob_0", "prob_1"]
    assert len(table) == len(case_items(SUITE)) == 5 and set(table["seed"]) == {3}
    model.eval()
    for row in table.itertuples():
        text = next(c for c in SUITE if c["case"] == row.case)["texts"][row.item]
        with torch.inference_mode():
            direct = torch.softmax(model(**tokenizer(text, return_tensors="pt")).logits, -1)[0].numpy()
        assert np.allclose([row.prob_0, row.prob_1], direct, atol=1e-5)
    shared = table[table["item"].eq(0) & table["case"].isin(["tail/0000", "typos/0000"])]
    assert shared["prob_0"].nunique() == 1  # one text, one score


def test_the_llm_answers_through_the_cache_and_a_second_run_scores_nothing(tmp_path):
    gguf = require(REPO.parent / "shared" / "models" / "smollm2-135m-instruct" / "smollm2-135m-instruct-q4_1.gguf")
    train = tmp_path / "train.parquet"
    frame(["a gorgeous , witty film", "dull and lifeless"], labels=[1, 0]).to_parquet(train)
    prompt = {"system": "You are a careful annotator of movie-review sentiment.", "shots": 0, "seed": 0,
              "instruction": "What is the sentiment of this sentence?\n\nSentence: {sentence}\n\nAnswer: positive or negative.",
              "verbalizers": {"negative": ["negative"], "positive": ["positive"]}}  # fmt: skip
    job = LLMJob("smol", {"path": str(gguf), "n_ctx": 512, "n_gpu_layers": 0}, prompt, tmp_path / "cache", 2)
    outputs = {"table": tmp_path / "a.parquet", "summary": tmp_path / "a.json"}
    first = score_llm(SUITE, job, SST2_LABELS, train, {"llm_cases": 2, "seed": 0}, outputs)
    assert first["cases"] == 2 and first["suite_cases"] == 3 and first["scored_now"] == first["texts"] > 0
    table = pd.read_parquet(outputs["table"])
    assert len(table) == first["items"] and set(table["seed"]) == {0}
    assert np.allclose(table[["prob_0", "prob_1"]].sum(axis=1), 1.0, atol=1e-4)
    again = {"table": tmp_path / "b.parquet", "summary": tmp_path / "b.json"}
    second = score_llm(SUITE, job, SST2_LABELS, train, {"llm_cases": 2, "seed": 0}, again)
    assert second["scored_now"] == 0 and second["from_cache"] == first["texts"]
    assert pd.read_parquet(again["table"]).equals(table)
    assert json.loads(again["summary"].read_text())["tests"] == second["tests"]


def test_an_override_file_replaces_the_suite_whole(tmp_path):
    base = tmp_path / "config.yaml"
    base.write_text(
        yaml.safe_dump({"behaviour": {"seed": 3, "tests": {"typos": {"type": "INV", "generator": "typos"}}}})
    )
    mine = {"type": "INV", "generator": "contractions", "probes": "robustness"}
    merged = study_config(base, {"behaviour": {"tests": {"mine": mine}}})
    assert merged["behaviour"] == {"seed": 3, "tests": {"mine": mine}}
