"""Why a part of a dataset's section is absent, said once for both reports.

A study leaves parts out by a switch (`llm.enabled: false`), by a dataset's own settings (`label_witnesses: []`) or by
its shape (one run group leaves nothing to compare). The report says which, in the place the part would have been:
each note is a sentence and, where a setting decides it, that setting as the reader would write it in a config.
"""

from __future__ import annotations

from dataclasses import dataclass

from sentiflow.report.settings import DatasetSettings, ReportSettings


@dataclass(frozen=True)
class Note:
    text: str
    setting: str | None = None  # the configuration that leaves the part out, shown as code

    def __str__(self) -> str:
        return f"{self.text} ({self.setting})" if self.setting else self.text


CASCADE_OFF = Note("The cascade is off in this configuration", "llm.cascade.enabled: false")
ONE_VARIANT = Note("One variant of the recipe on this dataset: no variant comparison")
SLICES_OFF = Note("Slices are off in this configuration", "analysis.slices.enabled: false")
LABEL_ISSUES_OFF = Note("Label issues are off in this configuration", "analysis.label_issues.enabled: false")


def notes(name: str, section: dict, dataset: DatasetSettings, settings: ReportSettings) -> dict[str, Note | None]:
    """Per part of dataset `name`'s `section` (collect_dataset's context), the note saying why it is absent, or None
    where it is shown."""
    llm = section["llm"]
    return {
        "llm": llm_note(name, dataset, settings.llm_enabled),
        # An entry's cascade files are left out of the report's inputs only when the cascade is off.
        "cascade": CASCADE_OFF if llm and llm[0]["cascade"] is None else None,
        "variants": None if section["variants"] else ONE_VARIANT,
        "attribution": attribution_note(section["why"]["attribution"], settings),
        "slices": None if section["slices"]["enabled"] else SLICES_OFF,
        "label_issues": None if settings.stages.label_issues else LABEL_ISSUES_OFF,
        "witnesses": witness_note(name, section["why"]["label_issues"], dataset, settings),
        "behaviour": behaviour_note(name, section["behaviour"], dataset, settings.stages.behaviour),
        "behaviour_comparisons": comparisons_note(section["behaviour"]),
        "peer_suites": peer_suites_note(section["peer_suites"], dataset, settings.stages.behaviour),
    }


def llm_note(name: str, dataset: DatasetSettings, enabled: bool) -> Note | None:
    if not enabled:
        return Note("The LLM comparison is disabled in this configuration", "llm.enabled: false")
    if not dataset.llm_models:
        return Note("No LLM entry is asked on this dataset", f"datasets.{name}.llm_models: []")
    return None


def attribution_note(groups: list, settings: ReportSettings) -> Note | None:
    if groups:
        return None
    if not settings.stages.attribution:
        return Note("Word attributions are off in this configuration", "analysis.attribution.enabled: false")
    variants = ", ".join(settings.stages.attribution_variants or [])
    return Note(
        "No run group of this dataset is attributed: attribution is asked for other variants",
        f"analysis.attribution.variants: [{variants}]",
    )


def witness_note(name: str, issues: dict, dataset: DatasetSettings, settings: ReportSettings) -> Note | None:
    """Why no LLM witness judged the label issues, where the configuration says; None where some did, or where the
    label_issues rule's own note says why (a witness configured but not finished)."""
    if not settings.stages.label_issues or issues["witnesses"]:
        return None
    if not settings.llm_enabled:
        return Note("the LLM stage is off, so no LLM witnesses them", "llm.enabled: false")
    if not dataset.llm_models:
        return Note("no LLM entry is asked on this dataset, so none witnesses them", f"datasets.{name}.llm_models: []")
    if dataset.label_witnesses == []:
        return Note("no witness is configured for this dataset", f"datasets.{name}.label_witnesses: []")
    return None


def behaviour_note(name: str, behaviour: dict | None, dataset: DatasetSettings, enabled: bool) -> Note | None:
    if behaviour is not None:
        if behaviour["summary"]["cases"]:
            return None
        tests = ", ".join(dataset.behaviour_tests)
        return Note(f"The behavioural suite has no case on this dataset: its tests ({tests}) matched no "
                    "validation sentence")  # fmt: skip
    if not enabled:
        return Note("Behavioural tests are off in this configuration", "behaviour.enabled: false")
    if not dataset.behaviour_enabled:
        return Note("Behavioural tests are off on this dataset", f"datasets.{name}.behaviour.enabled: false")
    return Note("No behavioural test is selected for this dataset", f"datasets.{name}.behaviour.tests")


def comparisons_note(behaviour: dict | None) -> Note | None:
    """Why the behavioural tests compare no two models: the study's shape leaves no pair."""
    if behaviour is None or behaviour["comparisons"] or not behaviour["summary"]["cases"]:
        return None
    kinds = [model["kind"] for model in behaviour["summary"]["models"]]
    encoders, llms = kinds.count("encoder"), kinds.count("llm")
    if encoders == 1 and not llms:
        return Note("No comparison: one run group and no LLM entry")
    if not llms:
        return Note(f"No comparison: {encoders} run groups, none sharing a backbone or a variant, and no LLM entry")
    return Note("No comparison: no two models answered the same cases")


def peer_suites_note(shown: list | None, dataset: DatasetSettings, enabled: bool) -> Note | None:
    """Why the dataset answers no peer's suite, where suites are configured and the behavioural tests run on it (where
    they do not, the behavioural tests' note says so); None where it answers one, or none is configured."""
    if shown or not enabled or not dataset.behaviour_enabled:
        return None
    reasons = [f"{spec['title']} is not run on this dataset: {spec['excluded']}"
               for spec in dataset.peer_suites.values() if spec["excluded"]]  # fmt: skip
    return Note("; ".join(reasons)) if reasons else None
