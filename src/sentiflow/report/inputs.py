"""What the report reads, per dataset, as the report rule names it: one `DatasetInputs` per section.

The rule (workflow/rules/report_helpers.smk, `report_files`) builds a JSON-able mapping per dataset and lists every
path in it as an input too, so that the DAG and reruns see them; `DatasetInputs.from_dict` turns one mapping into the
typed form the readers take. No path is ever parsed to find out what it is. The files every dataset's section reads
are fields here; those of an optional part of it (slices, LLM entries, ...) are a section's, each typed by its own
dataclass in its reader's module and registered in `sentiflow.report.sections`, and parsed here by their type.
"""

from __future__ import annotations

import dataclasses
import types
import typing
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
class DatasetInputs:
    name: str
    summary: Path
    per_class: Path
    data_card: Path
    calibration: Path
    misclassified: Path
    overconfidence: Path
    failure_modes: Path
    label_issues: Path
    label_summary: Path
    token_stats: dict[str, Path]  # per backbone key, in the configured order
    figures: dict[str, FigureFiles]  # per figure name (sentiflow.report.figures)
    runs: list[Path]  # the metadata.json of every run the report covers
    sections: dict[str, object]  # per registered section's key, its files (None, [] or {} where it has none)

    @classmethod
    def from_dict(cls, given: dict, sections: dict[str, object]) -> DatasetInputs:
        """`given` checked and typed: the fields here, and per key of `sections` its files as its type says."""
        name = given.get("name", "?")
        where = f"the report's inputs of dataset {name}"
        own = [f.name for f in fields(cls) if f.name not in ("name", "sections")]
        _check_keys(given, [*own, *sections], [*own, *sections, "name"], where)
        hints = typing.get_type_hints(cls)
        core = {key: parse(hints[key], given[key], f"{where}, {key}") for key in own}
        _check_keys(core["figures"], list(FIGURE_NAMES), list(FIGURE_NAMES), f"the report's figures of dataset {name}")
        parts = {key: parse(kind, given[key], f"{where}, {key}") for key, kind in sections.items()}
        return cls(name=name, **core, sections=parts)

    def paths(self) -> list[Path]:
        """Every file named here: the report rule lists them as its inputs."""
        return [path for f in fields(self) for path in paths_in(getattr(self, f.name))]


def parse(kind, given, where: str):
    """`given` (JSON-able: strings, lists, mappings) as `kind`: a Path, `X | None`, `list[X]`, `dict[str, X]` or a
    dataclass of such fields; anything else is an error that says where."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        return None if given is None else parse(next(a for a in args if a is not type(None)), given, where)
    if origin is list:
        _expect(given, list, where)
        return [parse(args[0], item, f"{where} [{i}]") for i, item in enumerate(given)]
    if origin is dict:
        _expect(given, dict, where)
        return {key: parse(args[1], value, f"{where} {key}") for key, value in given.items()}
    if dataclasses.is_dataclass(kind):
        _expect(given, dict, where)
        required = [f.name for f in fields(kind) if f.default is dataclasses.MISSING]
        _check_keys(given, required, [f.name for f in fields(kind)], where)
        hints = typing.get_type_hints(kind)
        return kind(**{key: parse(hints[key], value, f"{where} {key}") for key, value in given.items()})
    if kind is Path:
        _expect(given, (str, Path), where)
        return Path(given)
    raise TypeError(f"{where}: no reader for files of type {kind}")


def paths_in(value) -> list[Path]:
    """Every Path in a parsed value, in order: fields of a dataclass, items of a list, values of a mapping."""
    if isinstance(value, Path):
        return [value]
    if dataclasses.is_dataclass(value):
        return [path for f in fields(value) for path in paths_in(getattr(value, f.name))]
    if isinstance(value, list | tuple):
        return [path for item in value for path in paths_in(item)]
    if isinstance(value, dict):
        return [path for item in value.values() for path in paths_in(item)]
    return []


def _expect(given, kind, where: str) -> None:
    if not isinstance(given, kind):
        raise ReportInputError(f"{where}: expected {getattr(kind, '__name__', 'a path')}, got {given!r}")


def _check_keys(given: dict, required: list[str], known: list[str], where: str) -> None:
    """Every required key present, no key unknown."""
    unknown = [key for key in given if key not in known]
    if unknown:
        raise ReportInputError(f"{where}: unknown input(s) {', '.join(unknown)}; expected {', '.join(sorted(known))}")
    missing = [key for key in required if key not in given]
    if missing:
        raise ReportInputError(f"{where} lack {', '.join(missing)}")
