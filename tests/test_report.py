"""The report's readers on small files: what each part of a dataset's section is built from."""

import json
from dataclasses import asdict

import numpy as np
import pandas as pd
import pytest
from conftest import write_run

from sentiflow.analysis.runs import RunSet
from sentiflow.report import sections
from sentiflow.report.collect import data_section, setup
from sentiflow.report.figures import FIGURE_NAMES
from sentiflow.report.inputs import DatasetInputs, ReportInputError
from sentiflow.report.llm import LLMFiles, llm_section
from sentiflow.report.sections import dataset_inputs
from sentiflow.report.settings import ReportSettings
from sentiflow.report.slices import COLUMNS as SLICE_COLUMNS


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
    # All three errors to explore (the first two shown when the page opens), each answer in a column of its own.
    table = section["llm_hard_explore"]
    assert [c["label"] for c in table["columns"]] == ["index", "sentence", "gold", "m", "one", "one p(gold)", "two",
                                                      "two p(gold)"]  # fmt: skip
    assert table["rows"] == [[3, ["a"], "pos", "neg", "pos", 0.9, "neg", 0.3], [5, ["b"], "neg", "neg", "pos", 0.4, "–", None],
                             [9, ["d"], "neg", "pos", "neg", 0.9, "neg", 0.7]]  # fmt: skip
    assert (table["id"], table["shown"], table["total"]) == ("-llm-hard", 2, 3)
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
        "llm_hard_explore": None,
    }


def dataset_files(folder) -> dict:
    names = ["summary", "per_class", "data_card", "calibration", "misclassified", "overconfidence", "failure_modes",
             "label_issues", "label_summary"]  # fmt: skip
    figures = {name: {"png": folder / f"{name}.png", "pdf": folder / f"{name}.pdf"} for name in FIGURE_NAMES}
    why = {"summary": folder / "why.json", "shortcut_words": folder / "words.csv", "word_groups": folder / "groups.csv",
           "attribution": []}  # fmt: skip
    return {"name": "sst2", "token_stats": {"minilm": folder / "minilm.json"}, "figures": figures, "runs": [],
            "why": why, "llm": {"smollm2": {"summary": folder / "s.json", "table": folder / "t.csv"}},
            "slices": {"table": folder / "slices.csv", "summary": folder / "slices.json"}, "behaviour": None,
            "peer_suites": {},
            "findings": {"summary": folder / "findings.json", "table": folder / "findings.csv"}} | {
            name: folder / name for name in names}  # fmt: skip


def test_dataset_inputs_are_checked_and_list_every_file(tmp_path):
    inputs = dataset_inputs(dataset_files(tmp_path))
    assert inputs.sections["llm"]["smollm2"].cascade_pdf is None
    assert inputs.figures["confusion"].pdf == tmp_path / "confusion.pdf"
    paths = inputs.paths()
    assert len(paths) == 9 + 1 + 2 * len(FIGURE_NAMES) + 3 + 2 + 2 + 2 and len(set(paths)) == len(paths)
    off = dataset_inputs(dataset_files(tmp_path) | {"slices": None})  # analysis.slices.enabled: false
    assert off.sections["slices"] is None and len(off.paths()) == len(paths) - 2
    missing = dataset_files(tmp_path)
    del missing["figures"]["reliability"]
    with pytest.raises(ReportInputError, match="figures of dataset sst2 lack reliability"):
        dataset_inputs(missing)
    # A registered section's key is never left out: None, [] or {} says it has no files.
    del missing["label_summary"], missing["figures"], missing["behaviour"]
    with pytest.raises(ReportInputError, match="inputs of dataset sst2 lack label_summary, figures, behaviour"):
        dataset_inputs(missing)
    # The behavioural tests' files where they ran: all seven listed; none where they did not.
    names = ["failure_rates", "comparisons", "association", "failing_cases", "summary", "png", "pdf"]
    tested = dataset_inputs(dataset_files(tmp_path) | {"behaviour": {n: tmp_path / f"b-{n}" for n in names}})
    assert set(tested.paths()) - set(paths) == {tmp_path / f"b-{n}" for n in names}
    assert inputs.sections["behaviour"] is None
    with pytest.raises(ReportInputError, match="dataset sst2, behaviour lack pdf"):
        dataset_inputs(dataset_files(tmp_path) | {"behaviour": {n: tmp_path / n for n in names[:-1]}})
    # A peer's suite the dataset answers: its rates and summary, per suite.
    peer = {"checklist": {"failure_rates": tmp_path / "p.csv", "summary": tmp_path / "p.json"}}
    answered = dataset_inputs(dataset_files(tmp_path) | {"peer_suites": peer})
    assert set(answered.paths()) - set(paths) == {tmp_path / "p.csv", tmp_path / "p.json"}
    unknown = dataset_files(tmp_path)
    unknown["llm"]["smollm2"]["cascade_points"] = tmp_path / "p.csv"
    with pytest.raises(ReportInputError, match=r"dataset sst2, llm smollm2: unknown input\(s\) cascade_points"):
        dataset_inputs(unknown)
    # A run group's attribution inside the "why" section: each of its four files named.
    grouped = dataset_files(tmp_path)
    grouped["why"]["attribution"] = [{"summary": "a.json", "words": "w.parquet", "sentences": "s.csv"}]
    with pytest.raises(ReportInputError, match=r"dataset sst2, why attribution \[0\] lack deletion"):
        dataset_inputs(grouped)
    with pytest.raises(ReportInputError, match=r"dataset sst2, runs: expected list, got 'metadata\.json'"):
        dataset_inputs(dataset_files(tmp_path) | {"runs": "metadata.json"})


