"""Everything the templates show, computed once so that the HTML and the LaTeX report always agree.

A dataset's section is put together from named readers, one per part of it (accuracy, data and tokens, errors,
calibration, limitations), and the registered sections' (`sentiflow.report.sections`: why errors happen, slices, LLM
entries, behavioural tests).
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pandas as pd

import sentiflow
from sentiflow.analysis.runs import RunSet
from sentiflow.data import is_pair
from sentiflow.report import absent, explore
from sentiflow.report import sections as report_sections
from sentiflow.report.explore import Column
from sentiflow.report.figures import FIGURES
from sentiflow.report.inputs import DatasetInputs
from sentiflow.report.settings import DatasetSettings, ReportSettings
from sentiflow.report.tables import read_json, records, with_texts

# How the runs of a dataset chose their epoch (`analysis.select_epoch`, auto resolved), as the report says it.
SELECTION_TEXT = {
    "holdout": "epoch with the best accuracy on the held-out slice of train",
    "best": "epoch with the best validation accuracy (this dataset has no holdout: optimistic)",
    "last": "last epoch",
}
CALIBRATION_COLUMNS = ["temperature", "ece", "classwise_ece", "mce", "brier", "nll", "accuracy"]


def _study_reference(model: str, reference: dict) -> dict | None:
    """The study's numbers when the backbone is one it used (matched by hub id or folder name)."""
    return reference.get(model) or reference.get(Path(model).name)


def accuracy_section(summary: dict, dataset: DatasetSettings) -> dict:
    """The aggregate rule's summary: per backbone, beside the original study's numbers for its own recipe."""
    backbones = []
    for row in summary["backbones"]:
        study = _study_reference(row["model"], dataset.reference) if row["variant"] == "base" else None
        backbones.append(
            row
            | {
                "study": study,
                "best_diff": row["best_accuracy_mean"] - study["best"] if study else None,
                "last_diff": row["last_accuracy_mean"] - study["last"] if study else None,
                "minutes_per_epoch": row["epoch_seconds_mean"] / 60,
                "study_minutes_per_epoch": study["minutes"] / study["epochs"] if study else None,
            }
        )
    return {
        "backbones": backbones,
        "has_reference": bool(dataset.reference),
        "max_train_rows": dataset.max_train_rows,
        "seeds": sorted({r["seed"] for r in summary["runs"]}),
        "missing_runs": summary["missing_runs"],
        "mcnemar": summary["mcnemar"],
        "backbone_pairs": summary.get("backbone_pairs", []),
        "variants": summary["variants"],
        "validation_sentences": summary["validation_sentences"],
        "selection_text": SELECTION_TEXT.get(summary["select_epoch"], summary["select_epoch"]),
    }


def data_section(card: dict, token_stats: dict[str, Path]) -> dict:
    """The data card's splits and cleaning, and per backbone's tokenizer the tokens and truncation per split."""
    truncation = []
    for backbone, path in token_stats.items():
        stats = read_json(path)
        for split, numbers in stats["splits"].items():
            truncation.append({"backbone": backbone, "split": split, "max_length": stats["max_length"]} | numbers)
    return {
        "labels": card["labels"],
        "splits": card["splits"],
        "validation_in_train": card["validation_in_train"],
        "cleaning": card.get("cleaning", {"steps": [], "texts_changed": {}}),
        "truncation": truncation,
    }


def errors_table(errors: pd.DataFrame, name: str, shown: int) -> dict:
    """Every misclassified sentence as a table the HTML report's reader can explore, the most confident first."""
    others = [c for c in errors.columns if c.endswith("_predicted")]
    columns = [
        Column("backbone", "backbone", "category"), Column("index", "index", "number", 0),
        Column("texts", "sentence pair (first ⟶ second)" if is_pair(errors) else "sentence", wide=True),
        Column("gold", "gold", "category"), Column("predicted", "predicted", "category"),
        Column("confidence", "confidence", "number", 3), Column("prob_gold", "p(gold)", "number", 3),
        Column("wrong", "wrong in seeds", "category"),
        *(Column(c, c.removesuffix("_predicted"), "category") for c in others),
        Column("shortcut_words", "shortcut words against gold"),
    ]  # fmt: skip
    rows = [row | {"wrong": f"{row['wrong_in_seeds']}/{row['seeds']}"}
            for row in with_texts(errors.sort_values("confidence", ascending=False, kind="stable"))]  # fmt: skip
    return explore.table(f"{name}-errors-table", columns, rows, shown)


def error_section(errors: pd.DataFrame, inputs: DatasetInputs, top_errors: int) -> dict:
    """The most confident errors (every error, to explore, in the HTML report), over-confidence and the failure
    modes."""
    return {
        "top_errors": with_texts(errors.sort_values("confidence", ascending=False).head(top_errors)),
        "errors_explore": errors_table(errors, inputs.name, top_errors),
        "text_header": "sentence pair (first ⟶ second)" if is_pair(errors) else "sentence",
        "error_columns": [c for c in errors.columns if c.endswith("_predicted")],
        "overconfidence": read_json(inputs.overconfidence)["backbones"],
        "failure_modes": records(inputs.failure_modes),
        "per_class": records(inputs.per_class),
    }


def calibration_section(path: Path) -> dict:
    """Calibration before and after temperature scaling, mean over seeds per backbone and stage."""
    table = pd.read_csv(path)
    means = table.groupby(["backbone", "stage"], sort=False)[CALIBRATION_COLUMNS].mean().reset_index()
    return {
        "calibration": means.to_dict("records"),
        "calibration_method": table["method"].iloc[0] if len(table) else None,
    }


