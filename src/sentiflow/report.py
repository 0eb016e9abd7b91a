"""Render the study as one self-contained HTML page and a LaTeX document, from the earlier stages' outputs."""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
import re
import shutil
from pathlib import Path

import jinja2
import pandas as pd

from sentiflow.atomic import atomic_path

FIGURES = [
    ("training_loss", "Figure 1", "Training loss per step (rolling mean) and per epoch; the band spans the seeds."),
    ("validation_curves", "Figure 2", "Validation accuracy (a) and validation loss (b) per epoch, mean and range over seeds."),
    ("reliability", "Figure 3", "Reliability diagrams before and after temperature scaling, pooled over seeds."),
]


def _records(path) -> list[dict]:
    return pd.read_csv(path).to_dict("records") if path else []


def _study_reference(model: str, reference: dict) -> dict | None:
    """The study's numbers when the backbone is one it used (matched by hub id or folder name)."""
    return reference.get(model) or reference.get(Path(model).name)


def collect(inputs: dict, settings: dict) -> dict:
    """Everything the templates show, computed once so that HTML and LaTeX always agree."""
    summary = json.loads(Path(inputs["summary"]).read_text())
    card = json.loads(Path(inputs["data_card"]).read_text())
    metadata = [json.loads(Path(p).read_text()) for p in inputs["metadata"]]
    runs = pd.read_csv(inputs["runs"])
    reference = settings["report"]["reference"]
    first = metadata[0]

    backbones = []
    for row in summary["backbones"]:
        study = _study_reference(row["model"], reference)
        backbones.append(row | {
            "study": study,
            "best_diff": row["best_accuracy_mean"] - study["best"] if study else None,
            "last_diff": row["last_accuracy_mean"] - study["last"] if study else None,
            "minutes_per_epoch": row["epoch_seconds_mean"] / 60,
            "study_minutes_per_epoch": study["minutes"] / study["epochs"] if study else None,
        })
    epochs = settings["training"]["epochs"]
    n_val = summary["validation_sentences"]
    calibration = pd.read_csv(inputs["calibration"])
    cal_rows = (
        calibration.groupby(["backbone", "stage"], sort=False)[["temperature", "ece", "mce", "brier", "nll", "accuracy"]]
        .mean().reset_index().to_dict("records")
    )
    errors = pd.read_csv(inputs["misclassified"])
    top_errors = errors.sort_values("confidence", ascending=False).head(settings["report"]["top_errors"]).to_dict("records")
    overconfidence = json.loads(Path(inputs["overconfidence"]).read_text())["backbones"]

    llm = None
    if inputs.get("llm_summary"):
        llm_summary = json.loads(Path(inputs["llm_summary"]).read_text())
        table = pd.read_csv(inputs["llm_table"])
        hard = table[table["group"] == "error"].head(settings["report"]["top_errors"])
        llm = {"summary": llm_summary, "hard_cases": hard.to_dict("records"), "columns": list(table.columns)}

    best_accuracy = max(b["selected_accuracy"] for b in backbones)
    seeds = sorted({r["seed"] for r in summary["runs"]})
    context = {
        "title": settings["report"]["title"],
        "generated": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "dataset": {"name": card.get("name"), "splits": card["splits"], "validation_in_train": card["validation_in_train"],
                    "max_train_rows": settings["dataset"].get("max_train_rows"), "labels": card["labels"]},
        "hyperparameters": settings["training"],
        "seeds": seeds,
        "backbones": backbones,
        "runs": runs.to_dict("records"),
        "missing_runs": summary["missing_runs"],
        "selected_epoch": summary["selected_epoch"],
        "bootstrap": summary["bootstrap"],
        "mcnemar": summary["mcnemar"],
        "versions": first["versions"],
        "devices": sorted({m["hardware"]["device_name"] for m in metadata}),
        "total_hours": sum(m["total_seconds"] for m in metadata) / 3600,
        "figures": [dict(zip(("name", "label", "caption"), f)) for f in FIGURES],
        "top_errors": top_errors,
        "error_columns": [c for c in errors.columns if c.endswith("_predicted")],
        "overconfidence": overconfidence,
        "failure_modes": _records(inputs["failure_modes"]),
        "calibration": cal_rows,
        "calibration_method": calibration["method"].iloc[0] if len(calibration) else None,
        "llm": llm,
        "llm_enabled": settings["llm_enabled"],
        "epochs": epochs,
        "validation_sentences": n_val,
        "limitations": limitations(len(seeds), n_val, best_accuracy, summary, settings),
    }
    return context


