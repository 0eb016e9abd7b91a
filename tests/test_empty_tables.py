"""Every table has its header even when it has no row, every reader accepts such a table, and the report says in
words why a part is absent: on hand-made stage outputs, in the shapes that leave them empty."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from behaviour_files import SST2, study_files, summary_outputs, write_suite
from conftest import REPO

from sentiflow.atomic import EmptyTableError, write_csv, write_parquet
from sentiflow.behaviour.statistics import COMPARISON_COLUMNS, RATE_COLUMNS
from sentiflow.behaviour.summary import run_summary
from sentiflow.report import absent, behaviour
from sentiflow.report.behaviour import BehaviourFiles
from sentiflow.report.settings import ReportSettings
from sentiflow.report.tables import records

CONFIDENCE = 0.95


def documented_columns(path: str) -> set[str]:
    """The names in backticks in docs/outputs.md's row of `path`: its columns (and some of their values)."""
    text = (REPO / "docs" / "outputs.md").read_text()
    row = re.search(rf"^\| `{re.escape(path)}` \|(.*)$", text, flags=re.M).group(1)
    return set(re.findall(r"`([^`]+)`", row))


@pytest.mark.parametrize("write", [write_csv, write_parquet])
def test_a_table_without_columns_is_refused_and_nothing_is_written(tmp_path, write):
    path = tmp_path / "table.out"
    with pytest.raises(EmptyTableError, match=f"{path}: the table to write has no columns"):
        write(path, pd.DataFrame([]))
    assert list(tmp_path.iterdir()) == []
    write(path, pd.DataFrame(columns=["a", "b"]))  # no row, its header: written, and read back as such
    read = pd.read_csv(path) if write is write_csv else pd.read_parquet(path)
    assert list(read.columns) == ["a", "b"] and read.empty
    assert records(path) == [] if write is write_csv else True


def one_group_no_llm(folder) -> dict:
    """The hand-made study of behaviour_files with its first run group alone and no LLM entry: nothing to compare."""
    files = study_files(folder)
    return files | {"encoders": files["encoders"][:1], "llms": []}


def test_one_run_group_and_no_llm_compare_nothing_and_the_report_says_why(tmp_path):
    outputs = summary_outputs(tmp_path / "out")
    run_summary(**one_group_no_llm(tmp_path / "in"), labels=SST2, confidence=CONFIDENCE, outputs=outputs)
    header = pd.read_csv(outputs["comparisons"])
    assert list(header.columns) == COMPARISON_COLUMNS and header.empty
    assert set(COMPARISON_COLUMNS) <= documented_columns("results/{dataset}/behaviour/comparisons.csv")
    section = behaviour.collect(BehaviourFiles(**outputs), failing_cases=2)
    assert section["comparisons"] == [] and len(section["rates"]) == 2  # two tests, one model
    assert str(absent.comparisons_note(section)) == "No comparison: one run group and no LLM entry"
    # With both run groups (a variant and its base recipe) there is a comparison, and no note.
    outputs = summary_outputs(tmp_path / "two")
    run_summary(**(study_files(tmp_path / "in2") | {"llms": []}), labels=SST2, confidence=CONFIDENCE, outputs=outputs)
    section = behaviour.collect(BehaviourFiles(**outputs), failing_cases=2)
    assert {c["comparison"] for c in section["comparisons"]} == {"variant"}
    assert absent.comparisons_note(section) is None


def test_a_suite_without_a_case_writes_every_table_with_its_header(tmp_path):
    """A selected test that matches no sentence (a name swap on texts without names) makes an empty suite: every
    table of the behaviour_summary rule keeps its header, and the report reads them."""
    files = one_group_no_llm(tmp_path / "in")
    write_suite(files["suite"], [])
    # The behaviour_encoder rule's table of no case (sentiflow.behaviour.score.probability_table).
    pd.DataFrame(columns=["case", "item", "seed", "prob_0", "prob_1"]).to_parquet(files["encoders"][0].scores)
    outputs = summary_outputs(tmp_path / "out")
    summary = run_summary(**files, labels=SST2, confidence=CONFIDENCE, outputs=outputs)
    assert summary["cases"] == 0 and summary["tests"] == []
    for name in ("failure_rates", "comparisons", "association", "failing_cases"):
        table = pd.read_csv(outputs[name])
        assert table.empty and len(table.columns) > 3, name
        assert set(table.columns) <= documented_columns(f"results/{{dataset}}/behaviour/{name}.csv"), name
    assert list(pd.read_csv(outputs["failure_rates"]).columns) == [*RATE_COLUMNS, "can_fail"]
    assert outputs["png"].stat().st_size > 0 and outputs["pdf"].stat().st_size > 0
    section = behaviour.collect(BehaviourFiles(**outputs), failing_cases=2)
    assert section["rates"] == section["comparisons"] == section["association"] == section["failing"] == []
    assert absent.comparisons_note(section) is None  # no case at all: said once, by the suite's note below
    dataset = settings({"llm_models": [], "behaviour_tests": ["name_swap"]}).datasets["d"]
    note = absent.behaviour_note("d", section, dataset, enabled=True)
    assert str(note) == "The behavioural suite has no case on this dataset: its tests (name_swap) matched no " \
        "validation sentence"  # fmt: skip


def settings(dataset: dict, llm_enabled: bool = True, **stages) -> ReportSettings:
    """Report settings with one dataset `d`; every stage on unless `stages` says otherwise."""
    return ReportSettings.from_dict(
        {"title": "t", "top_errors": 25, "attributed_errors": 12, "failing_cases": 3, "shortcut_words": 5,
         "bootstrap": {}, "training": {}, "variants": [["base", {}]], "llm_enabled": llm_enabled,
         "stages": {"attribution": True, "attribution_variants": None, "label_issues": True, "behaviour": True}
         | stages, "datasets": {"d": dataset}}
    )  # fmt: skip


