"""Real llama.cpp inference with the small GGUF from ../shared."""

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO, SHARED, require, write_run

from sentiflow.analysis.runs import RunSet
from sentiflow.llm.compare import LLMJob, compare, score_sentences
from sentiflow.llm.items import select_items
from sentiflow.llm.scorer import LabelScorer, LLMError, PromptConfig, default_prompt, resolve_model
from sentiflow.llm.tags import tag_prompt

GGUF = SHARED / "models" / "smollm2-135m-instruct" / "smollm2-135m-instruct-q4_1.gguf"
LABELS = ["negative", "positive"]
SENTENCES = [
    "it 's a charming and often affecting journey .",
    "unflinchingly bleak and desperate",
    "the acting , costumes , music , cinematography and sound are all astounding given the production 's austere locales .",
    "it 's slow -- very , very slow .",
    "a sometimes tedious film .",
    "this is a film well worth seeing , talking and singing heads and all .",
]


def prompt(**changes) -> PromptConfig:
    shots = [("a gorgeous , witty film", "positive"), ("dull and lifeless", "negative")]
    return dataclasses.replace(default_prompt(), **({"shots": shots} | changes))


@pytest.fixture(scope="module")
def gguf():
    return require(GGUF)


@pytest.fixture(scope="module")
def scorer(gguf):
    return LabelScorer(gguf, prompt(), LABELS, n_ctx=1024, threads=2)


def test_probabilities_are_over_the_labels_and_reruns_are_identical(scorer, gguf):
    first = [scorer.score(s) for s in SENTENCES]
    for probs in first:
        assert list(probs) == LABELS
        assert sum(probs.values()) == pytest.approx(1.0, abs=1e-9)
        assert all(0 < p < 1 for p in probs.values())
    assert [scorer.score(s) for s in SENTENCES] == first
    fresh = LabelScorer(gguf, prompt(), LABELS, n_ctx=1024, threads=2)
    assert [fresh.score(s) for s in SENTENCES] == first


def test_prefix_cache_gives_the_answers_of_no_cache(scorer, gguf):
    cached = [scorer.score(s) for s in SENTENCES]
    assert scorer.reused_tokens > 0.5 * scorer.prompt_tokens  # system prompt and shots come from the cache
    uncached = LabelScorer(gguf, prompt(), LABELS, n_ctx=1024, threads=2, reuse_prefix=False)
    plain = [uncached.score(s) for s in SENTENCES]
    assert uncached.reused_tokens == 0
    for a, b in zip(cached, plain):
        assert max(a, key=a.get) == max(b, key=b.get)
        assert a["positive"] == pytest.approx(b["positive"], abs=1e-4)


def test_multi_token_verbalizers_rewind_the_cache(gguf):
    words = {"negative": ["very negative", "bad"], "positive": ["very positive", "good"]}
    scorer = LabelScorer(gguf, prompt(verbalizers=words), LABELS, n_ctx=1024, threads=2)
    assert max(len(t) for ts in scorer.continuations.values() for t in ts) > 1
    first = scorer.score(SENTENCES[0])
    assert sum(first.values()) == pytest.approx(1.0)
    scorer.score(SENTENCES[1])
    assert scorer.score(SENTENCES[0]) == first


def test_the_prompt_uses_the_models_chat_template(scorer):
    text = scorer.render("a fine film")
    assert text.count("<|im_start|>user") == 3  # two shots and the item
    assert text.endswith("<|im_start|>assistant\n") and "Sentence: a fine film" in text