def test_every_section_figure_is_found_by_its_stem(tmp_path):
    """The plots, then each registered section's figures: the cascades of the entries that ran one, then the
    behavioural tests' figure; the HTML page embeds them and the LaTeX document's folder gets them by these stems."""
    given = dataset_files(tmp_path)
    given["llm"]["q/1.5b"] = given["llm"]["smollm2"] | {"cascade_summary": tmp_path / "c.json",
                                                         "cascade_png": tmp_path / "c.png", "cascade_pdf": tmp_path / "c.pdf"}  # fmt: skip
    names = ["failure_rates", "comparisons", "association", "failing_cases", "summary", "png", "pdf"]
    given["behaviour"] = {n: tmp_path / f"b-{n}" for n in names}
    shown = sections.figures(dataset_inputs(given))
    assert list(shown) == [*FIGURE_NAMES, "cascade-q-1-5b", "behaviour"]
    assert shown["cascade-q-1-5b"].pdf == tmp_path / "c.pdf" and shown["behaviour"].png == tmp_path / "b-png"
    assert list(sections.figures(dataset_inputs(dataset_files(tmp_path)))) == list(FIGURE_NAMES)


def test_a_sections_reader_gives_its_part_of_the_context_and_its_place_is_checked(tmp_path):
    """A section adds its keys to a dataset's context from its own files (the slices: also where they are off); a
    section must name a place the documents include sections at."""
    (tmp_path / "slices.json").write_text(json.dumps({"settings": {"top": 2, "folds": 2}, "features": ["length"],
                                                      "groups": {}}))  # fmt: skip
    pd.DataFrame(columns=["backbone", "fit_excess_errors", "above_heldout_rate", "found_by_folds"]).to_csv(
        tmp_path / "slices.csv", index=False
    )
    slices_only = DatasetInputs.from_dict(
        {
            key: value
            for key, value in dataset_files(tmp_path).items()
            if key not in ("why", "llm", "behaviour", "peer_suites", "findings")
        },
        {"slices": next(s.files for s in sections.SECTIONS if s.key == "slices")},
    )
    slices = next(s for s in sections.SECTIONS if s.key == "slices")
    read = slices.read(slices_only.sections["slices"], slices_only, None)["slices"]
    assert read.pop("explore") == {
        "id": "sst2-slices",
        "columns": [asdict(c) for c in SLICE_COLUMNS],
        "rows": [],
        "shown": 0,
        "total": 0,
        "empty": "No row.",
    }
    assert read == {"enabled": True, "groups": [], "settings": {"top": 2, "folds": 2}, "features": ["length"]}
    assert slices.read(None, slices_only, None) == {"slices": {"enabled": False, "groups": []}}
    with pytest.raises(ValueError, match="place 'appendix' is none of top, failure_modes, errors, calibration"):
        sections.Section("appendix", slices.files, slices.read, place="appendix")


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