def section(**parts) -> dict:
    """A dataset's section as collect_dataset builds it, every part present unless `parts` says otherwise."""
    full = {"llm": [{"cascade": {}}], "variants": [{}], "slices": {"enabled": True},
            "why": {"attribution": [{}], "label_issues": {"witnesses": {"w": {}}}},
            "behaviour": {"summary": {"cases": 4, "models": []}, "comparisons": [{}]}, "peer_suites": [{}]}  # fmt: skip
    return full | parts


def said(notes: dict) -> dict[str, str]:
    return {part: str(note) for part, note in notes.items() if note}


def test_everything_present_says_nothing_is_absent():
    assert said(absent.notes("d", section(), settings({"llm_models": ["q"]}).datasets["d"], settings({}))) == {}


@pytest.mark.parametrize(
    "dataset, llm_enabled, stages, parts, expected",
    [
        # The new user: the LLM stage off, one run group, so no LLM entry, witness or comparison.
        ({"llm_models": []}, False, {}, {"llm": [], "why": {"attribution": [{}], "label_issues": {"witnesses": {}}},
         "behaviour": {"summary": {"cases": 4, "models": [{"kind": "encoder"}]}, "comparisons": []}},
         {"llm": "The LLM comparison is disabled in this configuration (llm.enabled: false)",
          "witnesses": "the LLM stage is off, so no LLM witnesses them (llm.enabled: false)",
          "behaviour_comparisons": "No comparison: one run group and no LLM entry"}),
        # The LLM on, but not on this dataset; one variant; the cascade and the slices off.
        ({"llm_models": []}, True, {}, {"llm": [], "variants": [], "slices": {"enabled": False},
         "why": {"attribution": [{}], "label_issues": {"witnesses": {}}}},
         {"llm": "No LLM entry is asked on this dataset (datasets.d.llm_models: [])",
          "variants": "One variant of the recipe on this dataset: no variant comparison",
          "slices": "Slices are off in this configuration (analysis.slices.enabled: false)",
          "witnesses": "no LLM entry is asked on this dataset, so none witnesses them (datasets.d.llm_models: [])"}),
        ({"llm_models": ["q"], "label_witnesses": []}, True, {}, {"llm": [{"cascade": None}],
         "why": {"attribution": [{}], "label_issues": {"witnesses": {}}}},
         {"cascade": "The cascade is off in this configuration (llm.cascade.enabled: false)",
          "witnesses": "no witness is configured for this dataset (datasets.d.label_witnesses: [])"}),
        # A witness configured that has not finished (analysis.allow_partial): the rule's own note says so.
        ({"llm_models": ["q"]}, True, {}, {"why": {"attribution": [{}], "label_issues": {"witnesses": {}}}}, {}),
        # Attribution: off, or on for other variants than this dataset's; label issues off (no witness note then).
        ({"llm_models": ["q"]}, True, {"attribution": False, "label_issues": False},
         {"why": {"attribution": [], "label_issues": {"witnesses": {}}}},
         {"attribution": "Word attributions are off in this configuration (analysis.attribution.enabled: false)",
          "label_issues": "Label issues are off in this configuration (analysis.label_issues.enabled: false)"}),
        ({"llm_models": ["q"]}, True, {"attribution_variants": ["lr-1e-4"]},
         {"why": {"attribution": [], "label_issues": {"witnesses": {"w": {}}}}},
         {"attribution": "No run group of this dataset is attributed: attribution is asked for other variants "
                         "(analysis.attribution.variants: [lr-1e-4])"}),
        # Behavioural tests: off for the study, off for this dataset, or no test selected for its kind.
        ({"llm_models": ["q"]}, True, {"behaviour": False}, {"behaviour": None},
         {"behaviour": "Behavioural tests are off in this configuration (behaviour.enabled: false)"}),
        ({"llm_models": ["q"], "behaviour_enabled": False}, True, {}, {"behaviour": None},
         {"behaviour": "Behavioural tests are off on this dataset (datasets.d.behaviour.enabled: false)"}),
        ({"llm_models": ["q"], "behaviour_tests": []}, True, {}, {"behaviour": None},
         {"behaviour": "No behavioural test is selected for this dataset (datasets.d.behaviour.tests)"}),
        # A peer's suite: not run on an entailment dataset, and said so; with the stage off, its note says it all.
        ({"llm_models": ["q"], "peer_suites": {"checklist": {"title": "CheckList", "published": None,
          "excluded": "it tests sentiment, and no label of this dataset (e, n) has a negative or positive polarity"}}},
         True, {}, {"peer_suites": None},
         {"peer_suites": "CheckList is not run on this dataset: it tests sentiment, and no label of this dataset "
                         "(e, n) has a negative or positive polarity"}),
        ({"llm_models": ["q"], "peer_suites": {"checklist": {"title": "CheckList", "published": None,
          "excluded": "behavioural tests are off in this configuration"}}}, True, {"behaviour": False},
         {"behaviour": None, "peer_suites": None},
         {"behaviour": "Behavioural tests are off in this configuration (behaviour.enabled: false)"}),
    ],
)  # fmt: skip
def test_the_report_says_why_a_part_is_absent(dataset, llm_enabled, stages, parts, expected):
    chosen = settings(dataset, llm_enabled, **stages)
    assert said(absent.notes("d", section(**parts), chosen.datasets["d"], chosen)) == expected