def test_bad_model_files_name_the_entry_and_the_key(gguf, tmp_path):
    with pytest.raises(LLMError, match=r"^llm\.models\.m\.path: .*missing\.gguf: GGUF model file not found"):
        resolve_model({"path": str(tmp_path / "missing.gguf")}, "llm.models.m")
    (tmp_path / "text.gguf").write_text("not a model")
    with pytest.raises(LLMError, match=r"^llm\.models\.m\.path: .*text\.gguf is not a GGUF file"):
        resolve_model({"path": str(tmp_path / "text.gguf")}, "llm.models.m")
    truncated = tmp_path / "truncated.gguf"
    truncated.write_bytes(gguf.read_bytes()[: 4 << 20])
    with pytest.raises(LLMError, match=r"^llm\.models\.m: llama\.cpp could not load .*truncated\.gguf.*complete"):
        LabelScorer(
            resolve_model({"path": str(truncated)}, "llm.models.m"),
            prompt(),
            LABELS,
            n_ctx=512,
            threads=1,
            where="llm.models.m",
        )
    with pytest.raises(
        LLMError,
        match=r"^llm\.models\.m: could not download .*Hugging Face hub.*llm\.models\.m\.hub_repo.*llm\.models\.m\.path",
    ):
        resolve_model(
            {"hub_repo": "Qwen/Qwen2.5-1.5B-Instruct-GGUF", "hub_file": "qwen2.5-1.5b-instruct-q4_k_m.gguf"},
            "llm.models.m",
        )
    with pytest.raises(LLMError, match=r"^llm\.models\.m: set path"):
        resolve_model({"path": None, "hub_repo": None}, "llm.models.m")
    with pytest.raises(LLMError, match=r"^llm\.models\.m: the verbalizer '' of label 'positive' is no token at all"):
        LabelScorer(
            gguf,
            prompt(verbalizers={"negative": ["negative"], "positive": [""]}),
            LABELS,
            n_ctx=512,
            threads=1,
            where="llm.models.m",
        )


def test_a_model_without_chat_template_needs_a_plain_template(gguf, tmp_path):
    # The same weights with the chat-template key renamed: a real GGUF that has no chat template.
    data = gguf.read_bytes()
    key = b"tokenizer.chat_template"
    assert data.count(key) == 1
    (tmp_path / "bare.gguf").write_bytes(data.replace(key, b"tokenizer.chat_templatX"))
    with pytest.raises(LLMError, match=r"no chat template; set llm\.prompt\.plain_template"):
        LabelScorer(tmp_path / "bare.gguf", prompt(), LABELS, n_ctx=512, threads=1)
    plain = LabelScorer(
        tmp_path / "bare.gguf",
        prompt(plain_template="{system}\n\n{prompt}\nAnswer:", answer_prefix=" "),
        LABELS,
        n_ctx=512,
        threads=1,
    )
    assert plain.render("nice").endswith("Sentence: nice\n\nAnswer with one word: positive or negative.\nAnswer: ")
    assert sum(plain.score("nice").values()) == pytest.approx(1.0)


def compare_args(folder, gold, probs_per_backbone):
    paths, expected = [], []
    for backbone, probs in probs_per_backbone.items():
        for seed in (1, 2):
            paths.append(write_run(folder / f"{backbone}/seed{seed}", backbone, seed, [probs], gold))
            expected.append([backbone, seed])
    validation = pd.DataFrame(
        {"index": range(len(gold)), "text": [SENTENCES[i % 6] + f" ({i})" for i in range(len(gold))], "label": gold}
    )
    validation.to_parquet(folder / "validation.parquet")
    validation.to_parquet(folder / "train.parquet")
    cues = validation.assign(negation=[i % 3 == 0 for i in range(len(gold))])
    cues.to_csv(folder / "cues.csv", index=False)
    data = {
        name: folder / f"{name}.{kind}"
        for name, kind in (("validation", "parquet"), ("train", "parquet"), ("cues", "csv"))
    }
    return RunSet.load(paths, expected), data


def outputs(folder, stem="llm"):
    return {"table": folder / f"{stem}.csv", "summary": folder / f"{stem}.json"}


MODEL = {"path": str(GGUF), "n_ctx": 1024, "n_gpu_layers": 0}
NO_CASCADE = {"enabled": False, "sentences": None, "seed": 0}
BOOTSTRAP = {"samples": 500, "confidence": 0.95, "seed": 0, "method": "percentile"}
PROMPT = {
    "system": "You are a careful annotator of movie-review sentiment.",
    "instruction": "What is the sentiment of this sentence from a movie review?\n\nSentence: {sentence}\n\nAnswer with one word: positive or negative.",
    "verbalizers": {"negative": ["negative"], "positive": ["positive"]},
    "shots": 1,
    "seed": 0,
}


