"""What the report reads, per dataset, as the report rule names it: one `DatasetInputs` per section.

The rule (workflow/rules/report.smk, `report_files`) builds a JSON-able mapping per dataset and lists every path in
it as an input too, so that the DAG and reruns see them; `DatasetInputs.from_dict` turns one mapping into the
typed form the readers take. No path is ever parsed to find out what it is.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

from sentiflow.report.figures import FIGURE_NAMES


class ReportInputError(ValueError):
    pass


@dataclass(frozen=True)
class FigureFiles:
    png: Path
    pdf: Path


@dataclass(frozen=True)
class AttributionFiles:
    """One run group's outputs of the attribute rule."""

    summary: Path
    words: Path
    sentences: Path
    deletion: Path


@dataclass(frozen=True)
class LLMFiles:
    """One LLM entry's comparison on a dataset, and its cascade when the cascade is enabled."""

    summary: Path
    table: Path
    cascade_summary: Path | None = None
    cascade_png: Path | None = None
    cascade_pdf: Path | None = None


@dataclass(frozen=True)
class SliceFiles:
    """The slices rule's table and summary."""

    table: Path
    summary: Path


@dataclass(frozen=True)
class BehaviourFiles:
    """The behaviour_summary rule's outputs on a dataset."""

    failure_rates: Path
    comparisons: Path
    association: Path
    failing_cases: Path
    summary: Path
    png: Path
    pdf: Path


@dataclass(frozen=True)
class DatasetInputs:
    name: str
    summary: Path
    per_class: Path
    data_card: Path
    calibration: Path
    misclassified: Path
    overconfidence: Path
    failure_modes: Path
    shortcut_words: Path
    word_groups: Path
    label_issues: Path
    label_summary: Path
    why: Path
    token_stats: dict[str, Path]  # per backbone key, in the configured order
    figures: dict[str, FigureFiles]  # per figure name (sentiflow.report.figures)
    runs: list[Path]  # the metadata.json of every run the report covers
    attribution: list[AttributionFiles]  # per run group, in the configured order
    llm: dict[str, LLMFiles]  # per LLM entry whose comparison finished
    slices: SliceFiles | None  # None when analysis.slices is off
    behaviour: BehaviourFiles | None = None  # None where the behavioural tests do not run: no section

    @classmethod
    def from_dict(cls, given: dict) -> DatasetInputs:
        name = given.get("name", "?")
        _require(
            given, [f.name for f in fields(cls) if f.default is not None], f"the report's inputs of dataset {name}"
        )
        _require(given["figures"], list(FIGURE_NAMES), f"the report's figures of dataset {name}")
        files = {key: Path(given[key]) for key in _single_files()}
        return cls(
            name=name,
            **files,
            token_stats={backbone: Path(path) for backbone, path in given["token_stats"].items()},
            figures={figure: FigureFiles(**_paths(kinds, FigureFiles, f"{name} figure {figure}"))
                     for figure, kinds in given["figures"].items()},
            runs=[Path(path) for path in given["runs"]],
            attribution=[AttributionFiles(**_paths(group, AttributionFiles, f"{name} attribution"))
                         for group in given["attribution"]],
            llm={entry: LLMFiles(**_paths(files, LLMFiles, f"{name} LLM entry {entry}"))
                 for entry, files in given["llm"].items()},
            slices=SliceFiles(**_paths(given["slices"], SliceFiles, f"{name} slices")) if given["slices"] else None,
            behaviour=BehaviourFiles(**_paths(given["behaviour"], BehaviourFiles, f"{name} behavioural tests"))
            if given.get("behaviour") else None,
        )  # fmt: skip

    def paths(self) -> list[Path]:
        """Every file named here: the report rule lists them as its inputs."""
        nested = [*self.token_stats.values(), *self.runs]
        nested += [path for f in self.figures.values() for path in (f.png, f.pdf)]
        nested += [getattr(group, f.name) for group in self.attribution for f in fields(AttributionFiles)]
        nested += [getattr(e, f.name) for e in self.llm.values() for f in fields(LLMFiles) if getattr(e, f.name)]
        nested += [self.slices.table, self.slices.summary] if self.slices else []
        nested += [getattr(self.behaviour, f.name) for f in fields(BehaviourFiles)] if self.behaviour else []
        return [getattr(self, key) for key in _single_files()] + nested


def _single_files() -> list[str]:
    """The fields of DatasetInputs that hold one file each."""
    return [f.name for f in fields(DatasetInputs) if f.type == "Path"]


def _require(given: dict, keys: list[str], where: str) -> None:
    missing = [key for key in keys if key not in given]
    if missing:
        raise ReportInputError(f"{where} lack {', '.join(missing)}")


def _paths(given: dict, kind: type, where: str) -> dict[str, Path]:
    """`given` as the fields of `kind`, checked: every field without a default present, no key unknown."""
    known = {f.name for f in fields(kind)}
    unknown = sorted(set(given) - known)
    if unknown:
        raise ReportInputError(f"{where}: unknown input(s) {', '.join(unknown)}; expected {', '.join(sorted(known))}")
    _require(given, [f.name for f in fields(kind) if f.default is not None], where)
    return {key: Path(path) for key, path in given.items() if path is not None}
