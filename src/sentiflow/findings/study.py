"""What the findings rule reads of one dataset, as the rule names it, and the settings it is judged with.

The rule (workflow/rules/findings_helpers.smk, `findings_files`) passes a JSON-able mapping of the files and lists
every path in it as an input; `FindingsFiles.from_dict` types it. Optional evidence is None (or no entry) where its
stage did not run, and `absent` says which setting left it out, so that a finding can say why it is not measured.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pandas as pd

from sentiflow.findings.verdict import Rule

# The evidence a stage's switch can leave out, each with the setting that did (None where it is present).
ABSENT = ("llm", "cascade", "behaviour", "label_issues")


@dataclass(frozen=True)
class BehaviourFiles:
    """The behaviour_summary rule's outputs the findings read."""

    failure_rates: Path
    comparisons: Path
    summary: Path


@dataclass(frozen=True)
class LLMFiles:
    """One LLM entry's comparison summary and its cascade (None when the cascade is off)."""

    summary: Path
    cascade: Path | None = None


@dataclass(frozen=True)
class FindingsFiles:
    summary: Path  # the aggregate rule's summary.json (accuracy, backbone pairs, variants)
    failure_modes: Path  # the misclassified rule's failure_modes.csv (association)
    overconfidence: Path
    calibration: Path
    label_issues: Path  # the label_issues rule's label_issues.json
    behaviour: BehaviourFiles | None  # None where the behavioural tests did not run on the dataset
    llm: dict[str, LLMFiles]  # per finished LLM entry

    @classmethod
    def from_dict(cls, given: dict) -> FindingsFiles:
        """The rule's mapping typed; a key missing or unknown is an error that names it."""
        where = "the findings' inputs"
        _keys(given, {f.name for f in dataclasses.fields(cls)}, where)
        behaviour = given["behaviour"]
        if behaviour is not None:
            _keys(behaviour, {f.name for f in dataclasses.fields(BehaviourFiles)}, f"{where}, behaviour")
        for entry, files in given["llm"].items():
            _keys(files, {"summary", "cascade"}, f"{where}, llm {entry}", optional={"cascade"})
        return cls(
            **{key: Path(given[key]) for key in ("summary", "failure_modes", "overconfidence", "calibration",
                                                 "label_issues")},
            behaviour=None if behaviour is None else BehaviourFiles(**{k: Path(v) for k, v in behaviour.items()}),
            llm={entry: LLMFiles(Path(files["summary"]), Path(files["cascade"]) if files.get("cascade") else None)
                 for entry, files in given["llm"].items()},
        )  # fmt: skip

    def paths(self) -> list[Path]:
        """Every file named here: the findings rule lists them as its inputs."""
        core = [self.summary, self.failure_modes, self.overconfidence, self.calibration, self.label_issues]
        behaviour = [] if self.behaviour is None else list(dataclasses.astuple(self.behaviour))
        llm = [path for files in self.llm.values() for path in (files.summary, files.cascade) if path is not None]
        return core + behaviour + llm


def _keys(given: dict, known: set[str], where: str, optional: set[str] = frozenset()) -> None:
    unknown, missing = set(given) - known, known - set(given) - optional
    if unknown or missing:
        raise ValueError(f"{where}: unknown {sorted(unknown)}, missing {sorted(missing)}; expected {sorted(known)}")


@dataclass(frozen=True)
class FindingsSettings:
    rule: Rule  # its confidence is the intervals' (Study.rule)
    reference: dict  # the published numbers per backbone model (datasets.NAME.reference)
    absent: dict[str, str | None]  # per ABSENT part, the setting that leaves it out

    @classmethod
    def from_dict(cls, given: dict) -> FindingsSettings:
        unknown = set(given["absent"]) - set(ABSENT)
        if unknown:
            raise ValueError(f"the findings' settings: unknown absent part(s) {sorted(unknown)}; expected {ABSENT}")
        return cls(
            rule=Rule(**given["rule"]),
            reference=given.get("reference") or {},
            absent={part: given["absent"].get(part) for part in ABSENT},
        )


@dataclass
class Study:
    """One dataset's files and settings, with the tables the sources share read once."""

    name: str
    files: FindingsFiles
    settings: FindingsSettings
    summary: dict = field(init=False)

    def __post_init__(self):
        self.summary = json.loads(Path(self.files.summary).read_text())

    @cached_property
    def rule(self) -> Rule:
        """The settings' rule at the level the aggregate rule wrote its intervals (analysis.bootstrap.confidence,
        the level of every stage's intervals)."""
        return dataclasses.replace(self.settings.rule, confidence=self.summary["bootstrap"]["confidence"])

    def absent(self, part: str) -> str | None:
        return self.settings.absent[part]

    @cached_property
    def groups(self) -> list[dict]:
        """The run groups' rows of summary.json, in the configured order."""
        return self.summary["backbones"]

    @cached_property
    def best_encoder(self) -> str:
        """The run group with the highest selected-epoch accuracy (the behavioural tests' and cascade's best)."""
        return max(self.groups, key=lambda row: row["selected_accuracy"])["backbone"]

    @property
    def sentences(self) -> int:
        return self.summary["validation_sentences"]

    @cached_property
    def failure_modes(self) -> pd.DataFrame:
        return pd.read_csv(self.files.failure_modes)

    @cached_property
    def rates(self) -> pd.DataFrame:
        """The behavioural failure rates over seeds (empty where the tests did not run)."""
        if self.files.behaviour is None:
            return pd.DataFrame(columns=["test", "type", "probes", "model", "kind", "seed", "cases", "failure_rate",
                                         "ci_low", "ci_high"])  # fmt: skip
        rates = pd.read_csv(self.files.behaviour.failure_rates, dtype={"seed": str})
        return rates[rates["seed"] == "all"]

    @cached_property
    def comparisons(self) -> pd.DataFrame:
        if self.files.behaviour is None:
            return pd.DataFrame(columns=["comparison", "test", "model_a", "model_b", "cases", "difference",
                                         "ci_low", "ci_high"])  # fmt: skip
        return pd.read_csv(self.files.behaviour.comparisons)

    @cached_property
    def behaviour(self) -> dict | None:
        """The behavioural tests' summary.json (tests with what they probe, models, cases), None where absent."""
        if self.files.behaviour is None:
            return None
        return json.loads(Path(self.files.behaviour.summary).read_text())

    @cached_property
    def llm(self) -> dict[str, dict]:
        """Per finished LLM entry its summary.json, with its cascade.json under `cascade` (None where off)."""
        entries = {}
        for entry, files in self.files.llm.items():
            summary = json.loads(Path(files.summary).read_text())
            cascade = json.loads(Path(files.cascade).read_text()) if files.cascade else None
            entries[entry] = summary | {"cascade": cascade}
        return entries

    @cached_property
    def best_llm(self) -> str | None:
        """The LLM entry with the highest accuracy on the validation sentences drawn regardless of the encoders."""
        scored = {e: s["validation_llm_accuracy"] for e, s in self.llm.items() if _finite(s["validation_llm_accuracy"])}
        return max(scored, key=scored.get) if scored else next(iter(self.llm), None)


def _finite(value) -> bool:
    return value is not None and math.isfinite(float(value))
