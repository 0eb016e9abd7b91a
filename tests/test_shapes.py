"""Every shape of study finishes with a report: the workflow run through `all` on tiny random models and tens of
sentences, in the shapes a new user's first config takes, each to an HTML and a LaTeX report that compiles.

A global switch (`llm.enabled`, `analysis.attribution.enabled`, `analysis.slices.enabled`, `behaviour.enabled`,
`analysis.label_issues.enabled`, `llm.cascade.enabled`) needs a Snakemake run of its own; per-dataset settings
(backbones, variants, seeds, LLM entries, witnesses, behaviour) combine within a run. So a few studies cover them:

- `first-study`: the issue's new user: one backbone, one recipe, two seeds, the LLM stage off, all else on, and a
  peer's suite of the user's own (a JSON Lines file of an MFT and an INV test) beside the behavioural tests.
- `bare`: a sentence-pair dataset alone, one backbone, variant and seed; LLM, attribution, slices and label issues
  off; its one behavioural test (a name swap) finds no name to swap: a suite without a case; the peer's suite does
  not apply to entailment, and the report says so.
- `five-classes`: a five-class dataset alone, one backbone, variant and seed, the LLM on with a witness, the cascade
  and the behavioural tests off.
- `mixed`: two datasets of different kinds, the LLM on: single texts with two backbones, two variants, a holdout
  and a witness, slices fitted; beside it sentence pairs with eight validation pairs (too few errors for a slice),
  no witness and its behavioural tests off.

The studies run at once, one Snakemake process each: one core for the small ones, two for `mixed`, which costs
as much as the other three together and so has the machine to itself once they finish.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import FILLER, NEGATIVE, POSITIVE, SHARED, SNAKEMAKE, build_tiny_backbone, require

pytestmark = [pytest.mark.e2e, pytest.mark.shapes]

GGUF = SHARED / "models" / "smollm2-135m-instruct" / "smollm2-135m-instruct-q4_1.gguf"
FIVE = ["very negative", "negative", "neutral", "positive", "very positive"]
PAIR_LABELS = ["entailment", "not_entailment"]


def sentence(rng: random.Random, polarity: int) -> str:
    """A toy review sentence: fillers and `polarity` sentiment words (negative for < 0), now and then a cue."""
    words = rng.sample(FILLER, 4) + [rng.choice(POSITIVE if polarity > 0 else NEGATIVE) for _ in range(abs(polarity))]
    rng.shuffle(words)
    cue = rng.random()
    if cue < 0.15:
        words.insert(rng.randrange(len(words)), "not")
    elif cue < 0.3:
        words += ["but", rng.choice(POSITIVE + NEGATIVE)]
    return " ".join(words)


def single_texts(n: int, seed: int, labels: list[str]) -> pd.DataFrame:
    """Sentences whose label is their sentiment words' count and sign: two labels (one word) or five (0-2 words)."""
    rng = random.Random(seed)
    polarity = [-1, 1] if len(labels) == 2 else [-2, -1, 0, 1, 2]
    rows = [(k := rng.randrange(len(labels)), sentence(rng, polarity[k])) for _ in range(n)]
    return pd.DataFrame({"sentence": [text for _, text in rows], "label": [k for k, _ in rows]})


def sentence_pairs(n: int, seed: int) -> pd.DataFrame:
    """Pairs whose second text entails the first when their sentiment words agree."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        first, label = rng.choice([-1, 1]), rng.randrange(2)
        second = first if label == 0 else -first
        rows.append((sentence(rng, first), sentence(rng, second), label))
    return pd.DataFrame(rows, columns=["sentence1", "sentence2", "label"])


def write_tsv(frame: pd.DataFrame, path: Path) -> str:
    frame.to_csv(path, sep="\t", index=False)
    return str(path)


def dataset(folder: Path, kind: str, train: int, validation: int, **settings) -> dict:
    """A `files` dataset of `kind` (binary, five or pairs) with its TSVs written into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    if kind == "pairs":
        frames = sentence_pairs(train, 1), sentence_pairs(validation, 2)
        spec = {"text_columns": ["sentence1", "sentence2"], "labels": PAIR_LABELS, "llm_tags": []}
        spec["prompt"] = {
            "instruction": "Does the first sentence entail the second?\n\nSentence 1: {sentence1}\n"
            "Sentence 2: {sentence2}\n\nAnswer with one word: yes or no.",
            "verbalizers": {"entailment": ["yes"], "not_entailment": ["no"]},
        }
    else:
        labels = FIVE if kind == "five" else ["negative", "positive"]
        frames = single_texts(train, 1, labels), single_texts(validation, 2, labels)
        spec = {"text_column": "sentence", "labels": labels}
        if kind == "five":
            spec["llm_tags"] = []
            spec["prompt"] = {
                "instruction": "How positive is this sentence?\n\nSentence: {sentence}\n\nAnswer with one of: "
                + ", ".join(FIVE) + ".",
                "verbalizers": {label: [label] for label in FIVE},
            }  # fmt: skip
    files = {split: write_tsv(frame, folder / f"{split}.tsv") for split, frame in zip(("train", "dev"), frames)}
    paths = {"train": files["train"], "validation": files["dev"]}
    return {"source": "files", "files": paths, "label_column": "label"} | spec | settings


