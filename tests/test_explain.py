"""The attribute rule's library side on real trained runs: which sentences, what it writes, the cases with nothing
to attribute and with a checkpoint that cannot be read; the misclassified rule's shortcut, mixed-tone and label-issue
columns."""

import json

import numpy as np
import pandas as pd
import pytest
from conftest import REPO, toy_frame, write_run
from test_training import run_outputs

from sentiflow.analysis.runs import RunSet
from sentiflow.errors import attribution
from sentiflow.errors.explain import chosen_sentences, explain_group
from sentiflow.report.render import _environment
from sentiflow.train.run import TrainConfig, fine_tune
from sentiflow.train.tokens import Tokenization, encode

LABELS = ["negative", "positive"]
BOOTSTRAP = {"samples": 1000, "confidence": 0.95, "seed": 0, "method": "percentile"}
SETTINGS = {"steps": 16, "max_steps": 64, "tolerance": 0.05, "sentences": None, "deletion_k": [1, 2], "seed": 0}
TEMPLATES = REPO / "report"
TOKENS = Tokenization(max_length=128, segment_ids=False)  # the tokenize rule's decision for the tiny BERT on one text


def outputs(folder):
    return {"words": folder / "attributions.parquet", "sentences": folder / "sentences.csv",
            "deletion": folder / "deletion.csv", "summary": folder / "attribution.json"}  # fmt: skip


@pytest.fixture(scope="module")
def trained_group(tiny_bert, tmp_path_factory):
    """Two seeds of the tiny BERT trained on the toy task; a quarter of validation's labels flipped, so that the
    seed majority errs on about them (and is right on the rest)."""
    from sentiflow.train.modeling import load_tokenizer

    folder = tmp_path_factory.mktemp("group")
    tokenizer = load_tokenizer(str(tiny_bert))
    validation = toy_frame(80, 2)
    validation.loc[::4, "label"] = 1 - validation.loc[::4, "label"]
    train, held = (encode(tokenizer, frame, 128) for frame in (toy_frame(640, 1), validation))
    paths = []
    for seed in (1, 2):
        out = run_outputs(folder / f"seed{seed}")
        cfg = TrainConfig(epochs=3, learning_rate=3e-3, seed=seed, threads=1)
        fine_tune(str(tiny_bert), LABELS, train, held, tokenizer.pad_token_id, cfg, out, {"run_name": "tiny"})
        paths.append(out.metadata)
    return RunSet.load(paths, [["tiny", 1], ["tiny", 2]]).groups["tiny"], validation


