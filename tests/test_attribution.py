import numpy as np
import pandas as pd
import pytest
import torch
from conftest import MINILM, NEGATIVE, POSITIVE, require, toy_frame, write_run
from transformers import AutoConfig, AutoModelForSequenceClassification

from sentiflow import config, words
from sentiflow.analysis.runs import RunSet
from sentiflow.errors import attribution
from sentiflow.errors.attribution import AttributionError
from sentiflow.errors.explain import sentence_summary
from sentiflow.report.why import coloured
from sentiflow.train.evaluation import predict
from sentiflow.train.modeling import load_classifier, load_tokenizer, load_trained
from sentiflow.train.run import RunOutputs, TrainConfig, fine_tune
from sentiflow.train.tokens import Tokenization, encode

LABELS = ["negative", "positive"]
BOOTSTRAP = {"samples": 2000, "confidence": 0.95, "seed": 0, "method": "percentile"}


@pytest.fixture(scope="module")
def random_classifier(tiny_bert):
    torch.manual_seed(3)
    model = load_classifier(str(tiny_bert), LABELS)
    # At BERT's initial scale (std 0.02) the words move the logits by 0.001; larger weights make them move by ~1, a
    # difference worth splitting.
    for module in model.modules():
        if isinstance(module, torch.nn.Linear):
            torch.nn.init.normal_(module.weight, std=0.3)
    torch.nn.init.normal_(model.classifier.weight, std=1.0)
    return model, load_tokenizer(str(tiny_bert))


def logits(model, ids: list[int]) -> np.ndarray:
    with torch.no_grad():
        return model(input_ids=torch.tensor([ids])).logits[0].numpy()


def test_the_attributions_add_up_to_the_logit_difference(random_classifier):
    model, tokenizer = random_classifier
    texts = ["the movie was good", "a dull and boring plot of the film", "it is fine"]
    sentences = attribution.encode(tokenizer, texts, None, model)
    predicted, gold = np.array([0, 1, 1]), np.array([1, 1, 0])
    words, convergence = attribution.attribute(model, sentences, predicted, gold, {"steps": 50}, "cpu")
    specials = set(tokenizer.all_special_ids)
    for j, text in enumerate(texts):
        ids = tokenizer(text)["input_ids"]
        base = [i if i in specials else tokenizer.pad_token_id for i in ids]  # built here, not by the module
        difference = logits(model, ids) - logits(model, base)
        assert abs(difference).max() > 0.05
        row = convergence.iloc[j]
        mine = words[words["index"] == j]
        for target, column in ((predicted[j], "predicted"), (gold[j], "gold")):
            assert row[f"difference_{column}"] == pytest.approx(difference[target], abs=1e-5)
            assert mine[f"score_{column}"].sum() == pytest.approx(
                difference[target], abs=0.02 * abs(difference[target])
            )
            assert abs(row[f"delta_{column}"]) < 0.01 * abs(difference[target])
        assert mine["word"].tolist() == text.split()
    assert convergence["passed"].all() and (convergence["steps"] == 50).all()


def test_subword_scores_are_summed_into_their_word(random_classifier):
    require(MINILM / "vocab.txt")  # the real WordPiece vocabulary splits these words
    model, tokenizer = random_classifier
    text = "an unbelievably flavorless film"
    assert len(tokenizer.tokenize("unbelievably")) >= 3 and len(tokenizer.tokenize("flavorless")) >= 2
    (sentence,) = attribution.encode(tokenizer, [text], None, model)
    with attribution.frozen(model):
        tokens = attribution.integrate(model, [sentence], np.array([1]), 30, "cpu").scores[0]
    encoding = tokenizer(text)
    expected = {}
    for token, word in enumerate(encoding.word_ids()):
        if word is not None:
            expected[word] = expected.get(word, 0.0) + tokens[token]
    words = attribution.word_scores(sentence, tokens)
    assert [w["word"] for w in words] == text.split()
    assert [w["position"] for w in words] == [0, 1, 2, 3] and {w["field"] for w in words} == {0}
    np.testing.assert_allclose([w["score"] for w in words], [expected[p] for p in range(4)], rtol=1e-6)
    assert sum(w["score"] for w in words) == pytest.approx(tokens.sum(), rel=1e-5)  # [CLS]/[SEP] get exactly zero
    # Deleting a word drops all its subword tokens and keeps the special tokens.
    kept = sentence.without({(0, 1)})["input_ids"]
    assert tokenizer.convert_ids_to_tokens(kept) == tokenizer.convert_ids_to_tokens(
        tokenizer("an flavorless film")["input_ids"]
    )


