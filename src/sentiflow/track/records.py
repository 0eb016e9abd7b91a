"""What the tracking store holds of a finished study: one record per MLflow run, built from the files the workflow
wrote (docs/outputs.md), so the export copies numbers that already exist and computes none of its own.

A dataset gives a record per run group (its seed statistics from the aggregate rule's summary.json), one per run
(recipe as trained, per-epoch curves, the analysis's summary numbers, versions and hardware, its small files) whose
parent is its group's, one per LLM entry (accuracy, fixes and breaks per run group), and one of its findings (each
finding's estimate and interval, its verdict, the findings files).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sentiflow.analysis.runs import Run, RunGroup, RunSet

# The run's small files; the checkpoint stays where it is (its path is a tag).
RUN_FILES = ("metadata.json", "history.csv", "steps.csv", "predictions.csv", "holdout_predictions.csv")
LLM_FILES = ("summary.json", "predictions.csv")
EPOCH_METRICS = ("train_loss", "val_loss", "val_accuracy", "holdout_loss", "holdout_accuracy")
# Of the analysis's row of a run: the selected epoch's accuracy and macro-F1, the optimistic best and the last
# epoch beside it, and timing.
RUN_SUMMARY = (
    "selected_epoch",
    "selected_accuracy",
    "selected_macro_f1",
    "best_epoch",
    "best_accuracy",
    "last_epoch",
    "last_accuracy",
    "epochs",
    "train_minutes",
    "epoch_seconds",
    "sentences_per_s",
    "peak_memory_mb",
    "parameters",
)
RUN_TIMING = ("selected_holdout_accuracy", "total_seconds", "process_seconds")
# Of an LLM entry's summary.json: what describes its settings (params) or this one job (left out), not the entry.
LLM_PARAMS = ("entry", "model", "threads", "n_gpu_layers")
LLM_LEFT_OUT = ("session", "missing_runs", "no_errors", "validation_is_complete")
FINDINGS_FILES = ("findings.json", "findings.csv")


@dataclass
class Record:
    """One MLflow run: its identity (how the next export finds it again), name, and what it holds."""

    identity: str
    kind: str  # "group" (a run group's seed statistics), "run" (one seed), "llm" (an LLM entry) or "findings"
    name: str
    dataset: str
    params: dict[str, str] = field(default_factory=dict)
    metrics: list[tuple[str, float, int]] = field(default_factory=list)  # key, value, step
    tags: dict[str, str] = field(default_factory=dict)
    artifacts: list[Path] = field(default_factory=list)
    parent: str | None = None  # the parent record's identity
    end_ms: int = 0  # when the file the record comes from was written: start and metric times in the store
    seconds: float = 0.0  # how long the run took, for its start time

    def fingerprint(self) -> str:
        """A digest of everything the record writes, so an export leaves a run that already holds it alone."""
        digest = hashlib.sha256(
            json.dumps([self.name, self.params, self.metrics, self.tags, self.parent], sort_keys=True).encode()
        )
        for path in self.artifacts:
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
        return digest.hexdigest()[:20]


def study_records(
    datasets: dict,
    metadata: Sequence,
    summaries: Sequence,
    llm: Sequence,
    allow_partial: bool = False,
    findings: Sequence = (),
) -> list[Record]:
    """Every record of the study, each group before its runs. `datasets` maps a dataset's name to its `expected`
    runs ([label, seed]) and `data` settings; the files are assigned to datasets by their folders, results/{dataset}/
    (a dataset's findings.json lies in it)."""
    records = []
    for name, settings in datasets.items():
        runs = RunSet.load(
            [p for p in metadata if Path(p).parents[4].name == name], settings["expected"], allow_partial
        )
        summary_path = next((Path(p) for p in summaries if Path(p).parents[1].name == name), None)
        if summary_path is None:
            raise FileNotFoundError(f"dataset {name}: no analysis/summary.json among {list(summaries)}")
        summary = json.loads(summary_path.read_text())
        records += [
            *run_group_records(name, runs, summary, settings["data"], modified_ms(summary_path)),
            *[llm_record(name, Path(p)) for p in llm if Path(p).parents[2].name == name],
            *[findings_record(name, Path(p)) for p in findings if Path(p).parent.name == name],
        ]
    return records


def run_group_records(dataset: str, runs: RunSet, summary: dict, data: dict, summary_ms: int) -> Iterator[Record]:
    rows = {(row["backbone"], int(row["seed"])): row for row in summary["runs"]}
    statistics = {row["backbone"]: row for row in summary["backbones"]}
    for label, group in runs.groups.items():
        if label not in statistics:
            raise KeyError(f"dataset {dataset}: run group {label} is not in analysis/summary.json; rerun aggregate")
        parent = group_record(dataset, group, statistics[label], summary_ms)
        yield parent
        for run in group.runs:
            yield run_record(dataset, run, rows[(run.label, run.seed)], data, parent.identity)


def group_record(dataset: str, group: RunGroup, statistics: dict, summary_ms: int) -> Record:
    """A run group's seed statistics (mean, std, min, max, the bootstrap interval): its parameters are its identity,
    so the next export can update it in place when a seed is added."""
    identity = f"{dataset}/{group.backbone_key}/{group.variant}"
    return Record(
        identity=f"group:{identity}",
        kind="group",
        name=f"{dataset}/{group.label}",
        dataset=dataset,
        params={"dataset": dataset, "backbone_key": group.backbone_key, "variant": group.variant},
        metrics=[(key, value, 0) for key, value in numbers(statistics)],
        tags={"model": str(statistics["model"]), "seeds": " ".join(map(str, group.seeds))},
        end_ms=summary_ms,
    )


def run_record(dataset: str, run: Run, row: dict, data: dict, parent: str) -> Record:
    metadata = run.metadata
    params = {
        "dataset": dataset,
        "backbone": metadata["backbone"],
        "backbone_key": run.backbone_key,
        "variant": run.variant,
        "seed": run.seed,
        "select_epoch": metadata["select_epoch"],
        **prefixed("training", metadata.get("hyperparameters", {})),
        **prefixed("loop", metadata.get("loop", {})),
        **prefixed("tokens", metadata.get("tokens", {})),
        **prefixed("data", data),
        **prefixed("rows", metadata.get("data", {})),
    }
    history = run.history
    curves = [
        (column, float(value), int(epoch))
        for column in EPOCH_METRICS
        if column in history
        for epoch, value in zip(history["epoch"], history[column])
        if is_number(value)
    ]
    summary = [(key, float(row[key]), 0) for key in RUN_SUMMARY if is_number(row.get(key))]
    timing = [(key, float(metadata[key]), 0) for key in RUN_TIMING if is_number(metadata.get(key))]
    folder = run.folder.resolve()
    tags = {
        "folder": str(folder),
        "checkpoint": str(folder / "model"),
        **prefixed("versions", metadata.get("versions", {})),
        **prefixed("hardware", metadata.get("hardware", {})),
    }
    return Record(
        identity=f"run:{dataset}/{run.backbone_key}/{run.variant}/seed{run.seed}",
        kind="run",
        name=f"{dataset}/{run.label}/seed{run.seed}",
        dataset=dataset,
        params={key: text(value) for key, value in params.items()},
        metrics=curves + summary + timing,
        tags={key: text(value) for key, value in tags.items() if value is not None},
        artifacts=[run.folder / name for name in RUN_FILES if (run.folder / name).is_file()],
        parent=parent,
        end_ms=modified_ms(run.folder / "metadata.json"),
        seconds=float(metadata.get("total_seconds") or 0.0),
    )


def llm_record(dataset: str, path: Path) -> Record:
    """An LLM entry on a dataset: its accuracy per item group and on validation, and per run group how many of the
    encoders' errors it fixes and how many of their right answers it breaks."""
    summary = json.loads(path.read_text())
    entry = summary["entry"]
    kept = {key: value for key, value in summary.items() if key not in LLM_PARAMS + LLM_LEFT_OUT}
    return Record(
        identity=f"llm:{dataset}/{entry}",
        kind="llm",
        name=f"{dataset}/llm/{entry}",
        dataset=dataset,
        params={"dataset": dataset, **{key: text(summary.get(key)) for key in LLM_PARAMS}},
        metrics=[(key, value, 0) for key, value in numbers(kept)],
        tags={"folder": str(path.parent.resolve())},
        artifacts=[path.parent / name for name in LLM_FILES if (path.parent / name).is_file()],
        end_ms=modified_ms(path),
        seconds=float(summary.get("seconds") or 0.0),
    )


def findings_record(dataset: str, path: Path) -> Record:
    """A dataset's findings: per finding its headline estimates and intervals (`{id}.estimate`, `.ci_low`,
    `.ci_high`, and `_2` for a failure mode's intervention beside its association), its verdict as a tag
    (`verdict.{id}`), the count of each verdict, the rule as params, and the findings files."""
    summary = json.loads(path.read_text())
    metrics = [(f"verdicts.{verdict}", float(count), 0) for verdict, count in summary["counts"].items()]
    tags = {}
    for finding in summary["findings"]:
        for number, piece in enumerate(finding["headline"][:2]):
            suffix = "" if number == 0 else "_2"
            for key in ("estimate", "ci_low", "ci_high"):
                if is_number(piece[key]):
                    metrics.append((safe_name(f"{finding['id']}.{key}{suffix}"), piece[key], 0))
        tags[safe_name(f"verdict.{finding['id']}")] = finding["verdict"]
    return Record(
        identity=f"findings:{dataset}",
        kind="findings",
        name=f"{dataset}/findings",
        dataset=dataset,
        params={"dataset": dataset, **{key: text(value) for key, value in prefixed("rule", summary["rule"]).items()}},
        metrics=metrics,
        tags=tags,
        artifacts=[path.parent / name for name in FINDINGS_FILES if (path.parent / name).is_file()],
        end_ms=modified_ms(path),
    )


def numbers(mapping: dict) -> list[tuple[str, float]]:
    """The finite numbers of a nested mapping, with dotted names MLflow accepts; an undefined statistic (the standard
    deviation of one seed) is left out rather than stored as NaN."""
    return [(key, float(value)) for key, value in prefixed("", mapping).items() if is_number(value)]


def prefixed(prefix: str, mapping: dict) -> dict:
    """A nested mapping flattened to `prefix.key.subkey` names, with the characters MLflow refuses in a name (the
    `+` of a run group's label) written as `_`."""
    flat = {}
    for key, value in mapping.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            flat |= prefixed(name, value)
        else:
            flat[safe_name(name)] = value
    return flat


def safe_name(name: str) -> str:
    """A name with the characters MLflow refuses in a metric, param or tag name (a run group's `+`) written `_`."""
    return re.sub(r"[^\w./\- ]", "_", name)


def is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def text(value) -> str:
    """A param or tag value: strings as they are, everything else as JSON (lists, null, true)."""
    return value if isinstance(value, str) else json.dumps(value)


def modified_ms(path: Path) -> int:
    return int(os.stat(path).st_mtime * 1000)
