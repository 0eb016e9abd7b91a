"""Render the study as one self-contained HTML page and a LaTeX document, from the earlier stages' outputs."""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import re
import shutil
import unicodedata
from pathlib import Path

import jinja2
import pandas as pd

import sentiflow
from sentiflow.atomic import atomic_path, write_csv
from sentiflow.config import cascade_stem
from sentiflow.report import why as report_why

FIGURES = [
    ("training_loss", "Training loss per step (rolling mean) and per epoch; the band spans the seeds."),
    ("validation_curves", "Validation accuracy (a) and validation loss (b) per epoch, mean and range over seeds."),
    ("reliability", "Reliability diagrams before and after temperature scaling, pooled over seeds."),
    (
        "confusion",
        "Confusion matrices of the selected epoch, summed over seeds; rows are gold classes, normalised to 100%.",
    ),
]
# How the runs of a dataset chose their epoch (`analysis.select_epoch`, auto resolved), as the report says it.
SELECTION_TEXT = {
    "holdout": "epoch with the best accuracy on the held-out slice of train",
    "best": "epoch with the best validation accuracy (this dataset has no holdout: optimistic)",
    "last": "last epoch",
}
# The report rule's inputs that exist once per dataset (the rest, run metadata and token statistics, per run or backbone).
PER_DATASET = [
    "summary",
    "per_class",
    "data_card",
    "calibration",
    "misclassified",
    "overconfidence",
    "failure_modes",
    "shortcut_words",
    "word_groups",
    "label_issues",
    "why",
] + [f"{name}_{kind}" for name, _ in FIGURES for kind in ("png", "pdf")]
# Once per dataset and LLM entry, in results/{dataset}/llm/{entry}/.
PER_ENTRY = ["llm_summary", "llm_table", "cascade_points", "cascade_summary", "cascade_png", "cascade_pdf"]


def _records(path) -> list[dict]:
    return pd.read_csv(path).to_dict("records") if path else []


def _study_reference(model: str, reference: dict) -> dict | None:
    """The study's numbers when the backbone is one it used (matched by hub id or folder name)."""
    return reference.get(model) or reference.get(Path(model).name)


def split_inputs(inputs: dict, datasets: list[str]) -> dict[str, dict]:
    """The report rule's inputs regrouped per dataset: per-dataset lists are in the order of `datasets`; run
    metadata and token statistics are assigned by their folder, results/{dataset}/..."""
    grouped = {name: {} for name in datasets}
    for key, value in inputs.items():
        if key in PER_DATASET:
            for name, path in zip(datasets, value, strict=True):
                grouped[name][key] = path
        elif key in ("metadata", "token_stats", "attribution"):
            for name in datasets:
                grouped[name][key] = [p for p in value if Path(p).parts[1:2] == (name,)]
        elif key in PER_ENTRY:
            for path in value:
                _, dataset, _, entry = Path(path).parts[:4]
                grouped[dataset].setdefault("llm", {}).setdefault(entry, {})[key] = path
    return grouped


