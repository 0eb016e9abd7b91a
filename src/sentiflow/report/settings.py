"""The settings the report shows or reads, as the report rule passes them (its `settings` param)."""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True)
class DatasetSettings:
    reference: dict  # the original study's numbers per backbone model, when it has them
    max_train_rows: int | None
    holdout_rows: int
    llm_models: list[str]  # the LLM entries configured for the dataset (none when the comparison is off)
    label_witnesses: list[str] | None  # the dataset's own `label_witnesses` (None: every LLM entry it asks)
    behaviour_enabled: bool  # the dataset's own `behaviour.enabled`
    behaviour_tests: list[str]  # the behavioural tests selected for it (none when the stage or its part is off)
    # Per peer's suite configured (behaviour.suites): its `title`, its `published` rates and, where the dataset does not
    # answer it, why (`excluded`, sentiflow.config.suite_exclusion).
    peer_suites: dict


@dataclass(frozen=True)
class Stages:
    """The switches that leave a part of every dataset's section out, so that the report can say why it is absent."""

    attribution: bool  # analysis.attribution.enabled
    attribution_variants: list[str] | None  # analysis.attribution.variants
    label_issues: bool  # analysis.label_issues.enabled
    behaviour: bool  # behaviour.enabled


@dataclass(frozen=True)
class ReportSettings:
    title: str
    top_errors: int
    attributed_errors: int
    failing_cases: int  # failing cases the behavioural tests' section shows per test
    shortcut_words: int  # analysis.shortcuts.top_words: words shown per label
    bootstrap: dict  # analysis.bootstrap's method, samples and confidence, as the captions name them
    training: dict  # every training setting: the setup table shows them all
    variants: list[tuple[str, dict]]  # in the configured order, each with the training settings it changes
    llm_enabled: bool
    stages: Stages
    datasets: dict[str, DatasetSettings]

    @classmethod
    def from_dict(cls, given: dict) -> ReportSettings:
        try:
            return cls(
                **{
                    key: given[key]
                    for key in ("title", "top_errors", "attributed_errors", "failing_cases", "shortcut_words")
                },
                bootstrap=given["bootstrap"],
                training=given["training"],
                variants=[(name, changes) for name, changes in given["variants"]],
                llm_enabled=given["llm_enabled"],
                stages=Stages(**{field.name: given["stages"][field.name] for field in fields(Stages)}),
                datasets={name: _dataset(settings) for name, settings in given["datasets"].items()},
            )
        except KeyError as missing:
            raise ValueError(f"the report's settings lack {missing.args[0]!r}") from None


def _dataset(given: dict) -> DatasetSettings:
    return DatasetSettings(
        reference=given.get("reference") or {},
        max_train_rows=given.get("max_train_rows"),
        holdout_rows=given.get("holdout_rows", 0),
        llm_models=given.get("llm_models", []),
        label_witnesses=given.get("label_witnesses"),
        behaviour_enabled=given.get("behaviour_enabled", True),
        behaviour_tests=given.get("behaviour_tests", []),
        peer_suites=given.get("peer_suites", {}),
    )