def test_sentence_pairs_keep_each_word_in_its_field(random_classifier):
    model, tokenizer = random_classifier
    texts, pairs = ["the plot was dull", "a good film"], ["it is boring", "the acting is fine and happy"]
    sentences = attribution.encode(tokenizer, texts, pairs, model)
    assert set(sentences[0].inputs) == {"input_ids", "token_type_ids"}  # what training feeds BERT for a pair
    words, _convergence = attribution.attribute(model, sentences, np.array([0, 1]), np.array([0, 0]), {}, "cpu")
    for j in range(2):
        mine = words[words["index"] == j]
        for field, text in enumerate((texts[j], pairs[j])):
            part = mine[mine["field"] == field].sort_values("position")
            assert part["word"].tolist() == text.split()
            assert part["position"].tolist() == list(range(len(text.split())))
    # One IG run when predicted and gold agree: the same scores toward both.
    first = words[words["index"] == 0]
    np.testing.assert_array_equal(first["score_predicted"], first["score_gold"])
    assert not np.allclose(
        words.loc[words["index"] == 1, "score_predicted"], words.loc[words["index"] == 1, "score_gold"]
    )


def test_a_sentence_s_scores_do_not_depend_on_the_sentences_padded_beside_it(random_classifier):
    model, tokenizer = random_classifier
    texts, pairs = ["a dull film", "the acting is fine and the plot is good"], ["it is boring", "a great film"]
    for second in (None, pairs):
        sentences = attribution.encode(tokenizer, texts, second, model)
        assert len(sentences[0]) < len(sentences[1])  # the first is padded in a batch of both
        with attribution.frozen(model):
            together = attribution.integrate(model, sentences, np.array([0, 1]), 20, "cpu")
            alone = [attribution.integrate(model, [s], np.array([t]), 20, "cpu") for s, t in zip(sentences, (0, 1))]
        for j, single in enumerate(alone):
            np.testing.assert_allclose(together.scores[j], single.scores[0], rtol=1e-4, atol=1e-6)
            assert together.difference[j] == pytest.approx(single.difference[0], rel=1e-5)


SIZE = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}
FAMILIES = {
    "bert": SIZE,
    "roberta": SIZE,  # positions from the ids, counted after the padding index
    "electra": SIZE | {"embedding_size": 32},
    # DeBERTa-v3's layout: relative attention, no absolute positions added to the input.
    "deberta-v2": SIZE | {"relative_attention": True, "position_biased_input": False, "pos_att_type": ["p2c", "c2p"]},
    "distilbert": {"dim": 32, "n_layers": 2, "n_heads": 2, "hidden_dim": 64},
    "modernbert": SIZE | {"pad_token_id": 0, "bos_token_id": 101, "eos_token_id": 102, "cls_token_id": 101,
                          "sep_token_id": 102, "global_attn_every_n_layers": 1, "local_attention": 16},
}  # fmt: skip