def study(models: dict[str, Path], datasets: dict, with_llm: bool, **changes) -> dict:
    """A config laid over config/config.yaml: the given datasets, the tiny backbones, one cheap epoch, small
    bootstraps and suites; `with_llm`: the 135M GGUF asked about a few sentences on one thread."""
    config = {
        "datasets": datasets,
        "backbones": {name: {"model": str(path)} for name, path in models.items()},
        "seeds": [1],
        "variants": {"base": {}, "lr-1e-3": {"learning_rate": 1.0e-3}},
        "training": {"epochs": 1, "threads": 1, "gpus_per_run": 0, "max_length": 32, "train_batch_size": 16},
        "analysis": {
            "bootstrap": {"samples": 200},
            "attribution": {"sentences": 2, "steps": 8, "max_steps": 16},
            "label_issues": {"witness_sentences": 8},
        },
        "llm": {"enabled": False},
        "behaviour": {"max_cases": 4, "llm_cases": 4},
        "report": {"title": "A shape of study", "pdf": "auto"},
    }
    if with_llm:
        entry = {"path": str(GGUF), "n_ctx": 512}
        config["llm"] = {"enabled": True, "models": {"smollm2": entry}, "threads": 1, "items": {"max_errors": 3},
                         "cascade": {"sentences": 20}}  # fmt: skip
    for section, values in changes.items():
        config[section] = _merged(config.get(section, {}), values)
    return config


def _merged(base, change):
    if isinstance(base, dict) and isinstance(change, dict):
        return {key: _merged(base.get(key), value) for key, value in change.items()} | {
            key: value for key, value in base.items() if key not in change
        }
    return change