def flatten(settings: dict, prefix: str = "") -> dict:
    """Nested settings as dotted keys (`fast.precision`), so that no dictionary is ever printed whole."""
    flat = {}
    for key, value in settings.items():
        if isinstance(value, dict):
            flat |= flatten(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def collect_dataset(name: str, inputs: dict, settings: dict) -> dict:
    """One dataset's section of the report."""
    summary = json.loads(Path(inputs["summary"]).read_text())
    card = json.loads(Path(inputs["data_card"]).read_text())
    dataset = settings["datasets"][name]
    reference = dataset.get("reference", {})
    backbones = []
    for row in summary["backbones"]:
        study = (
            _study_reference(row["model"], reference) if row["variant"] == "base" else None
        )  # the study's own recipe only
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
    calibration = pd.read_csv(inputs["calibration"])
    cal_rows = (
        calibration.groupby(["backbone", "stage"], sort=False)[
            ["temperature", "ece", "classwise_ece", "mce", "brier", "nll", "accuracy"]
        ]
        .mean()
        .reset_index()
        .to_dict("records")
    )
    errors = pd.read_csv(inputs["misclassified"])
    top_errors = with_texts(errors.sort_values("confidence", ascending=False).head(settings["report"]["top_errors"]))
    llm = []
    for entry, files in inputs.get("llm", {}).items():
        table = pd.read_csv(files["llm_table"])
        hard = table[table["group"] == "error"].head(settings["report"]["top_errors"])
        cascade = json.loads(Path(files["cascade_summary"]).read_text()) if files.get("cascade_summary") else None
        answers = json.loads(Path(files["llm_summary"]).read_text())
        groups = {name: answers["groups"].get(name, {}).get("llm_accuracy") for name in ("error", "control")}
        llm.append({"name": entry, "summary": answers, "hard_cases": with_texts(hard), "cascade": cascade,
                    "stem": cascade_stem(entry), "errors_accuracy": groups["error"], "control_accuracy": groups["control"]})  # fmt: skip
    configured = settings.get("llm_models", {}).get(name, [])
    # The hard cases once, with every entry's answer beside the encoders' (the error set does not depend on the entry).
    hard_cases = []
    if llm:
        answers = {e["name"]: pd.read_csv(inputs["llm"][e["name"]]["llm_table"]).set_index("index") for e in llm}
        for case in llm[0]["hard_cases"]:
            case = dict(case)
            case["llm"] = {entry: (table.loc[case["index"], "llm_predicted"], table.loc[case["index"], f"llm_prob_{case['gold']}"])
                           if case["index"] in table.index else ("–", None) for entry, table in answers.items()}  # fmt: skip
            hard_cases.append(case)
    truncation = []
    for path in inputs.get("token_stats", []):
        stats = json.loads(Path(path).read_text())
        for split, numbers in stats["splits"].items():
            truncation.append(
                {"backbone": Path(path).stem, "split": split, "max_length": stats["max_length"]} | numbers
            )
    seeds = sorted({r["seed"] for r in summary["runs"]})
    n_val = summary["validation_sentences"]
    return {
        "name": name,
        "labels": card["labels"],
        "splits": card["splits"],
        "validation_in_train": card["validation_in_train"],
        "cleaning": card.get("cleaning", {"steps": [], "texts_changed": {}}),
        "max_train_rows": dataset.get("max_train_rows"),
        "has_reference": bool(reference),
        "truncation": truncation,
        "seeds": seeds,
        "backbones": backbones,
        "per_class": _records(inputs["per_class"]),
        "missing_runs": summary["missing_runs"],
        "mcnemar": summary["mcnemar"],
        "variants": summary["variants"],
        "validation_sentences": n_val,
        "top_errors": top_errors,
        "text_header": "sentence pair (first ⟶ second)" if "text_pair" in errors else "sentence",
        "error_columns": [c for c in errors.columns if c.endswith("_predicted")],
        "overconfidence": json.loads(Path(inputs["overconfidence"]).read_text())["backbones"],
        "failure_modes": _records(inputs["failure_modes"]),
        "calibration": cal_rows,
        "calibration_method": calibration["method"].iloc[0] if len(calibration) else None,
        "llm": llm,
        "llm_missing": [e for e in configured if e not in {x["name"] for x in llm}],
        "llm_hard_cases": hard_cases,
        "selection_text": SELECTION_TEXT.get(summary["select_epoch"], summary["select_epoch"]),
        "why": report_why.collect(inputs, errors, card["labels"], settings),
        "limitations": limitations(
            name, len(seeds), n_val, max(b["selected_accuracy"] for b in backbones), summary, dataset
        ),
    }


def with_texts(table: pd.DataFrame) -> list[dict]:
    """The rows as records, each with `texts`: its sentence, or both texts of a pair, for the templates to show."""
    fields = [field for field in ("sentence", "text_pair") if field in table]
    return [record | {"texts": [record[field] for field in fields]} for record in table.to_dict("records")]


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


def collect(grouped: dict[str, dict], metadata_paths: list, settings: dict) -> dict:
    """Everything the templates show, computed once so that HTML and LaTeX always agree (inputs as split_inputs gives them)."""
    sections = [collect_dataset(name, inputs, settings) for name, inputs in grouped.items()]
    metadata = [json.loads(Path(p).read_text()) for p in metadata_paths]
    hyperparameters = list(flatten(settings["training"]).items())
    half = -(-len(hyperparameters) // 2)
    return {
        "title": settings["report"]["title"],
        "generated": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "datasets": sections,
        "across": across_datasets(sections).to_dict("records"),
        # Two key-value columns side by side: a long list that still fits one page width.
        "hyperparameters": [
            (hyperparameters[i], hyperparameters[i + half] if i + half < len(hyperparameters) else None)
            for i in range(half)
        ],
        "variants": [
            {
                "name": name,
                "changes": ", ".join(f"{k}={v}" for k, v in flatten(settings["variants"][name]).items())
                or "the settings above",
            }
            for name in settings.get("variant_order", settings["variants"])
        ],
        "bootstrap": settings["analysis"]["bootstrap"],
        "versions": metadata[0]["versions"],
        # This checkout's version, also where the package is not installed (metadata says None there).
        "version": sentiflow.__version__,
        "devices": sorted({m["hardware"]["device_name"] for m in metadata}),
        "total_hours": sum(m["total_seconds"] for m in metadata) / 3600,
        "runs": len(metadata),
        "figures": [dict(zip(("name", "caption"), f)) for f in FIGURES],
        "llm_enabled": settings["llm_enabled"],
    }


def limitations(name: str, n_seeds: int, n_val: int, accuracy: float, summary: dict, dataset: dict) -> list[str]:
    """Caveats computed from this dataset's runs, not boilerplate."""
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
            f"Each run's epoch is chosen on {dataset.get('holdout_rows', 0):,} held-out training sentences, so the "
            "headline accuracy is unbiased; the best-on-validation column is chosen on the sentences it is scored on, "
            "as the study reported, and is optimistic."
        )
    elif summary["select_epoch"] == "best":
        items.append(
            "The epoch is chosen on the validation set that also reports its accuracy (this dataset has no holdout), "
            "so the headline accuracy is optimistic; last-epoch accuracy is the unbiased figure."
        )
    if dataset.get("max_train_rows"):
        items.append(
            f"Training used a random subset of {dataset['max_train_rows']:,} training sentences, not the full split."
        )
    if summary["missing_runs"]:
        names = ", ".join(f"{m['backbone']} seed {m['seed']}" for m in summary["missing_runs"])
        items.append(f"Missing runs, excluded from every table: {names}.")
    items.append(
        "Failure modes are measured with rule-based cue lexicons: a cue marks a sentence, not the reason for an error."
    )
    return items


# ----------------------------------------------------------------------------------------------------------
# Rendering

_LATEX_SPECIAL = {
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_\allowbreak{}",  # labels such as not_entailment may break after the underscore in a narrow column
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "\\": r"\textbackslash{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
}


# What pdflatex (utf8 inputenc, T1 fonts) typesets beyond ASCII: Latin-1 and Latin Extended-A but for the letters
# T1 lacks, and common punctuation. Text from data holds more: control characters (GLUE's RTE has the mojibake
# "Iraq\u00e2\u0080\u0099s", whose C1 controls stop pdflatex), which are invisible and dropped, and other scripts,
# which are shown as "?" in the PDF (the HTML report shows them as they are).
_T1_MISSING = set("\u0126\u0127\u0138\u013f\u0140\u0149\u0166\u0167\u017f")
_TEX_PUNCTUATION = set(
    "\u2013\u2014\u2018\u2019\u201a\u201c\u201d\u201e\u2020\u2021\u2022\u2026\u2030\u2039\u203a\u20ac\u2122"
)


def _typesettable(char: str) -> str:
    if " " <= char <= "~" or ("\u00a0" <= char <= "\u017f" and char not in _T1_MISSING) or char in _TEX_PUNCTUATION:
        return char
    if char in "\t\n\r":
        return " "
    return "" if unicodedata.category(char) == "Cc" else "?"


def latex_escape(value) -> str:
    text = "".join(map(_typesettable, str(value)))
    return re.sub(r"[&%$#_{}~^\\<>]", lambda m: _LATEX_SPECIAL[m.group()], text)


def fmt(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def signed(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:+.{digits}f}"


def pvalue(value) -> str:
    if value is None or math.isnan(value):  # e.g. a t-test over a single seed
        return "–"
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def _environment(folder: Path, latex: bool) -> jinja2.Environment:
    options = {
        "loader": jinja2.FileSystemLoader(folder),
        "undefined": jinja2.StrictUndefined,
        "trim_blocks": True,
        "lstrip_blocks": True,
    }
    if latex:  # LaTeX is full of braces and percent signs: use delimiters that cannot clash
        options |= {
            "block_start_string": r"\BLOCK{",
            "block_end_string": "}",
            "variable_start_string": r"\VAR{",
            "variable_end_string": "}",
            "comment_start_string": r"\#{",
            "comment_end_string": "}",
            "autoescape": False,
        }
    else:
        options["autoescape"] = True
    env = jinja2.Environment(**options)
    env.filters.update(
        fmt=fmt,
        signed=signed,
        pvalue=pvalue,
        tex=latex_escape,
        basename=lambda path: Path(str(path)).name,
        pct=lambda v: fmt(100 * v, 1) if v is not None else "–",
    )
    return env


def _numbering(env: jinja2.Environment) -> None:
    """`number('table')`, `number('figure')`: the next number of that kind, so that a dataset's section never leaves a gap."""
    counters: dict[str, int] = {}

    def number(kind: str) -> int:
        counters[kind] = counters.get(kind, 0) + 1
        return counters[kind]

    env.globals["number"] = number


def render(
    inputs: dict,
    datasets: list[str],
    settings: dict,
    html_template,
    tex_template,
    *,
    html,
    datasets_table,
    tex,
    tex_figures: list,
) -> dict:
    """The report rule: HTML with figures embedded, LaTeX with figure PDFs beside it, and the table across datasets."""

    grouped = split_inputs(inputs, datasets)
    context = collect(grouped, inputs["metadata"], settings)

    def inline(path) -> str:
        return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode()

    embedded = {name: {figure: inline(grouped[name][f"{figure}_png"]) for figure, _ in FIGURES} for name in datasets}
    for name in datasets:
        for entry, files in grouped[name].get("llm", {}).items():
            if files.get("cascade_png"):
                embedded[name][cascade_stem(entry)] = inline(files["cascade_png"])
    page_env = _environment(Path(html_template).parent, latex=False)
    _numbering(page_env)
    page = page_env.get_template(Path(html_template).name)
    with atomic_path(html) as tmp:
        tmp.write_text(page.render(context | {"images": embedded}), encoding="utf-8")

    document_env = _environment(Path(tex_template).parent, latex=True)
    _numbering(document_env)
    document = document_env.get_template(Path(tex_template).name)
    for target in map(
        Path, tex_figures
    ):  # beside the .tex, where \includegraphics looks: figures/{dataset}/{figure}.pdf
        files = grouped[target.parent.name]
        entries = {cascade_stem(entry): entry for entry in files.get("llm", {})}
        source = (
            files["llm"][entries[target.stem]]["cascade_pdf"] if target.stem in entries else files[f"{target.stem}_pdf"]
        )
        with atomic_path(target) as tmp:
            shutil.copyfile(source, tmp)
    with atomic_path(tex) as tmp:
        tmp.write_text(document.render(context), encoding="utf-8")
    write_csv(datasets_table, pd.DataFrame(context["across"]))
    return context


def compile_pdf(tex, pdf) -> None:
    """Run pdflatex twice (long tables settle their widths on the second pass) in the .tex file's folder."""
    import subprocess

    tex, pdf = Path(tex), Path(pdf)
    if shutil.which("pdflatex") is None:
        raise RuntimeError(
            "pdflatex is not installed; install TeX Live (Debian: texlive-latex-recommended) or set report.pdf: false"
        )
    for _ in range(2):
        result = subprocess.run(
            ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex.name],
            cwd=tex.parent,
            capture_output=True,
            text=True,
        )
        print(result.stdout)
        if result.returncode != 0:
            raise RuntimeError(f"pdflatex failed on {tex} (see the log above and {tex.with_suffix('.log')})")
    produced = tex.with_suffix(".pdf")
    if produced != pdf:
        produced.replace(pdf)