@pytest.mark.parametrize("family", FAMILIES)
def test_the_convergence_delta_falls_with_the_steps_in_every_family(family):
    """A randomly initialised encoder of each family, with weights large enough to move the logits: the share of
    the logit difference that the integral misses falls with the steps. RoBERTa's all-pad baseline once got other
    positions than the input (its positions count non-pad ids), and its delta stayed at a third of the difference
    at any number of steps; with the input's positions passed for both it goes to 0 like BERT's."""
    tokenizer = load_tokenizer(str(require(MINILM)))  # BERT's WordPiece ids for every family
    torch.manual_seed(0)
    config_ = AutoConfig.for_model(family, vocab_size=len(tokenizer), num_labels=2, **FAMILIES[family])
    model = AutoModelForSequenceClassification.from_config(config_)
    for module in model.modules():
        if isinstance(module, torch.nn.Linear):
            torch.nn.init.normal_(module.weight, std=0.3)
    texts = ["the movie was good", "a dull and boring plot of the film", "it is fine, isn't it?"]
    sentences = attribution.encode(tokenizer, texts, None, model, Tokenization(128, segment_ids=False))
    with attribution.frozen(model):
        passes = [attribution.integrate(model, sentences, np.ones(3, int), steps, "cpu") for steps in (8, 32, 128)]
    assert all(abs(p.difference).min() > 0.05 for p in passes)
    missed = [np.abs(p.delta / p.difference) for p in passes]
    assert missed[2].mean() < 0.5 * missed[0].mean() and missed[2].max() < 0.02, missed
    if family in ("bert", "roberta"):
        assert missed[1].max() < 1e-3 and missed[2].max() < 1e-3, missed


def test_every_family_s_tokenizer_maps_its_tokens_onto_the_same_words(tiny_family):
    """Byte-level BPE (RoBERTa, ModernBERT), SentencePiece (DeBERTa-v3) and WordPiece (ELECTRA) all give the words
    of `sentiflow.words`, as written, and a pair's second text its own offsets. (A word with no token of its own, one
    that an unknown-token run shares with the next word, cannot be scored apart: the toy SentencePiece vocabulary
    knows no "k" or "-", so the text avoids "k:" and "--".)"""
    family, folder = tiny_family
    model, tokenizer = load_classifier(str(folder), LABELS), load_tokenizer(str(folder))
    texts, pairs = ["It doesn't fail , o'fallon ( a  dull film )"], ["the plot wasn't  good"]
    (sentence,) = attribution.encode(tokenizer, texts, pairs, model)  # as the tokenize rule decides for the family
    for field, text in enumerate((texts[0], pairs[0])):
        shown = [sentence.word_text(w) for w in sentence.words() if w[0] == field]
        assert [w.lower() for w in shown] == words.words(text), family
    assert sentence.word_text((0, 2)) == "n't" and sentence.word_text((1, 3)) == "n't"


def test_texts_are_truncated_as_training_truncated_them(random_classifier):
    model, tokenizer = random_classifier
    long = "the plot was dull and the acting was bad , the film was long " * 3
    frame = pd.DataFrame({"index": [0, 1], "text": [long, "a good film"], "text_pair": ["it is fine", long],
                          "label": [0, 1]})  # fmt: skip
    tokenization = Tokenization.of(tokenizer, model.config, pairs=True, requested=24)
    assert tokenization == Tokenization(24, segment_ids=True)  # BERT reads segment ids
    trained = encode(tokenizer, frame, tokenization.max_length, tokenization.segment_ids)
    sentences = attribution.encode(tokenizer, frame["text"], frame["text_pair"], model, tokenization)
    for j, sentence in enumerate(sentences):
        assert sentence.inputs["input_ids"] == trained.ids[trained.offsets[j] : trained.offsets[j + 1]].tolist()
        assert sentence.inputs["token_type_ids"] == trained.types[trained.offsets[j] : trained.offsets[j + 1]].tolist()
    # Longest first: the long text loses its end, the short one keeps every word.
    first = sentences[0].words()
    assert [p for f, p in first if f == 1] == [0, 1, 2] and len([w for w in first if w[0] == 0]) == 24 - 3 - 3
    assert len(attribution.encode(tokenizer, [long], None, model)[0]) > 24  # the tokenizer's own limit: 128