def own_suite(folder: Path) -> dict:
    """A user's own peer suite (`behaviour.suites`): an MFT test with a label or "not negative", an INV test."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(3)
    cases = [{"test": "words", "type": "MFT", "capability": "Vocabulary", "texts": [word], "label": 2}
             for word in POSITIVE[:5]]  # fmt: skip
    cases += [{"test": "words", "type": "MFT", "capability": "Vocabulary", "texts": [f"not {word}"],
               "expect": "not_negative"} for word in NEGATIVE[:5]]  # fmt: skip
    cases += [{"test": "fillers", "type": "INV", "capability": "Robustness",
               "texts": [(text := sentence(rng, 1)), f"{text} {rng.choice(FILLER)}"]} for _ in range(6)]  # fmt: skip
    path = folder / "own-suite.jsonl"
    path.write_text("".join(json.dumps(case) + "\n" for case in cases))
    return {"own": {"path": str(path), "title": "An own suite", "cases": 4, "llm_cases": 4}}


def study_config(shape: str, root: Path, tiny: Path, electra: Path) -> dict:
    """The config of `shape`, its data written under `root`."""
    one = {"backbones": ["tiny"], "variants": ["base"]}
    if shape == "first-study":
        reviews = dataset(root / "reviews", "binary", 60, 40, seeds=[1, 2], **one)
        return study({"tiny": tiny}, {"reviews": reviews}, with_llm=False, behaviour={"suites": own_suite(root)})
    off = {"enabled": False}
    if shape == "bare":
        pairs = dataset(root / "pairs", "pairs", 40, 20, behaviour={"tests": ["name_swap"]}, **one)
        return study({"tiny": tiny}, {"pairs": pairs}, with_llm=False, behaviour={"suites": own_suite(root)},
                     analysis={"attribution": off, "slices": off, "label_issues": off})  # fmt: skip
    if shape == "five-classes":
        five = dataset(root / "five", "five", 60, 30, **one)
        return study({"tiny": tiny}, {"sst5-like": five}, with_llm=True, llm={"cascade": off}, behaviour=off)
    assert shape == "mixed", shape
    reviews = dataset(root / "reviews", "binary", 60, 40, holdout_rows=12)
    pairs = dataset(root / "pairs", "pairs", 40, 8, label_witnesses=[], behaviour=off, **one)
    return study({"tiny": tiny, "electra": electra}, {"reviews": reviews, "pairs": pairs}, with_llm=True,
                 analysis={"slices": {"min_leaf": 3}, "attribution": {"variants": ["base"]}})  # fmt: skip


# What each shape's report must say is absent, and why, in both reports.
ABSENT = {
    "first-study": [
        "The LLM comparison is disabled in this configuration",
        "No comparison: one run group and no LLM entry",
        "One backbone only on this dataset",
        "One variant of the recipe on this dataset",
    ],
    "bare": [
        "The LLM comparison is disabled in this configuration",
        "Word attributions are off in this configuration",
        "Slices are off in this configuration",
        "Label issues are off in this configuration",
        "The behavioural suite has no case on this dataset: its tests (name_swap) matched no validation sentence",
        "An own suite is not run on this dataset: it tests sentiment, and no label of this dataset (entailment, "
        "not_entailment) has a negative or positive polarity",
    ],
    "five-classes": ["The cascade is off in this configuration", "Behavioural tests are off in this configuration"],
    "mixed": [
        "none confirmed because no witness is configured for this dataset",
        "too few errors",
        "Behavioural tests are off on this dataset",
    ],
}
SHAPES = list(ABSENT)


LLM_SHAPES = {"five-classes", "mixed"}
CORES = {"mixed": 2}


@dataclass
class Finished:
    workdir: Path
    returncode: int
    seconds: float
    output: str


def selected_shapes(request) -> list[str]:
    """The shapes the session's selected tests ask for, so that `-k` runs only what it needs."""
    wanted = set()
    for item in request.session.items:
        callspec = getattr(item, "callspec", None)
        if item.module.__name__ == __name__ and callspec and "shape" in callspec.params:
            wanted.add(callspec.params["shape"])
    return sorted(wanted)


@pytest.fixture(scope="module")
def shape_runs(request, tiny_bert, tmp_path_factory) -> dict[str, Finished]:
    """Every selected shape through `all`, all at once."""
    root = tmp_path_factory.mktemp("shapes")
    electra = build_tiny_backbone("electra", root / "tiny-electra")
    running, finished = {}, {}
    try:
        for name in selected_shapes(request):
            if name in LLM_SHAPES and not GGUF.exists():
                continue  # its tests skip with the reason
            workdir = root / name
            workdir.mkdir()
            config = study_config(name, root / "data" / name, tiny_bert, electra)
            (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
            cores = str(CORES.get(name, 1))
            command = SNAKEMAKE + [
                "--cores",
                cores,
                "--directory",
                str(workdir),
                "--configfile",
                str(workdir / "config.yaml"),
            ]
            with (workdir / "snakemake.out").open("w") as log:
                running[name] = (subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT), time.monotonic())
        while running:
            for name, (process, start) in list(running.items()):
                # wait4's usage counts the process and the jobs it waited for: the CPU time the shape costs.
                pid, status, usage = os.wait4(process.pid, os.WNOHANG)
                if pid == 0:
                    continue
                process.returncode = os.waitstatus_to_exitcode(status)
                del running[name]
                workdir = root / name
                finished[name] = Finished(workdir, process.returncode, time.monotonic() - start,
                                          (workdir / "snakemake.out").read_text())  # fmt: skip
                cpu = usage.ru_utime + usage.ru_stime
                print(f"shape {name}: {finished[name].seconds:.0f} s wall, {cpu:.0f} s CPU, exit {process.returncode}")
            time.sleep(0.5)
    finally:  # interrupted: no study keeps running behind the session
        for process, _ in running.values():
            process.terminate()
            process.wait()
    return finished


def shape_run(shape_runs, shape: str) -> Finished:
    if shape in LLM_SHAPES:
        require(GGUF)
    run = shape_runs[shape]
    assert run.returncode == 0, f"shape {shape}: snakemake failed ({run.returncode}):\n{run.output[-6000:]}"
    return run