def test_a_group_s_errors_and_as_many_correct_sentences_are_attributed(trained_group, tmp_path):
    group, validation = trained_group
    wrong, right = chosen_sentences(group, None, 0)
    assert len(wrong) == len(right) > 10 and (group.majority()[wrong] != group.gold[wrong]).all()
    assert (group.majority()[right] == group.gold[right]).all()
    capped, _ = chosen_sentences(group, 5, 0)
    assert len(capped) == 5 and set(capped) <= set(wrong) and (capped == chosen_sentences(group, 5, 0)[0]).all()

    shortcuts = pd.DataFrame(
        {"label": ["positive"], "rank": [1], "word": ["great"], "count": [50], "share": [0.9], "z": [9.0]}
    )
    summary = explain_group(group, validation, shortcuts, LABELS, SETTINGS, BOOTSTRAP, "cpu", outputs(tmp_path), TOKENS)
    words = pd.read_parquet(tmp_path / "attributions.parquet")
    assert sorted(words["seed"].unique()) == [1, 2] and set(words["backbone"]) == {"tiny"}
    attributed = set(validation["index"].to_numpy()[np.concatenate([wrong, right])])
    assert set(words["index"]) == attributed
    # Every word of a toy sentence, once per seed: the toy texts are five whole words each.
    per_sentence = words.groupby(["index", "seed"]).size()
    assert (per_sentence == 5).all()
    sentences = pd.read_csv(tmp_path / "sentences.csv")
    assert sentences["error"].sum() == len(wrong) and (~sentences["error"]).sum() == len(right)
    # The top word of an error is its strongest word toward the prediction, averaged over the seeds.
    first = sentences[sentences["error"]].iloc[0]
    mean = words[words["index"] == first["index"]].groupby("word")["score_predicted"].mean()
    assert first["top_words"].split("; ")[0] == mean.idxmax()
    shortcut = sentences[sentences["error"]]
    expected = [
        t.split("; ")[0] == "great" and g != "positive" for t, g in zip(shortcut["top_words"], shortcut["gold"])
    ]
    assert shortcut["top_word_is_shortcut"].tolist() == expected
    assert summary["top_word_is_shortcut"]["share"] == pytest.approx(np.mean(expected))
    deletion = pd.read_csv(tmp_path / "deletion.csv")
    assert deletion["k"].tolist() == [1] * 4 + [2] * 4 and deletion["measure"].tolist()[:4] == attribution.MEASURES
    # Each error with the seeds that made it: at least one, since a tie goes to a class some seed chose.
    assert (deletion["sentences"] == len(wrong)).all()
    saved = json.loads((tmp_path / "attribution.json").read_text())
    assert saved["errors"] == len(wrong) and saved["convergence"]["sentences"] == 2 * len(attributed)
    assert saved["convergence"]["passed_share"] >= 0.95
    assert (saved["max_length"], saved["segment_ids"]) == (128, False)
    # Training's truncation: 4 tokens leave [CLS], two words and [SEP] of each five-word toy sentence.
    cut = explain_group(group, validation, shortcuts, LABELS, SETTINGS | {"sentences": 3}, BOOTSTRAP, "cpu",
                        outputs(tmp_path / "cut"), Tokenization(4, False))  # fmt: skip
    short = pd.read_parquet(tmp_path / "cut/attributions.parquet")
    assert cut["max_length"] == 4 and (short.groupby(["index", "seed"]).size() == 2).all()
    assert (short["position"] < 2).all()