def test_n_t_is_one_word_on_the_attribution_and_the_shortcut_side(random_classifier, tmp_path):
    require(MINILM / "vocab.txt")  # the real WordPiece vocabulary splits "n't" into n / ' / t
    model, tokenizer = random_classifier
    texts = ["it does n't work", "it doesn't work", "o'fallon -- was here"]
    sentences = attribution.encode(tokenizer, texts, None, model)
    for text, sentence in zip(texts, sentences):
        shown = [sentence.word_text(w) for w in sentence.words()]
        assert [w.lower() for w in shown] == words.words(text) and len(shown) == len(words.spans(text))
        assert [text[s:e] for s, e in sentence.spans[0]] == shown  # the words as written, by character offsets
    assert [sentences[1].word_text(w) for w in sentences[1].words()] == ["it", "does", "n't", "work"]
    assert tokenizer.tokenize(texts[0]) == ["it", "does", "n", "'", "t", "work"]
    # One unit per token: "n't" gets its three tokens' 3, more than "work"'s 2, so it is the top word.
    scores = np.array([0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 2.0, 0.0])  # [CLS] it does n ' t work [SEP]
    scored = attribution.word_scores(sentences[0], scores)
    assert [(w["word"], w["score"], w["start"], w["end"]) for w in scored] == [
        ("it", 0.0, 0, 2), ("does", 0.0, 3, 7), ("n't", 3.0, 8, 11), ("work", 2.0, 12, 16)]  # fmt: skip
    table = pd.DataFrame([{"index": 0, "seed": 1, **w, "score_predicted": w["score"], "score_gold": 0.0}
                          for w in scored])  # fmt: skip
    path = write_run(tmp_path / "run", "m", 1, [np.array([[0.9, 0.1]])], np.array([1]))
    group = RunSet.load([path], [["m", 1]]).groups["m"]
    validation = pd.DataFrame({"index": [0], "text": texts[:1], "label": [1]})
    shortcuts = pd.DataFrame({"label": ["negative"], "word": ["n't"]})
    summary = sentence_summary(table, group, validation, np.array([0]), {0}, LABELS, shortcuts)
    assert summary["top_words"].iloc[0].startswith("n't; work") and summary["top_word_is_shortcut"].iloc[0]


def test_the_report_colours_the_text_as_written(random_classifier):
    model, tokenizer = random_classifier
    texts, pairs = ["o'fallon -- a  fine film ,  isn't it", "it was dull"], ["the plot is bad", "a good  film"]
    sentences = attribution.encode(tokenizer, texts, pairs, model, Tokenization(14, True))  # cuts the first's end
    scores = [np.linspace(-1, 1, len(s)) for s in sentences]
    table = pd.DataFrame([{"index": j, **w, "score_predicted": w["score"]}
                          for j, s in enumerate(sentences) for w in attribution.word_scores(s, scores[j])])  # fmt: skip
    first = table[table["index"] == 0]
    fields = coloured(first, [texts[0], pairs[0]])
    assert ["".join(x["text"] for x in field) for field in fields] == [texts[0], pairs[0]]
    shown = [x["text"] for x in fields[0]]
    assert shown[:4] == ["o'fallon", " ", "-", "-"] and "  " in shown  # as written: no space added or lost
    assert fields[0][-1]["score"] is None and "n't" in fields[0][-1]["text"]  # the cut end, uncoloured
    coloured_words = [x for field in fields for x in field if x["score"] is not None]
    assert len(coloured_words) == len(first)
    strongest = max(abs(x["score"]) for x in coloured_words)
    assert {x["rgb"].endswith(",0.60)") for x in coloured_words if abs(x["score"]) == strongest} == {True}


