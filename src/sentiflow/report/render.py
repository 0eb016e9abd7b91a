"""Render the study as one self-contained HTML page and a LaTeX document, from the context `collect` computes."""

from __future__ import annotations

import base64
import math
import re
import shutil
import subprocess
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import jinja2
import pandas as pd

from sentiflow.atomic import atomic_path, write_csv
from sentiflow.report.collect import collect
from sentiflow.report.figures import latex_figure
from sentiflow.report.inputs import DatasetInputs
from sentiflow.report.sections import figures
from sentiflow.report.settings import ReportSettings

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


@dataclass(frozen=True)
class Templates:
    """The two documents' Jinja templates; the parts they include are found beside them."""

    html: Path
    tex: Path


@dataclass(frozen=True)
class ReportOutputs:
    html: Path
    tex: Path  # the figures' PDFs are written beside it, in figures/{dataset}/ (sentiflow.report.figures)
    datasets_table: Path


def _inline(path) -> str:
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode()


def embedded_images(datasets: list[DatasetInputs]) -> dict[str, dict[str, str]]:
    """Per dataset, every figure the HTML page shows as a data URI, by its stem (sections.figures)."""
    return {inputs.name: {stem: _inline(f.png) for stem, f in figures(inputs).items()} for inputs in datasets}


def latex_figures(datasets: list[DatasetInputs]) -> dict[str, Path]:
    """Every figure's PDF the LaTeX document includes, by its path relative to the .tex file."""
    return {latex_figure(inputs.name, stem): f.pdf for inputs in datasets for stem, f in figures(inputs).items()}


def _template(path: Path, latex: bool) -> jinja2.Template:
    env = _environment(Path(path).parent, latex)
    _numbering(env)
    return env.get_template(Path(path).name)


def render(
    datasets: list[DatasetInputs], settings: ReportSettings, templates: Templates, outputs: ReportOutputs
) -> dict:
    """The report rule: HTML with figures embedded, LaTeX with figure PDFs beside it, and the table across datasets."""
    context = collect(datasets, settings)
    page = _template(templates.html, latex=False).render(context | {"images": embedded_images(datasets)})
    with atomic_path(outputs.html) as tmp:
        tmp.write_text(page, encoding="utf-8")
    for target, source in latex_figures(datasets).items():
        with atomic_path(Path(outputs.tex).parent / target) as tmp:
            shutil.copyfile(source, tmp)
    document = _template(templates.tex, latex=True).render(context)
    with atomic_path(outputs.tex) as tmp:
        tmp.write_text(document, encoding="utf-8")
    write_csv(outputs.datasets_table, pd.DataFrame(context["across"]))
    return context


def compile_pdf(tex, pdf) -> None:
    """Run pdflatex twice (long tables settle their widths on the second pass) in the .tex file's folder."""
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