def test_compare_scores_errors_and_a_matched_control_set(gguf, tmp_path):
    gold = np.array([0, 1] * 10)
    right = np.where(np.eye(2)[gold] == 1, 0.9, 0.1)
    a, b = right.copy(), right.copy()
    a[[0, 1, 2]] = a[[0, 1, 2], ::-1]  # a wrong on 0-2, b wrong on 2-3
    b[[2, 3]] = b[[2, 3], ::-1]
    runs, data = compare_args(tmp_path, gold, {"a": a, "b": b})
    items = {"errors": True, "max_errors": None, "control": True, "all_validation": False}
    job = LLMJob("m", MODEL, PROMPT, tmp_path / "cache", 2)
    summary = compare(job, runs, LABELS, data, {"items": items, "sample": NO_CASCADE}, BOOTSTRAP, outputs(tmp_path))
    table = pd.read_csv(tmp_path / "llm.csv")
    assert sorted(table.loc[table["group"] == "error", "index"]) == [0, 1, 2, 3]
    assert (table["group"] == "control").sum() == 4
    assert set(table["llm_predicted"]) <= set(LABELS)
    np.testing.assert_allclose(table["llm_prob_negative"] + table["llm_prob_positive"], 1.0)
    assert (
        table.set_index("index").loc[0, "a_predicted"] == "positive"
        and table.set_index("index").loc[0, "b_predicted"] == "negative"
    )
    wrong_a = table["a_predicted"] != table["gold"]
    assert summary["backbones"]["a"]["encoder_wrong_items"] == 3
    assert summary["backbones"]["a"]["llm_fixes"] == int((wrong_a & table["llm_correct"]).sum())
    assert summary["backbones"]["a"]["llm_breaks"] == int((~wrong_a & ~table["llm_correct"]).sum())
    assert summary["groups"]["error"]["llm_accuracy"] == pytest.approx(
        table.loc[table["group"] == "error", "llm_correct"].mean()
    )
    assert summary["by_cue"]["negation"]["error"]["items"] == 2  # indices 0 and 3
    assert json.loads((tmp_path / "llm.json").read_text()) == json.loads(json.dumps(summary))
    assert summary["seconds_per_item"] > 0 and not summary["no_errors"]


def test_no_errors_gives_an_empty_result(tmp_path):
    gold = np.array([0, 1] * 5)
    right = np.where(np.eye(2)[gold] == 1, 0.9, 0.1)
    runs, data = compare_args(tmp_path, gold, {"a": right})
    items = {"errors": True, "max_errors": None, "control": True, "all_validation": False}
    never = {"path": str(tmp_path / "never-loaded.gguf"), "n_ctx": 512, "n_gpu_layers": 0}
    job = LLMJob("m", never, PROMPT, tmp_path / "cache", 1, {"sarcasm": SARCASM})
    summary = compare(job, runs, LABELS, data, {"items": items, "sample": NO_CASCADE}, BOOTSTRAP, outputs(tmp_path))
    assert summary["no_errors"] and summary["items"] == 0 and summary["groups"] == {}
    assert summary["tags"]["sarcasm"]["error"]["items"] == 0 and summary["tags"]["sarcasm"]["error"]["rate"] is None
    table = pd.read_csv(tmp_path / "llm.csv")
    columns = {"index", "sentence", "gold", "group", "llm_predicted", "llm_correct", "tag_sarcasm"}
    assert table.empty and columns <= set(table.columns)


SARCASM = {
    "instruction": "Is this sentence sarcastic, meaning the opposite of what it says?\n\nSentence: {sentence}\n\nAnswer yes or no.",
    "verbalizers": {"yes": ["yes"], "no": ["no"]},
}