def test_every_seed_is_attributed_toward_the_seed_majority(tiny_bert, tmp_path):
    """Two seeds (one checkpoint saved twice) that predict different classes: both are attributed toward the
    majority's class, so averaging their scores averages one quantity; the deletion test takes the seed that made
    the majority's error."""
    model = load_classifier(str(tiny_bert), LABELS)
    tokenizer = load_tokenizer(str(tiny_bert))
    for module in model.modules():
        if isinstance(module, torch.nn.Linear):
            torch.nn.init.normal_(module.weight, std=0.3)
    for seed in (1, 2):
        model.save_pretrained(tmp_path / f"seed{seed}")
        tokenizer.save_pretrained(tmp_path / f"seed{seed}")
    texts = ["the movie was good and fine", "a dull and boring plot of the film"]
    gold, majority = np.array([0, 0]), np.array([1, 0])
    predicted = np.array([[1, 0], [0, 0]])  # seed 2 disagrees with the majority on the first sentence
    checkpoints = {seed: tmp_path / f"seed{seed}" for seed in (1, 2)}
    settings = {"steps": 16, "deletion_k": [1]}
    words_, convergence, deletions = attribution.attribute_group(
        checkpoints, texts, None, gold, predicted, majority, settings, "cpu"
    )
    one, two = (words_[words_["seed"] == s].reset_index(drop=True) for s in (1, 2))
    np.testing.assert_allclose(one["score_predicted"], two["score_predicted"], rtol=1e-5, atol=1e-7)
    first = one[one["index"] == 0]
    assert not np.allclose(first["score_predicted"], first["score_gold"])  # toward class 1, not seed 2's class 0
    assert convergence["predicted"].tolist() == [1, 0, 1, 0]
    assert deletions["seed"].tolist() == [1] and deletions["index"].tolist() == [0]


def test_the_settings_are_the_schema_s_with_its_defaults():
    schema = config.defaults("analysis", "attribution")
    assert attribution.settings_with_defaults({})["steps"] == schema["steps"]
    assert attribution.settings_with_defaults({"steps": 7}) == schema | {"steps": 7}
    empty = pd.DataFrame(columns=attribution.CONVERGENCE_COLUMNS)
    summary = attribution.convergence_summary(empty, {"max_steps": 40})
    assert (summary["n_steps"], summary["max_steps"], summary["tolerance"]) == (
        schema["steps"],
        40,
        schema["tolerance"],
    )


def test_a_model_without_an_embedding_layer_is_named(tiny_bert):
    model = load_classifier(str(tiny_bert), LABELS)
    model.set_input_embeddings(None)
    with pytest.raises(AttributionError, match=r"model type 'bert'.*embedding layer cannot be found"):
        attribution.embedding_layer(model)
    sentences = attribution.encode(load_tokenizer(str(tiny_bert)), ["a good film"], None, model)
    with pytest.raises(AttributionError, match="'bert'"):
        attribution.attribute(model, sentences, np.array([1]), np.array([1]), {}, "cpu")


def test_failing_sentences_are_integrated_again_with_more_steps(random_classifier):
    model, tokenizer = random_classifier
    texts = toy_frame(12, 5)["text"].tolist()
    sentences = attribution.encode(tokenizer, texts, None, model)
    labels = np.zeros(len(texts), dtype=int)
    # Two Gauss-Legendre points cannot integrate these paths to 0.1%: every sentence is integrated again.
    strict = {"steps": 2, "max_steps": 64, "tolerance": 0.001}
    _words, convergence = attribution.attribute(model, sentences, labels, labels, strict, "cpu")
    assert (convergence["steps"] > 2).all() and set(convergence["steps"]) <= {4, 8, 16, 32, 64}
    passed = np.abs(convergence["delta_predicted"]) <= 0.001 * np.abs(convergence["difference_predicted"])
    assert (passed == convergence["passed"]).all()
    assert convergence["passed"].mean() >= 0.95 or (convergence.loc[~convergence["passed"], "steps"] == 64).all()
    summary = attribution.convergence_summary(convergence, strict)
    assert (summary["n_steps"], summary["max_steps"], summary["tolerance"]) == (2, 64, 0.001)
    assert summary["passed_share"] == convergence["passed"].mean() and sum(summary["steps_used"].values()) == 12
    # Capped: with max_steps equal to steps nothing is integrated again, and the failures are recorded.
    _words, capped = attribution.attribute(model, sentences, labels, labels, strict | {"max_steps": 2}, "cpu")
    assert (capped["steps"] == 2).all() and not capped["passed"].all()