@pytest.mark.parametrize("shape", SHAPES)
def test_every_shape_ends_in_both_reports(shape_runs, shape):
    run = shape_run(shape_runs, shape)
    config = yaml.safe_load((run.workdir / "config.yaml").read_text())
    html = (run.workdir / "results/report/report.html").read_text()
    tex = (run.workdir / "results/report/latex/report.tex").read_text()
    for name in config["datasets"]:
        assert f'id="{name}"' in html and f"Dataset {name}" in tex
    if shutil.which("pdflatex") and shutil.which("pdftotext"):
        pdf = run.workdir / "results/report/latex/report.pdf"
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        assert all(f"Dataset {name}" in text for name in config["datasets"])


@pytest.mark.parametrize("shape", SHAPES)
def test_every_table_has_its_header(shape_runs, shape):
    """Never a 1-byte file: every CSV the workflow wrote names its columns, empty or not."""
    run = shape_run(shape_runs, shape)
    tables = sorted((run.workdir / "results").rglob("*.csv"))
    assert len(tables) > 10
    for path in tables:
        assert len(pd.read_csv(path, nrows=0).columns) > 0, path
    for path in (run.workdir / "results").rglob("*.parquet"):
        assert len(pd.read_parquet(path).columns) > 0, path


@pytest.mark.parametrize("shape", SHAPES)
def test_the_report_says_what_is_absent_and_why(shape_runs, shape):
    run = shape_run(shape_runs, shape)
    html = (run.workdir / "results/report/report.html").read_text()
    tex = (run.workdir / "results/report/latex/report.tex").read_text()
    tex = tex.replace(r"\_\allowbreak{}", "_")  # as latex_escape writes an underscore
    for words in ABSENT[shape]:
        assert words in html, words
        assert words in tex, words


@pytest.mark.parametrize("shape", ["first-study"])  # the shapes a session runs are those its tests name
def test_a_users_own_suite_is_answered_and_shown_in_both_reports(shape_runs, shape):
    run = shape_run(shape_runs, shape)
    rates = pd.read_csv(run.workdir / "results/reviews/suites/own/failure_rates.csv", dtype={"seed": str})
    over_seeds = rates[rates["seed"] == "all"]
    assert over_seeds[["test", "capability", "model", "seeds", "cases"]].values.tolist() == [
        ["words", "Vocabulary", "tiny", 2, 4],
        ["fillers", "Robustness", "tiny", 2, 4],
    ]
    html = (run.workdir / "results/report/report.html").read_text()
    tex = (run.workdir / "results/report/latex/report.tex").read_text()
    assert "A peer's suite: An own suite" in html and r"\subsection{A peer's suite: An own suite}" in tex


# Per shape and dataset, findings whose evidence the shape leaves out: not measured, with the setting that does.
UNMEASURED = {
    "first-study": {"reviews": {"llm/validation": "llm.enabled: false", "cascade": "llm.enabled: false",
                                "backbones": "one backbone", "variants": "one variant"}},
    "bare": {"pairs": {"label_issues": "analysis.label_issues.enabled: false",
                       "failure_mode/negation_contrast/tiny": "the behavioural suite has no case on this dataset"}},
    "five-classes": {"sst5-like": {"cascade": "llm.cascade.enabled: false",
                                   "failure_mode/shortcuts/tiny": "no behavioural test ran (behaviour.enabled: false)",
                                   "llm/behaviour": "behaviour.enabled: false"}},
    "mixed": {"pairs": {"failure_mode/mixed_tone/tiny": "datasets.pairs.behaviour.enabled: false"}},
}  # fmt: skip


@pytest.mark.parametrize("shape", SHAPES)
def test_every_shape_writes_its_findings(shape_runs, shape):
    """Every shape answers what it can; what it leaves out is not measured, with the reason, never a crash."""
    run = shape_run(shape_runs, shape)
    config = yaml.safe_load((run.workdir / "config.yaml").read_text())
    html = (run.workdir / "results/report/report.html").read_text()
    for name in config["datasets"]:
        table = pd.read_csv(run.workdir / f"results/{name}/findings.csv").set_index("id")
        assert {"accuracy/tiny", "label_issues", "calibration/tiny"} <= set(table.index)
        assert any(id.startswith("backbones") for id in table.index)  # a pair each, or one row: one backbone
        assert table["verdict"].notna().all() and table.loc[table["verdict"] == "not measured", "reason"].notna().all()
        for id, reason in UNMEASURED.get(shape, {}).get(name, {}).items():
            assert table.loc[id, "verdict"] == "not measured" and reason in table.loc[id, "reason"], (id, table.loc[id])
        assert f'id="findings-{name}"' in html