def test_only_converged_attributions_enter_the_words_and_the_deletion_test_and_the_rest_are_counted(
    trained_group, tmp_path
):
    """Four integration steps and a 1% bar, no second pass: most (sentence, seed) integrals miss. A word table or a
    deletion case of one of them would mix numbers that do not add up to the model's logit difference into the
    averages; they are left out, and the summary and the report's text say how many."""
    group, validation = trained_group
    strict = SETTINGS | {"steps": 4, "max_steps": 4, "tolerance": 0.01, "deletion_k": [1]}
    wrong, right = chosen_sentences(group, None, 0)
    chosen = np.sort(np.concatenate([wrong, right]))
    index = validation["index"].to_numpy()
    checkpoints = {run.seed: run.folder / "model" for run in group.runs}
    words, convergence, deletions = attribution.attribute_group(
        checkpoints, validation["text"].to_numpy()[chosen], None, group.gold[chosen], group.predictions()[:, chosen],
        group.majority()[chosen], strict, "cpu", index=index[chosen], tokenization=TOKENS,
    )  # fmt: skip
    passed = convergence[convergence["passed"]]
    assert 0.1 < len(passed) / len(convergence) < 0.9  # some of each
    converged = set(zip(passed["index"], passed["seed"]))
    assert set(zip(words["index"], words["seed"])) == converged
    assert set(zip(deletions["index"], deletions["seed"])) <= converged
    # Every converged error with a seed that made it is in the deletion test; no other.
    position = {i: p for p, i in enumerate(index)}
    seed_row = {seed: row for row, seed in enumerate(group.seeds)}
    tested = {(i, s) for i, s in converged if position[i] in set(wrong)
              and group.predictions()[seed_row[s], position[i]] == group.majority()[position[i]]}  # fmt: skip
    assert set(zip(deletions["index"], deletions["seed"])) == tested

    shortcuts = pd.DataFrame(columns=["label", "word"])
    summary = explain_group(group, validation, shortcuts, LABELS, strict, BOOTSTRAP, "cpu", outputs(tmp_path), TOKENS)
    none_converged = set(convergence["index"]) - set(passed["index"])
    errors = set(index[wrong])
    assert summary["convergence"] | {"steps_used": None} == {
        "n_steps": 4, "max_steps": 4, "tolerance": 0.01, "sentences": len(convergence), "steps_used": None,
        "passed_share": pytest.approx(len(passed) / len(convergence)), "dropped": len(convergence) - len(passed),
        "sentences_dropped": len(none_converged), "errors_dropped": len(none_converged & errors),
    }  # fmt: skip
    assert summary["convergence"]["errors_dropped"] > 0
    sentences = pd.read_csv(tmp_path / "sentences.csv")
    assert set(sentences["index"]) == set(passed["index"]) and not none_converged & set(sentences["index"])
    saved = pd.read_parquet(tmp_path / "attributions.parquet")
    assert set(zip(saved["index"], saved["seed"])) == converged
    # The report says it, in both documents.
    for latex in (False, True):
        imported = r"\BLOCK{from 'attribution.tex.j2' import convergence}\VAR{convergence(c)}" if latex else (
            "{% from 'attribution.html.j2' import convergence %}{{ convergence(c) }}")  # fmt: skip
        text = " ".join(_environment(TEMPLATES, latex).from_string(imported).render(c=summary["convergence"]).split())
        c = summary["convergence"]
        assert f"of the {c['sentences']} attributions (sentence and seed) converged" in text
        assert f"the {c['dropped']} that did not are left out of the words and the deletion test" in text
        assert f"{c['sentences_dropped']} sentence(s), {c['errors_dropped']} of them errors, with no seed" in text
    everything = (
        _environment(TEMPLATES, False)
        .from_string("{% from 'attribution.html.j2' import convergence %}{{ convergence(c) }}")
        .render(c=summary["convergence"] | {"passed_share": 1.0, "dropped": 0, "sentences_dropped": 0})
    )
    assert "none was left out" in everything


def test_a_group_without_errors_writes_its_tables_empty(tmp_path):
    gold = np.array([0, 1] * 10)
    probs = np.where(np.eye(2)[gold] == 1, 0.9, 0.1)
    path = write_run(tmp_path / "run", "m", 1, [probs], gold)  # no checkpoint: none is needed, none is loaded
    group = RunSet.load([path], [["m", 1]]).groups["m"]
    validation = pd.DataFrame({"index": range(20), "text": ["a fine film"] * 20, "label": gold})
    summary = explain_group(group, validation, pd.DataFrame(columns=["label", "word"]), LABELS, SETTINGS, BOOTSTRAP,
                            "cpu", outputs(tmp_path / "out"), TOKENS)  # fmt: skip
    assert summary["errors"] == 0 and summary["top_word_is_shortcut"]["share"] is None
    for name in ("sentences.csv", "deletion.csv"):
        table = pd.read_csv(tmp_path / "out" / name)
        assert table.empty and len(table.columns) > 3, name
    assert pd.read_parquet(tmp_path / "out/attributions.parquet").empty


def test_a_checkpoint_that_cannot_be_attributed_leaves_nothing_behind(trained_group, tmp_path):
    import shutil

    group, validation = trained_group
    runs = [type(run)(run.label, run.seed, run.folder, run.metadata) for run in group.runs]
    # The second seed's outputs, all but its published checkpoint.
    shutil.copytree(runs[1].folder, tmp_path / "seed2", ignore=shutil.ignore_patterns("model"))
    runs[1].folder = tmp_path / "seed2"
    copy = type(group)("tiny", runs)
    assert copy.predictions().shape == group.predictions().shape  # everything else reads
    with pytest.raises(OSError, match="seed2/model"):
        explain_group(copy, validation, pd.DataFrame(columns=["label", "word"]), LABELS, SETTINGS, BOOTSTRAP, "cpu",
                      outputs(tmp_path / "out"), TOKENS)  # fmt: skip
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