def collect_dataset(inputs: DatasetInputs, settings: ReportSettings) -> dict:
    """One dataset's section of the report."""
    summary = read_json(inputs.summary)
    card = read_json(inputs.data_card)
    errors = pd.read_csv(inputs.misclassified)
    dataset = settings.datasets[inputs.name]
    section = (
        {"name": inputs.name}
        | data_section(card, inputs.token_stats)
        | accuracy_section(summary, dataset)
        | error_section(errors, inputs, settings.top_errors)
        | calibration_section(inputs.calibration)
        | report_sections.read(inputs, settings)
    )
    section["absent"] = absent.notes(inputs.name, section, dataset, settings)
    if section["absent"]["witnesses"]:  # the label_issues rule lists the possible reasons; the configuration says which
        section["why"]["label_issues"]["note"] = str(section["absent"]["witnesses"])
    best = max(b["selected_accuracy"] for b in section["backbones"])
    section["limitations"] = limitations(len(section["seeds"]), best, summary, dataset)
    return section


def limitations(n_seeds: int, accuracy: float, summary: dict, dataset: DatasetSettings) -> list[str]:
    """Caveats computed from this dataset's runs, not boilerplate."""
    n_val = summary["validation_sentences"]
    half_width = 1.96 * math.sqrt(accuracy * (1 - accuracy) / n_val)
    items = [
        f"{n_seeds} seed{'s' if n_seeds != 1 else ''} per backbone: the spread over seeds "
        + ("is estimated from few runs." if n_seeds < 5 else "is an estimate of seed variance."),
        f"With {n_val} validation sentences, accuracy near {accuracy:.3f} carries a 95% interval of about "
        f"±{half_width:.3f} ({half_width * n_val:.0f} sentences); differences between backbones smaller than that are "
        "not resolved by this set, which is why paired McNemar tests are reported.",
    ]
    if summary["select_epoch"] == "holdout":
        items.append(
            f"Each run's epoch is chosen on {dataset.holdout_rows:,} held-out training rows, so the "
            "headline accuracy is unbiased; the best-on-validation column is chosen on the sentences it is scored on, "
            "as the study reported, and is optimistic."
        )
    elif summary["select_epoch"] == "best":
        items.append(
            "The epoch is chosen on the validation set that also reports its accuracy (this dataset has no holdout), "
            "so the headline accuracy is optimistic; last-epoch accuracy is the unbiased figure."
        )
    if dataset.max_train_rows:
        items.append(f"Training used a random subset of {dataset.max_train_rows:,} training rows, not the full split.")
    if summary["missing_runs"]:
        names = ", ".join(f"{m['backbone']} seed {m['seed']}" for m in summary["missing_runs"])
        items.append(f"Missing runs, excluded from every table: {names}.")
    items.append(
        "Failure modes are measured with rule-based cue lexicons: a cue marks a sentence, not the reason for an error."
    )
    return items


def across_datasets(sections: list[dict]) -> pd.DataFrame:
    """One row per dataset and backbone: the headline numbers side by side."""
    rows = []
    for section in sections:
        for b in section["backbones"]:
            rows.append({
                "dataset": section["name"], "backbone": b["backbone"], "classes": len(section["labels"]),
                "validation_sentences": section["validation_sentences"], "seeds": b["seeds"],
                "selected_accuracy": b["selected_accuracy"], "selected_ci_low": b["selected_ci_low"],
                "selected_ci_high": b["selected_ci_high"], "selected_macro_f1_mean": b["selected_macro_f1_mean"],
                "best_accuracy_mean": b["best_accuracy_mean"], "last_accuracy_mean": b["last_accuracy_mean"],
            })  # fmt: skip
    return pd.DataFrame(rows)


def flatten(settings: dict, prefix: str = "") -> dict:
    """Nested settings as dotted keys (`fast.precision`), so that no dictionary is ever printed whole."""
    flat = {}
    for key, value in settings.items():
        if isinstance(value, dict):
            flat |= flatten(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def setup(settings: ReportSettings) -> dict:
    """The setup tables: every training setting in two key-value columns side by side (a long list that still fits
    one page width), and what each variant changes."""
    hyperparameters = list(flatten(settings.training).items())
    half = -(-len(hyperparameters) // 2)
    return {
        "hyperparameters": [
            (hyperparameters[i], hyperparameters[i + half] if i + half < len(hyperparameters) else None)
            for i in range(half)
        ],
        "variants": [
            {
                "name": name,
                "changes": ", ".join(f"{k}={v}" for k, v in flatten(changes).items()) or "the settings above",
            }
            for name, changes in settings.variants
        ],
    }


def collect(datasets: list[DatasetInputs], settings: ReportSettings) -> dict:
    """The whole report's context: the sections, the table across datasets, the setup and the runs' hardware."""
    sections = [collect_dataset(inputs, settings) for inputs in datasets]
    runs = [run for inputs in datasets for run in RunSet.load(inputs.runs).runs]
    return setup(settings) | {
        "title": settings.title,
        "generated": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "datasets": sections,
        "across": across_datasets(sections).to_dict("records"),
        "bootstrap": settings.bootstrap,
        "versions": runs[0].metadata["versions"],
        # This checkout's version, also where the package is not installed (metadata says None there).
        "version": sentiflow.__version__,
        "devices": sorted({run.metadata["hardware"]["device_name"] for run in runs}),
        "total_hours": sum(run.metadata["total_seconds"] for run in runs) / 3600,
        "runs": len(runs),
        "figures": [{"name": name, "caption": caption} for name, caption in FIGURES],
        "sections": report_sections.contents(),
        "llm_enabled": settings.llm_enabled,
    }
