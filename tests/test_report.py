"""The report's readers on small files: what each part of a dataset's section is built from."""

import json

import numpy as np
import pandas as pd
import pytest
from conftest import write_run

from sentiflow.analysis.runs import RunSet
from sentiflow.report.collect import data_section, llm_section, setup
from sentiflow.report.figures import FIGURE_NAMES
from sentiflow.report.inputs import DatasetInputs, LLMFiles, ReportInputError
from sentiflow.report.settings import ReportSettings


def test_a_runset_without_an_expected_list_holds_every_run_given(tmp_path):
    gold = np.array([0, 1, 1])
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    paths = [
        write_run(tmp_path / name / f"seed{seed}", name, seed, [probs], gold)
        for name, seed in (("b", 2), ("a", 1), ("b", 1))
    ]
    runs = RunSet.load(paths)
    # Groups in the order first given, each its seeds in the order given; nothing is missing.
    assert list(runs.groups) == ["b", "a"] and runs.groups["b"].seeds == [2, 1] and runs.missing == []
    assert runs.runs[0].history["epoch_seconds"].tolist() == [11.0]
    assert RunSet.load([]).runs == []  # nothing finished yet: an empty set, not an error


def test_truncation_is_named_by_the_backbone_key_not_the_file(tmp_path):
    stats = {
        "max_length": 64,
        "splits": {"train": {"rows": 10, "truncated": 2}, "validation": {"rows": 4, "truncated": 0}},
    }
    (tmp_path / "any-name.json").write_text(json.dumps(stats))
    card = {"labels": ["neg", "pos"], "splits": {}, "validation_in_train": 1}
    section = data_section(card, {"minilm": tmp_path / "any-name.json"})
    assert section["truncation"] == [
        {"backbone": "minilm", "split": "train", "max_length": 64, "rows": 10, "truncated": 2},
        {"backbone": "minilm", "split": "validation", "max_length": 64, "rows": 4, "truncated": 0},
    ]
    assert section["cleaning"] == {"steps": [], "texts_changed": {}}  # a card written before cleaning existed


def _llm_entry(folder, name: str, table: pd.DataFrame, error_accuracy: float) -> LLMFiles:
    folder.mkdir()
    table.to_csv(folder / "predictions.csv", index=False)
    summary = {"groups": {"error": {"llm_accuracy": error_accuracy}}, "validation_llm_accuracy": 0.7,
               "backbones": {"m": {"llm_fixes": 1}}}  # fmt: skip
    (folder / "summary.json").write_text(json.dumps(summary))
    return LLMFiles(summary=folder / "summary.json", table=folder / "predictions.csv")


def test_llm_entries_and_their_hard_cases(tmp_path):
    rows = {"index": [3, 5, 8, 9], "group": ["error", "error", "control", "error"], "sentence": ["a", "b", "c", "d"],
            "gold": ["pos", "neg", "pos", "neg"], "llm_predicted": ["pos", "pos", "pos", "neg"],
            "llm_prob_pos": [0.9, 0.6, 0.8, 0.1], "llm_prob_neg": [0.1, 0.4, 0.2, 0.9], "m_predicted": ["neg", "neg", "pos", "pos"]}  # fmt: skip
    first = pd.DataFrame(rows).assign(llm_correct=lambda t: t["llm_predicted"] == t["gold"])
    second = first[first["index"] != 5].assign(llm_predicted="neg", llm_prob_pos=0.3, llm_prob_neg=0.7)
    second = second.assign(llm_correct=second["gold"] == "neg")
    files = {
        "one": _llm_entry(tmp_path / "one", "one", first, 0.5),
        "two": _llm_entry(tmp_path / "two", "two", second, 0.25),
    }
    section = llm_section(files, ["one", "broken", "two"], top_errors=2, confirmed={3, 9})
    assert [e["name"] for e in section["llm"]] == ["one", "two"] and section["llm_missing"] == ["broken"]
    assert section["llm"][1]["errors_accuracy"] == 0.25 and section["llm"][1]["control_accuracy"] is None
    assert section["llm"][0]["stem"] == "cascade-one" and section["llm"][0]["cascade"] is None
    # The first entry's first two errors, each with every entry's answer and probability of the gold label.
    cases = section["llm_hard_cases"]
    assert [c["index"] for c in cases] == [3, 5] and cases[0]["texts"] == ["a"]
    assert cases[0]["llm"] == {"one": ("pos", 0.9), "two": ("neg", 0.3)}
    assert cases[1]["llm"] == {"one": ("pos", 0.4), "two": ("–", None)}  # the second entry never saw sentence 5
    # Fixes and breaks again on the confirmed label issues 3 and 9, which the encoder gets wrong: the first entry
    # answers both like gold, the second only 9; the summary's own counts stay.
    counts = [e["summary"]["backbones"]["m"] for e in section["llm"]]
    assert [(c["encoder_wrong_items_on_label_issues"], c["llm_fixes_on_label_issues"]) for c in counts] == [
        (2, 2),
        (2, 1),
    ]
    assert all(c["encoder_right_items_on_label_issues"] == c["llm_breaks_on_label_issues"] == 0 for c in counts)
    assert counts[0]["llm_fixes"] == 1
    assert llm_section({}, ["one"], top_errors=2, confirmed=set()) == {
        "llm": [],
        "llm_missing": ["one"],
        "llm_hard_cases": [],
    }


