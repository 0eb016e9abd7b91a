"""Hand-made files in the behaviour stage's contract (docs/outputs.md): a suite.jsonl and score tables; and the
report's LaTeX preamble around a section's fragment, compiled."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import REPO

from sentiflow.behaviour.summary import EncoderFiles, LLMFiles

SST2 = ["negative", "positive"]


def case(name: str, test: str, kind: str, texts: list[str], cluster: str, **fields) -> dict:
    """A suite line; `fields` may set probes, expected_labels, expected_polarity, direction, texts_b, edits, source."""
    return {
        "case": name,
        "test": test,
        "type": kind,
        "probes": fields.get("probes", "negation_contrast"),
        "source": fields.get("source", f"template:{cluster}" if kind == "MFT" else cluster),
        "cluster": cluster,
        "texts": texts,
        "texts_b": fields.get("texts_b"),
        "edits": fields.get("edits"),
        "expected_labels": fields.get("expected_labels"),
        "expected_polarity": fields.get("expected_polarity"),
        "direction": fields.get("direction"),
    }


def write_suite(path: Path, cases: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(c) + "\n" for c in cases), encoding="utf-8")
    return path


def write_scores(path: Path, probs: dict[str, list], classes: int) -> Path:
    """`probs`: case -> seeds x items x classes (nested lists); seeds are numbered 0, 1, ... unless the case's
    value is a dict {seed: items x classes}."""
    rows = []
    for name, given in probs.items():
        per_seed = given if isinstance(given, dict) else dict(enumerate(given))
        for seed, items in per_seed.items():
            for item, p in enumerate(items):
                rows.append(
                    {"case": name, "item": item, "seed": int(seed)} | {f"prob_{k}": float(p[k]) for k in range(classes)}
                )
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_parquet(path, index=False)
    return path


def two(p_positive: float) -> list[float]:
    """Probabilities over (negative, positive)."""
    return [1 - p_positive, p_positive]


def onehot(k: int, classes: int, weight: float = 0.9) -> list[float]:
    p = np.full(classes, (1 - weight) / (classes - 1))
    p[k] = weight
    return p.tolist()


def study_files(folder) -> dict:
    """A two-class suite (an MFT over two templates, an INV over two sentences), two run groups of two seeds, an
    LLM entry asked about three cases, its cascade, the errors stage's failure modes and the aggregate summary."""
    neg = ["negative"]
    cases = [
        case("neg/0", "negation", "MFT", ["The acting was not <b>good</b> & 100% $dull_."], "t0", expected_labels=neg),
        case("neg/1", "negation", "MFT", ["The plot was not great."], "t0", expected_labels=neg),
        case("neg/2", "negation", "MFT", ["It is not fine."], "t1", expected_labels=neg),
        case("names/0", "names", "INV", ["Tom is great.", "<script>x</script> is great."], "validation:4",
             probes="shortcuts"),
        case("names/1", "names", "INV", ["Ann is dull.", "Bo is dull."], "validation:9", probes="shortcuts",
             edits=[[["ann", "bo"]]]),
    ]  # fmt: skip
    suite = write_suite(folder / "suite.jsonl", cases)
    # minilm fails neg/0 in both seeds and names/0 in seed 1; the variant fails only neg/2 in seed 0.
    base = {
        "neg/0": [[two(0.9)], [two(0.8)]],
        "neg/1": [[two(0.2)], [two(0.3)]],
        "neg/2": [[two(0.1)], [two(0.2)]],
        "names/0": [[two(0.9), two(0.8)], [two(0.9), two(0.3)]],
        "names/1": [[two(0.1), two(0.2)]] * 2,
    }
    variant = base | {
        "neg/0": [[two(0.2)], [two(0.3)]],
        "neg/2": [[two(0.7)], [two(0.2)]],
        "names/0": [[two(0.9), two(0.8)]] * 2,
    }
    llm = {"neg/0": [[two(0.1)]], "neg/2": [[two(0.6)]], "names/0": [[two(0.6), two(0.9)]]}  # fmt: skip
    cascade = {"backbones": {"minilm": {"threshold": 0.8}, "minilm+lr-1e-4": {"threshold": 0.5}}}
    (folder / "cascade.json").write_text(json.dumps(cascade))
    aggregate = {"backbones": [{"backbone": "minilm", "selected_accuracy": 0.81},
                               {"backbone": "minilm+lr-1e-4", "selected_accuracy": 0.78}]}  # fmt: skip
    (folder / "aggregate.json").write_text(json.dumps(aggregate))
    modes = pd.DataFrame({"backbone": ["minilm"] * 3, "cue": ["negation", "contrast", "question"], "sentences": [40, 30, 5],
                          "error_rate_with": [0.25, 0.3, 0.1], "error_rate_without": [0.17, 0.16, 0.2],
                          "difference_ci_low": [0.01, 0.05, -0.2], "difference_ci_high": [0.15, 0.2, 0.1]})  # fmt: skip
    modes.to_csv(folder / "failure_modes.csv", index=False)
    return {
        "suite": suite,
        "encoders": [
            EncoderFiles("minilm", "base", "minilm", write_scores(folder / "e" / "base.parquet", base, 2)),
            EncoderFiles("minilm", "lr-1e-4", "minilm+lr-1e-4", write_scores(folder / "e" / "lr.parquet", variant, 2)),
        ],
        "llms": [LLMFiles("smollm2", write_scores(folder / "llm.parquet", llm, 2), folder / "cascade.json")],
        "failure_modes": folder / "failure_modes.csv",
        "aggregate": folder / "aggregate.json",
    }


def summary_outputs(folder) -> dict:
    names = ["failure_rates", "comparisons", "association", "failing_cases"]
    return {name: folder / f"{name}.csv" for name in names} | {
        "summary": folder / "summary.json", "png": folder / "behaviour.png", "pdf": folder / "behaviour.pdf"}  # fmt: skip


def compile_with_report_preamble(tex: str, folder: Path) -> None:
    """Compile a section's LaTeX inside the report template's preamble with pdflatex (skipped without it)."""
    if shutil.which("pdflatex") is None:
        pytest.skip("needs pdflatex (Debian texlive-latex-base; .ci/run installs it)")
    lines = (REPO / "report" / "report.tex.j2").read_text().splitlines()
    preamble = "\n".join(
        line for line in lines if line.startswith(("\\documentclass", "\\usepackage", "\\newcolumntype"))
    )
    (folder / "t.tex").write_text(preamble + "\n\\begin{document}\n\\section{x}\n" + tex + "\n\\end{document}\n")
    result = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "t.tex"], cwd=folder,
                            capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:]