def test_tag_questions_are_asked_about_errors_and_control_and_cached(gguf, tmp_path):
    """A tag (sarcasm) is a yes/no question read like a label, asked about the error and control sentences only,
    through the same cache; its rates among errors and control come with intervals."""
    gold = np.array([0, 1] * 12)
    right = np.where(np.eye(2)[gold] == 1, 0.8, 0.2)
    right[[0, 3, 6, 9]] = right[[0, 3, 6, 9], ::-1]
    runs, data = compare_args(tmp_path, gold, {"a": right})
    items = {"errors": True, "max_errors": None, "control": True, "all_validation": False}
    selection = {"items": items, "sample": {"enabled": True, "sentences": 20, "seed": 1}}
    job = LLMJob("m", MODEL, PROMPT, tmp_path / "cache", 2, {"sarcasm": SARCASM})
    summary = compare(job, runs, LABELS, data, selection, BOOTSTRAP, outputs(tmp_path))
    table = pd.read_csv(tmp_path / "llm.csv")
    asked = table["group"].isin(["error", "control"])
    assert table.loc[asked, "tag_sarcasm"].between(0, 1).all() and table.loc[~asked, "tag_sarcasm"].isna().all()
    assert (~asked).any()  # the cascade's other sentences are not asked the tag question
    errors = table.loc[table["group"] == "error", "tag_sarcasm"] > 0.5
    rates = summary["tags"]["sarcasm"]
    assert rates["error"]["items"] == 4 and rates["error"]["rate"] == pytest.approx(errors.mean())
    assert rates["control"]["items"] == 4 and len(rates["difference_ci"]) == 2
    # The same probabilities as asking the model directly with the tag's prompt.
    scorer = LabelScorer(gguf, tag_prompt(PROMPT, SARCASM), ["yes", "no"], n_ctx=1024, threads=2)
    first = table[asked].iloc[0]
    assert scorer.score(first["sentence"])["yes"] == pytest.approx(first["tag_sarcasm"], abs=1e-6)
    # A second job reads every answer, the tag's too, from the cache: the model is not loaded again.
    again = compare(job, runs, LABELS, data, selection, BOOTSTRAP, outputs(tmp_path, "again"))
    assert summary["session"]["scored_now"] == len(table) + asked.sum()  # labels of all, the tag of errors and control
    assert again["session"]["scored_now"] == 0 and again["session"]["load_seconds"] == 0
    assert again["tags"] == summary["tags"]


def test_benchmark_compares_cached_and_uncached_scoring(gguf, tmp_path):
    from sentiflow.llm.bench import run

    sentences = tmp_path / "dev.tsv"
    sentences.write_text("sentence\tlabel\n" + "".join(f"{s} \t{i % 2}\n" for i, s in enumerate(SENTENCES)))
    results = run(gguf, sentences, items=3, threads=2, shots=1, n_ctx=1024)
    assert len(results["cached"]["answers"]) == 3 and results["max_probability_difference"] < 1e-4
    assert results["cached"]["reused_token_share"] > 0.3 and results["uncached"]["reused_token_share"] == 0


def test_default_prompt_is_the_configured_one():
    configured = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["llm"]["prompt"]
    for field in ("system", "instruction", "answer_prefix", "plain_template", "verbalizers"):
        assert configured[field] == getattr(default_prompt(), field), field


def test_the_scorer_is_imported_without_pandas():
    """A benchmark or notebook that only scores does not pay for pandas (nor llama.cpp's library, until a model
    is loaded)."""
    code = "import sentiflow.llm.scorer, sys; print(sorted({'pandas', 'llama_cpp'} & set(sys.modules)))"
    env = os.environ | {"PYTHONPATH": str(REPO / "src")}
    loaded = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"