def limitations(n_seeds: int, n_val: int, accuracy: float, summary: dict, settings: dict) -> list[str]:
    """Caveats computed from this run, not boilerplate."""
    half_width = 1.96 * math.sqrt(accuracy * (1 - accuracy) / n_val)
    items = [
        f"{n_seeds} seed{'s' if n_seeds != 1 else ''} per backbone: the spread over seeds "
        + ("is estimated from few runs." if n_seeds < 5 else "is an estimate of seed variance."),
        f"With {n_val} validation sentences, accuracy near {accuracy:.3f} carries a 95% interval of about "
        f"±{half_width:.3f} ({half_width * n_val:.0f} sentences); differences between backbones smaller than that are "
        "not resolved by this set, which is why paired McNemar tests are reported.",
    ]
    if summary["selected_epoch"] == "best":
        items.append("The best epoch is chosen on the validation set that also reports its accuracy, so best-epoch "
                     "accuracy is optimistic; last-epoch accuracy is the unbiased figure.")
    if settings["dataset"].get("max_train_rows"):
        items.append(f"Training used a random subset of {settings['dataset']['max_train_rows']:,} training sentences, not the full split.")
    if summary["missing_runs"]:
        names = ", ".join(f"{m['backbone']} seed {m['seed']}" for m in summary["missing_runs"])
        items.append(f"Missing runs, excluded from every table: {names}.")
    items.append("Failure modes are measured with rule-based cue lexicons: a cue marks a sentence, not the reason for an error.")
    return items


# ----------------------------------------------------------------------------------------------------------
# Rendering

_LATEX_SPECIAL = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
                  "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}",
                  "<": r"\textless{}", ">": r"\textgreater{}"}


def latex_escape(value) -> str:
    return re.sub(r"[&%$#_{}~^\\<>]", lambda m: _LATEX_SPECIAL[m.group()], str(value))


def fmt(value, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def signed(value, digits: int = 3) -> str:
    return "–" if value is None else f"{value:+.{digits}f}"


def pvalue(value) -> str:
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def _environment(folder: Path, latex: bool) -> jinja2.Environment:
    options = dict(loader=jinja2.FileSystemLoader(folder), undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    if latex:  # LaTeX is full of braces and percent signs: use delimiters that cannot clash
        options |= dict(block_start_string=r"\BLOCK{", block_end_string="}", variable_start_string=r"\VAR{",
                        variable_end_string="}", comment_start_string=r"\#{", comment_end_string="}", autoescape=False)
    else:
        options["autoescape"] = True
    env = jinja2.Environment(**options)
    env.filters.update(fmt=fmt, signed=signed, pvalue=pvalue, tex=latex_escape, pct=lambda v: fmt(100 * v, 1) if v is not None else "–")
    return env


def render(inputs: dict, settings: dict, html_template, tex_template, *, html, tex, tex_figures: dict) -> dict:
    """The report rule: HTML with figures embedded, LaTeX with figure PDFs beside it."""
    context = collect(inputs, settings)
    figures = {name: Path(inputs[f"{name}_png"]) for name, _, _ in FIGURES}
    embedded = {name: "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode() for name, path in figures.items()}

    page = _environment(Path(html_template).parent, latex=False).get_template(Path(html_template).name)
    with atomic_path(html) as tmp:
        tmp.write_text(page.render(context | {"images": embedded}), encoding="utf-8")

    document = _environment(Path(tex_template).parent, latex=True).get_template(Path(tex_template).name)
    for name, _, _ in FIGURES:  # beside the .tex, where \includegraphics looks
        with atomic_path(tex_figures[name]) as tmp:
            shutil.copyfile(inputs[f"{name}_pdf"], tmp)
    with atomic_path(tex) as tmp:
        tmp.write_text(document.render(context), encoding="utf-8")
    return context


def compile_pdf(tex, pdf) -> None:
    """Run pdflatex twice (long tables settle their widths on the second pass) in the .tex file's folder."""
    import subprocess

    tex, pdf = Path(tex), Path(pdf)
    if shutil.which("pdflatex") is None:
        raise RuntimeError("pdflatex is not installed; install TeX Live (Debian: texlive-latex-recommended) or set report.pdf: false")
    for _ in range(2):
        result = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", tex.name],
                                cwd=tex.parent, capture_output=True, text=True)
        print(result.stdout)
        if result.returncode != 0:
            raise RuntimeError(f"pdflatex failed on {tex} (see the log above and {tex.with_suffix('.log')})")
    produced = tex.with_suffix(".pdf")
    if produced != pdf:
        produced.replace(pdf)