@pytest.fixture(scope="module")
def toy_checkpoint(tiny_bert, toy_tokens, tmp_path_factory):
    """The tiny BERT fine-tuned on the toy task (the label is decided by its one sentiment word)."""
    folder = tmp_path_factory.mktemp("toy-run")
    train, validation, pad_id = toy_tokens
    out = RunOutputs(*(folder / name for name in ("h.csv", "s.csv", "p.csv", "hp.csv", "model", "m.json", "resume")))
    cfg = TrainConfig(epochs=3, learning_rate=3e-3, seed=1, threads=1, loop="plain")
    fine_tune(str(tiny_bert), LABELS, train, validation, pad_id, cfg, out)
    return out.model


def test_deleting_the_top_words_of_an_error_flips_it_more_than_random_words(toy_checkpoint):
    frame = toy_frame(60, 9)
    texts, truth = frame["text"].tolist(), frame["label"].to_numpy()
    model, tokenizer = load_trained(toy_checkpoint)
    predicted = predict(model.eval(), encode(tokenizer, frame, 128), tokenizer.pad_token_id, 16, "cpu")
    assert (predicted == truth).mean() >= 0.95
    gold = truth.copy()
    flipped = np.random.default_rng(0).choice(len(texts), 30, replace=False)
    gold[flipped] = 1 - gold[flipped]  # label errors: the model now "errs" on these 30 sentences
    settings = {"steps": 16, "deletion_k": [1, 2]}
    words, convergence, deletions = attribution.attribute_group(
        {7: toy_checkpoint}, texts, None, gold, predicted[None, :], predicted, settings, "cpu",
        index=frame["index"] + 100,
    )  # fmt: skip
    assert list(words.columns) == attribution.WORD_COLUMNS and list(deletions.columns) == attribution.DELETION_COLUMNS
    assert (words["seed"] == 7).all() and set(convergence["index"]) == set(frame["index"] + 100)
    assert convergence["passed"].mean() >= 0.95
    errors = np.flatnonzero(predicted != gold)
    assert sorted(deletions.loc[deletions["k"] == 1, "index"]) == sorted(errors + 100)
    # The attribution finds the one word that decides the toy label.
    top = deletions[deletions["k"] == 1]
    assert top["deleted_top"].isin(POSITIVE + NEGATIVE).mean() >= 0.9
    # One case by hand: the predicted class's probability on the whole sentence, without its top word, and on the
    # top word alone (with [CLS] and [SEP]).
    case = top.iloc[0]
    text = texts[int(case["index"]) - 100]
    word, cls = case["deleted_top"], int(case["predicted"])
    without = " ".join(w for w in text.split() if w != word)
    probs = [
        torch.softmax(torch.tensor(logits(model, tokenizer(t)["input_ids"])), -1)[cls] for t in (text, without, word)
    ]
    assert case["prob_whole"] == pytest.approx(float(probs[0]), abs=1e-5)
    assert case["comprehensiveness_top"] == pytest.approx(float(probs[0] - probs[1]), abs=1e-5)
    assert case["sufficiency_top"] == pytest.approx(float(probs[0] - probs[2]), abs=1e-5)
    assert case["turned_to_gold_top"] == (probs[1] < 0.5) == case["turned_away_top"]  # two classes: the same
    summary = attribution.deletion_summary(deletions, BOOTSTRAP).set_index(["k", "measure"])
    assert list(summary.index.get_level_values("measure")[:4]) == attribution.MEASURES
    gold_one = summary.loc[(1, "turned_to_gold")]
    assert gold_one["top"] == pytest.approx(top["turned_to_gold_top"].mean())
    assert gold_one["random"] == pytest.approx(top["turned_to_gold_random"].mean())
    assert gold_one["top"] > gold_one["random"] + 0.2
    assert gold_one["difference"] == pytest.approx(gold_one["top"] - gold_one["random"])
    assert gold_one["difference_ci_low"] <= gold_one["difference"] <= gold_one["difference_ci_high"]
    # ERASER: deleting the top word costs the prediction more than a random word; keeping it alone keeps more.
    comprehensiveness, sufficiency = summary.loc[(1, "comprehensiveness")], summary.loc[(1, "sufficiency")]
    assert comprehensiveness["top"] == pytest.approx(top["comprehensiveness_top"].mean())
    assert comprehensiveness["difference_ci_low"] > 0.1 and sufficiency["difference_ci_high"] < -0.1
    assert gold_one["sentences"] == len(errors) and sorted(set(summary.index.get_level_values("k"))) == [1, 2]