def test_errors_of_one_backbone_only(tmp_path):
    validation = pd.DataFrame({"index": range(6), "text": list("abcdef"), "label": [0, 1] * 3})
    votes = {
        "a": pd.DataFrame({"index": range(6), "predicted": 0, "confidence": 0.9, "wrong_in_seeds": [1, 0, 0, 0, 0, 0]}),
        "b": pd.DataFrame({"index": range(6), "predicted": 0, "confidence": 0.9, "wrong_in_seeds": [0, 0, 2, 0, 0, 0]}),
    }
    items = {"errors": True, "max_errors": None, "control": True, "all_validation": False}
    union = select_items(validation, votes, items, seed=0)
    assert union.loc[union["group"] == "error", "index"].tolist() == [0, 2] and (union["group"] == "control").sum() == 2
    only_b = select_items(validation, votes, items | {"errors_of": ["b"]}, seed=0)
    assert only_b.loc[only_b["group"] == "error", "index"].tolist() == [2]
    everything = select_items(validation, votes, items | {"all_validation": True}, seed=0)
    assert len(everything) == 6 and (everything["group"] == "other").sum() == 2
    with pytest.raises(LLMError, match=r"errors_of names backbones that are not configured: \['c'\]"):
        select_items(validation, votes, items | {"errors_of": ["c"]}, seed=0)


def test_scores_are_cached_per_model_prompt_and_sentence(gguf, tmp_path):
    """A second job with the same model and prompt reads every score back (the model is not even loaded); another
    prompt is scored anew; threads and the entry's name are not part of a score."""
    entry = {"n_ctx": 1024, "n_gpu_layers": 0}
    job = LLMJob("a", entry, {"seed": 0, "reuse_prefix": True}, tmp_path, 2)
    first, session = score_sentences(SENTENCES, gguf, job, prompt(), LABELS)
    assert session["scored_now"] == 6 and session["from_cache"] == 0 and session["load_seconds"] > 0
    again, session = score_sentences(
        SENTENCES[::-1], gguf, dataclasses.replace(job, name="b", threads=1), prompt(), LABELS
    )
    assert session == {"scored_now": 0, "from_cache": 6, "load_seconds": 0.0, "score_seconds": 0.0}
    assert again == first[::-1]  # the very numbers, and each sentence's measured seconds and prompt tokens
    assert all(r["seconds"] > 0 and r["prompt_tokens"] > 0 for r in first)
    other, session = score_sentences(SENTENCES[:2], gguf, job, prompt(shots=[]), LABELS)
    assert session["scored_now"] == 2 and other[0]["probs"] != first[0]["probs"]
    direct = LabelScorer(gguf, prompt(), LABELS, n_ctx=1024, threads=2).score(SENTENCES[3])
    assert first[3]["probs"] == pytest.approx([direct[label] for label in LABELS], abs=1e-6)


def test_compare_scores_the_cascade_sample_and_reuses_the_cache(gguf, tmp_path):
    gold = np.array([0, 1] * 15)
    right = np.where(np.eye(2)[gold] == 1, 0.8, 0.2)
    right[[0, 5]] = right[[0, 5], ::-1]
    runs, data = compare_args(tmp_path, gold, {"a": right})
    items = {"errors": True, "max_errors": None, "control": True, "all_validation": False}
    job = LLMJob("m", MODEL, PROMPT, tmp_path / "cache", 2)
    sample = {"enabled": True, "sentences": 20, "seed": 3}
    summary = compare(job, runs, LABELS, data, {"items": items, "sample": sample}, BOOTSTRAP, outputs(tmp_path))
    table = pd.read_csv(tmp_path / "llm.csv")
    assert table["in_cascade"].sum() == 20 == summary["validation_items"] and not summary["validation_is_complete"]
    assert {0, 5} <= set(table.loc[table["group"] == "error", "index"])
    assert summary["validation_llm_accuracy"] == pytest.approx(table.loc[table["in_cascade"], "llm_correct"].mean())
    assert summary["session"]["scored_now"] == len(table) and summary["session"]["from_cache"] == 0
    everything = {"enabled": True, "sentences": None, "seed": 3}
    again = compare(
        job, runs, LABELS, data, {"items": items, "sample": everything}, BOOTSTRAP, outputs(tmp_path, "all")
    )
    assert again["validation_items"] == 30 and again["validation_is_complete"]
    assert again["session"]["from_cache"] == len(table) and again["session"]["scored_now"] == 30 - len(table)
    merged = pd.read_csv(tmp_path / "all.csv").set_index("index").loc[table["index"]]
    np.testing.assert_array_equal(merged["llm_prob_positive"].to_numpy(), table["llm_prob_positive"].to_numpy())