def dataset_files(folder) -> dict:
    names = ["summary", "per_class", "data_card", "calibration", "misclassified", "overconfidence", "failure_modes",
             "shortcut_words", "word_groups", "label_issues", "label_summary", "why"]  # fmt: skip
    figures = {name: {"png": folder / f"{name}.png", "pdf": folder / f"{name}.pdf"} for name in FIGURE_NAMES}
    return {"name": "sst2", "token_stats": {"minilm": folder / "minilm.json"}, "figures": figures, "runs": [],
            "attribution": [], "llm": {"smollm2": {"summary": folder / "s.json", "table": folder / "t.csv"}},
            "slices": {"table": folder / "slices.csv", "summary": folder / "slices.json"}} | {
            name: folder / name for name in names}  # fmt: skip


def test_dataset_inputs_are_checked_and_list_every_file(tmp_path):
    inputs = DatasetInputs.from_dict(dataset_files(tmp_path))
    assert inputs.llm["smollm2"].cascade_pdf is None and inputs.figures["confusion"].pdf == tmp_path / "confusion.pdf"
    paths = inputs.paths()
    assert len(paths) == 12 + 1 + 2 * len(FIGURE_NAMES) + 2 + 2 and len(set(paths)) == len(paths)
    off = DatasetInputs.from_dict(dataset_files(tmp_path) | {"slices": None})  # analysis.slices.enabled: false
    assert off.slices is None and len(off.paths()) == len(paths) - 2
    missing = dataset_files(tmp_path)
    del missing["figures"]["reliability"]
    with pytest.raises(ReportInputError, match="figures of dataset sst2 lack reliability"):
        DatasetInputs.from_dict(missing)
    del missing["why"], missing["figures"]
    with pytest.raises(ReportInputError, match="inputs of dataset sst2 lack why, figures"):
        DatasetInputs.from_dict(missing)
    # The behavioural tests' files where they ran: all seven listed; none where they did not (the default).
    names = ["failure_rates", "comparisons", "association", "failing_cases", "summary", "png", "pdf"]
    tested = DatasetInputs.from_dict(dataset_files(tmp_path) | {"behaviour": {n: tmp_path / f"b-{n}" for n in names}})
    assert set(tested.paths()) - set(paths) == {tmp_path / f"b-{n}" for n in names} and inputs.behaviour is None
    with pytest.raises(ReportInputError, match="sst2 behavioural tests lack pdf"):
        DatasetInputs.from_dict(dataset_files(tmp_path) | {"behaviour": {n: tmp_path / n for n in names[:-1]}})
    unknown = dataset_files(tmp_path)
    unknown["llm"]["smollm2"]["cascade_points"] = tmp_path / "p.csv"
    with pytest.raises(ReportInputError, match=r"sst2 LLM entry smollm2: unknown input\(s\) cascade_points"):
        DatasetInputs.from_dict(unknown)


def test_the_setup_tables_show_every_setting_as_a_dotted_key(tmp_path):
    settings = ReportSettings.from_dict(
        {
            "title": "t",
            "top_errors": 25,
            "attributed_errors": 12,
            "failing_cases": 3,
            "shortcut_words": 5,
            "bootstrap": {},
            "training": {"epochs": 3, "fast": {"precision": "bf16", "compile": False}, "loop": "fast"},
            "variants": [["base", {}], ["lr-1e-4", {"learning_rate": 1e-4}]],
            "llm_enabled": False,
            "stages": {"attribution": True, "attribution_variants": None, "label_issues": True, "behaviour": True},
            "datasets": {"sst2": {"holdout_rows": 300}},
        }
    )
    assert settings.datasets["sst2"].holdout_rows == 300 and settings.datasets["sst2"].reference == {}
    tables = setup(settings)
    assert tables["hyperparameters"] == [
        (("epochs", 3), ("fast.compile", False)),
        (("fast.precision", "bf16"), ("loop", "fast")),
    ]
    assert tables["variants"] == [
        {"name": "base", "changes": "the settings above"},
        {"name": "lr-1e-4", "changes": "learning_rate=0.0001"},
    ]
    with pytest.raises(ValueError, match="the report's settings lack 'training'"):
        ReportSettings.from_dict(
            {"title": "t", "top_errors": 25, "attributed_errors": 12, "failing_cases": 3, "shortcut_words": 5,
             "bootstrap": {}}
        )  # fmt: skip