def test_a_switch_to_a_third_class_turns_away_from_the_prediction_not_to_gold():
    cases = pd.DataFrame({"index": [0, 1], "k": 1, "words": 4, "predicted": [2, 2], "gold": [0, 0], "deleted_top": "x"})
    # Per case, the five variants (whole, without top, without random, only top, only random) over three classes.
    probs = np.array([
        [0.1, 0.1, 0.8], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7], [0.1, 0.2, 0.7], [0.3, 0.1, 0.6],
        [0.1, 0.2, 0.7], [0.6, 0.1, 0.3], [0.1, 0.1, 0.8], [0.1, 0.1, 0.8], [0.2, 0.2, 0.6],
    ])  # fmt: skip
    table = attribution.deletion_measures(cases, probs)
    assert table["turned_away_top"].tolist() == [True, True] and table["turned_to_gold_top"].tolist() == [False, True]
    assert table["turned_away_random"].tolist() == [False, False]
    np.testing.assert_allclose(table["comprehensiveness_top"], [0.7, 0.4])
    np.testing.assert_allclose(table["comprehensiveness_random"], [0.1, -0.1])
    np.testing.assert_allclose(table["sufficiency_top"], [0.1, -0.1])
    np.testing.assert_allclose(table["sufficiency_random"], [0.2, 0.1])


def test_deletion_summary_averages_seeds_per_sentence():
    deletions = pd.DataFrame({
        "index": [1, 1, 2, 2, 3, 4], "seed": [1, 2, 1, 2, 1, 1], "k": 1,
        "turned_to_gold_top": [True, False, True, True, False, True],
        "turned_to_gold_random": [False, False, True, False, False, False],
    })  # fmt: skip
    for measure in attribution.MEASURES[:-1]:  # the same numbers under every name but the last
        deletions[f"{measure}_top"] = deletions["turned_to_gold_top"].astype(float)
        deletions[f"{measure}_random"] = deletions["turned_to_gold_random"].astype(float)
    deletions["turned_away_top"], deletions["turned_away_random"] = 1.0, 0.5
    summary = attribution.deletion_summary(deletions, BOOTSTRAP).set_index("measure")
    assert list(summary.index) == attribution.MEASURES
    row = summary.loc["turned_to_gold"]
    # Per sentence: top 0.5, 1, 0, 1 -> 0.625; random 0, 0.5, 0, 0 -> 0.125.
    assert row["sentences"] == 4 and row["cases"] == 6
    assert row["top"] == pytest.approx(0.625) and row["random"] == pytest.approx(0.125)
    assert row["difference"] == pytest.approx(0.5)
    assert row["top_ci_low"] <= 0.625 <= row["top_ci_high"]
    assert summary.loc["comprehensiveness", "top"] == pytest.approx(0.625)
    assert summary.loc["turned_away", "difference"] == pytest.approx(0.5)
