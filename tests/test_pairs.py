"""Sentence-pair tasks (entailment, paraphrase) through every stage: config, data, tokens, training, analysis, LLM."""

import json
import random

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import FILLER, NEGATIVE, POSITIVE, RTE, SHARED, build_tiny_backbone, require
from test_training import run_outputs

from sentiflow.config import ConfigError, check_dimensions
from sentiflow.data import Columns, DataError, load_file_split, prepare
from sentiflow.train.batches import DeviceBatches, HostBatches
from sentiflow.train.modeling import load_tokenizer, takes_segment_ids
from sentiflow.train.run import TrainConfig, fine_tune
from sentiflow.train.tokens import encode, load_encoded, tokenize_dataset

CPU = torch.device("cpu")
PAIR = Columns(("sentence1", "sentence2"), "label", ("entailment", "not_entailment"))


def toy_pairs(n: int, seed: int) -> pd.DataFrame:
    """The label is the sentiment word of the second text; the first holds a sentiment word drawn independently,
    so the first text alone says nothing about the label, and a model must tell the texts apart."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        first_polarity, label = rng.randint(0, 1), rng.randint(0, 1)
        texts = []
        for polarity in (first_polarity, label):
            words = rng.sample(FILLER, 3) + [rng.choice(POSITIVE if polarity else NEGATIVE)]
            rng.shuffle(words)
            texts.append(" ".join(words))
        rows.append({"index": i, "text": texts[0], "text_pair": texts[1], "label": label})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def roberta(tmp_path_factory):
    return build_tiny_backbone("roberta", tmp_path_factory.mktemp("roberta"))


@pytest.mark.parametrize("family", ["bert", "roberta"])
def test_pair_encodings_are_the_tokenizers_own_pair_template(family, tiny_bert, roberta):
    """WordPiece ([CLS] a [SEP] b [SEP], segment ids 0/1) and byte-level BPE (<s> a </s></s> b </s>, no segment
    ids), whole and truncated longest first."""
    folder = tiny_bert if family == "bert" else roberta
    tokenizer = load_tokenizer(str(folder))
    frame = toy_pairs(12, 3)
    frame.loc[0, "text"] = " ".join(["the film"] * 30)  # long first text: longest_first cuts it, not the second
    segments = family == "bert"
    encoded = encode(tokenizer, frame, 128, segment_ids=segments)
    for i, (first, second) in enumerate(zip(frame["text"], frame["text_pair"])):
        expected = tokenizer(first, second)
        row = encoded.ids[encoded.offsets[i] : encoded.offsets[i + 1]].tolist()
        assert row == expected["input_ids"]
        if segments:
            assert encoded.types[encoded.offsets[i] : encoded.offsets[i + 1]].tolist() == expected["token_type_ids"]
            assert set(expected["token_type_ids"]) == {0, 1}
    assert (encoded.types is None) == (not segments)
    cut = encode(tokenizer, frame, 24, segment_ids=segments)
    truncated = tokenizer(frame.loc[0, "text"], frame.loc[0, "text_pair"], truncation="longest_first", max_length=24)
    assert cut.ids[cut.offsets[0] : cut.offsets[1]].tolist() == truncated["input_ids"] and cut.lengths[0] == 24
    assert cut.cut[0] == encoded.lengths[0] - 24 and (cut.cut[1:] == 0).all()
    # The second text survives a long first text whole: longest_first takes from the longer one.
    second = tokenizer(frame.loc[0, "text_pair"], add_special_tokens=False)["input_ids"]
    assert cut.ids[cut.offsets[0] : cut.offsets[1]].tolist()[-len(second) - 1 : -1] == second


def test_segment_ids_reach_the_model_where_it_reads_them(tiny_bert, roberta, tmp_path):
    from transformers import DistilBertConfig, RobertaConfig

    assert takes_segment_ids(str(tiny_bert))
    for name, config in (("distilbert", DistilBertConfig()), ("roberta-base", RobertaConfig(type_vocab_size=1))):
        config.save_pretrained(tmp_path / name)  # DistilBERT takes no segment ids; RoBERTa has one segment embedding
        assert not takes_segment_ids(str(tmp_path / name)), name
    # The tiny RoBERTa's tokenizer, as RoBERTa's, gives no token_type_ids: none are stored whatever its config says.
    splits = {}
    for name, frame in (("train", toy_pairs(40, 1)), ("validation", toy_pairs(20, 2))):
        splits[name] = tmp_path / f"{name}.parquet"
        frame.to_parquet(splits[name])
    for folder, expected in ((tiny_bert, True), (roberta, False)):
        stats = tokenize_dataset(str(folder), splits, None, tmp_path / "t.npz", tmp_path / "t.json")
        assert stats["pairs"] and stats["segment_ids"] is expected
        data, _ = load_encoded(tmp_path / "t.npz")
        assert (data["train"].types is not None) is expected
    data, meta = load_encoded(tmp_path / "t.npz")  # the last one, RoBERTa: no token_type_ids in any batch
    assert "token_type_ids" not in HostBatches(data["train"], meta["pad_id"], CPU).batch(0, 8)
    tokenize_dataset(str(tiny_bert), splits, None, tmp_path / "b.npz", tmp_path / "b.json")
    data, meta = load_encoded(tmp_path / "b.npz")
    host, device = HostBatches(data["train"], meta["pad_id"], CPU), DeviceBatches(data["train"], meta["pad_id"], CPU, 8)
    a, b = host.batch(0, 16), device.batch(0, 16)
    width = a["token_type_ids"].shape[1]
    assert torch.equal(b["token_type_ids"][:, :width], a["token_type_ids"]) and a["token_type_ids"].max() == 1


def test_a_pair_task_is_learned_that_the_first_text_alone_cannot_teach(tiny_bert, tmp_path):
    tokenizer = load_tokenizer(str(tiny_bert))
    train, validation = toy_pairs(1280, 1), toy_pairs(200, 2)
    accuracy = {}
    for mode in ("pair", "first text only"):
        drop = [] if mode == "pair" else ["text_pair"]
        encoded = [
            encode(tokenizer, frame.drop(columns=drop), 128, segment_ids=not drop) for frame in (train, validation)
        ]
        cfg = TrainConfig(epochs=3, learning_rate=3e-3, seed=1, threads=1, loop="fast")
        out = run_outputs(tmp_path / mode.replace(" ", "-"))
        metadata = fine_tune(str(tiny_bert), ["negative", "positive"], *encoded, tokenizer.pad_token_id, cfg, out)
        accuracy[mode] = metadata["last_val_accuracy"]
    assert accuracy["pair"] >= 0.95 and accuracy["first text only"] <= 0.6, accuracy


def test_bad_pair_data_names_file_line_and_column(tmp_path):
    tsv = tmp_path / "pairs.tsv"
    tsv.write_text("sentence1\tsentence2\tlabel\na cat sat.\tA cat sat.\t0\nno second text here\n")
    with pytest.raises(DataError, match=rf"{tsv}: line 3: empty text in column 'sentence2'"):
        load_file_split(tsv, PAIR)
    jsonl = tmp_path / "pairs.jsonl"
    jsonl.write_text(json.dumps({"sentence1": "a", "sentence2": "b", "label": 0}) + "\n"
                     + json.dumps({"sentence1": "c", "sentence2": None, "label": 1}) + "\n")  # fmt: skip
    with pytest.raises(DataError, match=rf"{jsonl}: line 2: missing text in column 'sentence2'"):
        load_file_split(jsonl, PAIR)
    (tmp_path / "one.tsv").write_text("sentence1\tlabel\na\t0\n")
    with pytest.raises(DataError, match=r"missing text column 'sentence2' \(columns found: sentence1, label\)"):
        load_file_split(tmp_path / "one.tsv", PAIR)


def dataset(**text) -> dict:
    return {"source": "hub", "label_column": "label", "labels": ["entailment", "not_entailment"]} | text


@pytest.mark.parametrize(
    "text, message",
    [
        ({}, r"datasets\.rte names no text: set text_column .* or text_columns"),
        ({"text_column": "s", "text_columns": ["s1", "s2"]}, r"datasets\.rte sets both text_column and text_columns"),
        ({"text_columns": ["a", "b", "c"]}, r"datasets\.rte\.text_columns names 3 columns, \['a', 'b', 'c'\]: a sentence pair has two"),
    ],
)  # fmt: skip
def test_a_dataset_names_one_text_or_a_pair(text, message):
    config = {"datasets": {"rte": dataset(**text)}, "backbones": {"m": {"model": "m"}}, "variants": {"base": {}},
              "llm": {"enabled": False}}  # fmt: skip
    with pytest.raises(ConfigError, match=message):
        check_dimensions(config)


def test_a_pair_dataset_needs_both_texts_in_its_llm_instruction():
    from sentiflow.config import with_defaults

    config = with_defaults({"datasets": {"rte": dataset(text_columns=["sentence1", "sentence2"])},
                            "backbones": {"m": {"model": "m"}}, "seeds": [1]})  # fmt: skip
    config["datasets"]["rte"]["prompt"] = {"verbalizers": {"entailment": ["yes"], "not_entailment": ["no"]}}
    with pytest.raises(ConfigError, match=r"datasets\.rte with llm\.models\.qwen2\.5-1\.5b: the instruction has no "
                                          r"\{sentence1\}, \{sentence2\}; this dataset has a sentence pair"):  # fmt: skip
        check_dimensions(config)
    config["datasets"]["rte"]["prompt"]["instruction"] = "Premise: {sentence1}\nHypothesis: {sentence2}\nEntailed?"
    check_dimensions(config)


def test_rte_prepares_with_words_per_field_and_pair_overlap(tmp_path):
    require(RTE)
    files = {"train": str(RTE / "train.tsv"), "validation": str(RTE / "dev.tsv")}
    spec = dataset(text_columns=["sentence1", "sentence2"]) | {"source": "files", "files": files, "holdout_rows": 249,
                                                                "max_train_rows": None, "seed": 0}  # fmt: skip
    outputs = {name: tmp_path / f"{name}.parquet" for name in ("train", "validation", "holdout")}
    card = prepare(spec, "rte", **outputs, card=tmp_path / "card.json")
    assert card["splits"]["train"]["rows"] == 2490 - 249 and card["splits"]["validation"]["rows"] == 277
    assert card["splits"]["validation"]["label_counts"] == {"entailment": 146, "not_entailment": 131}
    fields = card["splits"]["validation"]["words_per_field"]
    assert list(fields) == ["sentence1", "sentence2"] and fields["sentence1"]["mean"] > 2 * fields["sentence2"]["mean"]
    validation = pd.read_parquet(outputs["validation"])
    assert list(validation.columns) == ["index", "text", "text_pair", "label"]
    # The overlap check compares pairs: the same premise with another hypothesis is no overlap.
    from sentiflow.data import data_card

    train = validation.iloc[:10].assign(text_pair="something else entirely")
    overlap = data_card({"train": train, "validation": validation, "holdout": validation.iloc[:0]}, ["e", "n"], {})
    assert overlap["validation_in_train"] == 0
    same = data_card(
        {"train": validation.iloc[:10], "validation": validation, "holdout": validation.iloc[:0]}, ["e", "n"], {}
    )
    assert same["validation_in_train"] == 10


def test_llm_prompts_and_cache_keys_cover_both_texts(tmp_path):
    from sentiflow.llm.cache import sentence_key
    from sentiflow.llm.scorer import LabelScorer, PromptConfig, instruct

    instruction = "Premise: {sentence1}\nHypothesis: {sentence2}\nDoes the premise entail the hypothesis?"
    assert instruct(instruction, ("A cat sat.", "An animal sat.")) == (
        "Premise: A cat sat.\nHypothesis: An animal sat.\nDoes the premise entail the hypothesis?"
    )
    assert instruct("Sentence: {sentence}", "one text") == "Sentence: one text"
    identity = {"model": "x"}
    assert sentence_key(identity, ("a", "b")) != sentence_key(identity, ("a", "c")) != sentence_key(identity, "a")
    assert sentence_key(identity, ("ab", "c")) != sentence_key(identity, ("a", "bc"))
    gguf = require(SHARED / "models" / "smollm2-135m-instruct" / "smollm2-135m-instruct-q4_1.gguf")
    prompt = PromptConfig(system="You judge entailment.", instruction=instruction, answer_prefix="",
                          plain_template=None, verbalizers={"entailment": ["yes"], "not_entailment": ["no"]},
                          shots=[(("The sky is blue.", "The sky has a colour."), "entailment")])  # fmt: skip
    scorer = LabelScorer(gguf, prompt, ["entailment", "not_entailment"], n_ctx=1024, threads=1)
    text = scorer.render(("A cat sat on the mat.", "An animal sat."))
    assert "Premise: The sky is blue.\nHypothesis: The sky has a colour." in text  # the shot, a pair too
    assert text.index("Premise: A cat sat on the mat.\nHypothesis: An animal sat.") > text.index("The sky is blue.")
    assert sum(scorer.score(("A cat sat on the mat.", "An animal sat.")).values()) == pytest.approx(1.0)


def test_error_tables_and_cues_of_a_pair_task(tmp_path):
    from conftest import write_run

    from sentiflow.analysis.runs import RunSet
    from sentiflow.errors.misclassified import ErrorSettings, analyse_errors

    validation = pd.DataFrame({"index": range(4), "text": ["it is good", "it is not good", "fine", "fine"],
                               "text_pair": ["good", "good", "it is not fine", "fine"], "label": [0, 1, 0, 1]})  # fmt: skip
    validation.to_parquet(tmp_path / "validation.parquet")
    validation.to_parquet(tmp_path / "train.parquet")
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.2, 0.8], [0.1, 0.9]])  # wrong on 1 and 2
    path = write_run(tmp_path / "run", "m", 1, [probs], validation["label"].to_numpy())
    from sentiflow.config import defaults

    settings = ErrorSettings(cues={"negation": ["not"]}, shortcuts=defaults("analysis")["shortcuts"] | {"min_count": 1})
    names = ("combined", "cues", "failure_modes", "shortcut_words", "word_groups")
    outputs = {name: tmp_path / f"{name}.csv" for name in names} | {
        "overconfidence": tmp_path / "o.json",
        "why": tmp_path / "w.json",
    }
    data = {"validation": tmp_path / "validation.parquet", "train": tmp_path / "train.parquet"}
    analyse_errors(RunSet.load([path], [["m", 1]]), data, ["e", "n"], settings, outputs)
    errors = pd.read_csv(outputs["combined"]).set_index("index")
    assert list(errors.columns[:3]) == ["backbone", "sentence", "text_pair"]
    assert errors.loc[2, ["sentence", "text_pair"]].tolist() == ["fine", "it is not fine"]
    cues = pd.read_csv(outputs["cues"])
    assert cues["negation"].tolist() == [False, True, True, False]  # on either text: what the failure modes use
    assert cues["negation_in_first"].tolist() == [False, True, False, False]
    assert cues["negation_in_second"].tolist() == [False, False, True, False]
    modes = pd.read_csv(outputs["failure_modes"]).set_index("cue")
    assert modes.loc["negation", "sentences"] == 2 and modes.loc["negation", "error_rate_with"] == 1.0


def test_the_documented_glue_pair_tasks_are_valid_configs(tmp_path):
    """The hub examples of config/README.md (RTE, MRPC, QNLI, MNLI) pass the schema and the checks run before a
    workflow starts: text columns, a verbalizer for every label, both texts in every instruction."""
    import re

    import yaml
    from conftest import REPO

    from sentiflow.config import load_study

    section = (REPO / "config" / "README.md").read_text().split("### Sentence-pair tasks")[1]
    example = yaml.safe_load(re.search(r"```yaml\n(.*?)```", section, flags=re.S).group(1))
    assert list(example["datasets"]) == ["rte", "mrpc", "qnli", "mnli"]
    (tmp_path / "glue-pairs.yaml").write_text(yaml.safe_dump(example, sort_keys=False))
    config = load_study([tmp_path / "glue-pairs.yaml"])
    mnli = config["datasets"]["mnli"]
    assert mnli["hub"]["validation_split"] == "validation_matched" and len(mnli["labels"]) == 3
    assert all(len(d["text_columns"]) == 2 and d["holdout_rows"] > 0 for d in config["datasets"].values())
