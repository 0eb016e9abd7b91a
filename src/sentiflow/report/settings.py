"""The settings the report shows or reads, as the report rule passes them (its `settings` param)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DatasetSettings:
    reference: dict  # the original study's numbers per backbone model, when it has them
    max_train_rows: int | None
    holdout_rows: int
    llm_models: list[str]  # the LLM entries configured for the dataset (none when the comparison is off)


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
    )
