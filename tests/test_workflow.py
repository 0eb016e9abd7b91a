"""The Snakemake workflow itself: configuration, linting, dry runs, and the end-to-end smoke run."""

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile

import pandas as pd
import pytest
import yaml

from conftest import REPO, SNAKEMAKE, smoke_config, snakemake

def documented_paths(backbone: str, seed: int) -> list[str]:
    """Every path in the first column of docs/outputs.md, with the wildcards filled in."""
    text = (REPO / "docs" / "outputs.md").read_text()
    patterns = re.findall(r"^\| `([^`]+)` \|", text, flags=re.M)
    assert len(patterns) >= 25
    return [p.format(backbone=backbone, seed=seed) for p in patterns]


def test_lint_and_format_are_clean():
    lint = subprocess.run(SNAKEMAKE + ["--lint"], capture_output=True, text=True, cwd=REPO)
    assert lint.returncode == 0 and "Congratulations" in lint.stdout + lint.stderr, lint.stdout + lint.stderr
    fmt = subprocess.run([sys.executable, "-m", "snakefmt", "--check", "Snakefile", "workflow"], capture_output=True, text=True, cwd=REPO)
    assert fmt.returncode == 0, fmt.stderr


def test_default_config_plans_the_study(tmp_path):
    # No --configfile: config/config.yaml, two backbones times three seeds.
    result = subprocess.run(SNAKEMAKE + ["--dry-run", "--cores", "4", "--resources", "gpu=1"], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", result.stdout, flags=re.M))
    counts.pop("total")
    assert counts == {
        "prepare_data": "1", "tokenize": "2", "train": "6", "aggregate": "1", "misclassified": "1",
        "calibration": "1", "plot_curves": "1", "plot_reliability": "1", "llm_compare": "1", "report": "1",
        **({"report_pdf": "1"} if shutil.which("pdflatex") else {}), "all": "1",
    }


def test_a_config_file_replaces_the_defaults(tmp_path):
    # The smoke config's single backbone must not be merged with the study's two.
    result = snakemake(tmp_path, smoke_config(), "--dry-run", "--cores", "2")
    assert re.search(r"^train\s+2$", result.stdout, flags=re.M)
    assert "distilbert" not in result.stdout


@pytest.mark.parametrize(
    "change, message",
    [
        ({"training": {"learning_rate": -1}}, r"-1 is less than or equal to the minimum of 0"),
        ({"seeds": []}, r"\[\] should be non-empty"),
        ({"training": {"optimiser": "sgd"}}, r"Additional properties are not allowed \('optimiser' was unexpected\)"),
        ({"dataset": {"source": "files", "files": {"train": "x.tsv"}}}, r"'validation' is a required property"),
    ],
)
def test_invalid_config_is_refused_with_the_key_named(tmp_path, change, message):
    config = smoke_config()
    for section, values in change.items():
        config[section] = config[section] | values if isinstance(values, dict) else values
    result = snakemake(tmp_path, config, "--dry-run", "--cores", "1", check=False)
    assert result.returncode != 0
    assert re.search(message, result.stdout + result.stderr), result.stdout + result.stderr


def test_environment_files_pin_the_requirements():
    pins = [line for line in (REPO / "requirements.txt").read_text().splitlines() if line and not line.startswith("#")]
    env = yaml.safe_load((REPO / "workflow" / "envs" / "sentiflow.yaml").read_text())
    pip = next(item["pip"] for item in env["dependencies"] if isinstance(item, dict))
    assert pip == pins
    assert all("==" in pin for pin in pins)


def test_bad_data_fails_the_rule_with_file_and_line(tmp_path):
    train = tmp_path / "train.tsv"
    train.write_text("sentence\tlabel\ngood film \t1\nbad film \t0\n")
    validation = tmp_path / "dev.tsv"
    validation.write_text("sentence\tlabel\nnice \t1\n \t0\n")
    config = smoke_config(dataset={"files": {"train": str(train), "validation": str(validation)}, "max_train_rows": None, "holdout_rows": 0})
    result = snakemake(tmp_path / "run", config, "--cores", "1", "results/data/data_card.json", check=False)
    assert result.returncode != 0
    assert f"{validation}: line 3: empty text" in result.stderr + (tmp_path / "run/logs/prepare_data.log").read_text()
    assert not (tmp_path / "run" / "results" / "data").exists() or not any((tmp_path / "run" / "results" / "data").iterdir())


@pytest.mark.e2e
def test_smoke_run_reaches_the_accuracy_bar_for_every_seed(smoke_run):
    workdir, config = smoke_run
    assert config["dataset"]["max_train_rows"] >= 4000 and config["training"]["epochs"] == 1
    for seed in config["seeds"]:
        metadata = json.loads((workdir / f"results/runs/minilm/seed{seed}/metadata.json").read_text())
        assert metadata["best_val_accuracy"] >= 0.80, (seed, metadata["best_val_accuracy"])
        assert metadata["data"] == {"train_rows": config["dataset"]["max_train_rows"], "validation_rows": 872}


@pytest.mark.e2e
def test_smoke_run_writes_every_documented_output_consistently(smoke_run):
    workdir, config = smoke_run
    assert len(config["seeds"]) == 2
    for seed in config["seeds"]:
        for path in documented_paths("minilm", seed):
            assert (workdir / path).exists(), path
        run = workdir / f"results/runs/minilm/seed{seed}"
        history = pd.read_csv(run / "history.csv")
        predictions = pd.read_csv(run / "predictions.csv")
        assert len(predictions) == 872 and set(predictions["index"]) == set(range(872))
        assert (predictions["pred"] == predictions["gold"]).mean() == history["val_accuracy"].iloc[0]
        holdout = pd.read_csv(run / "holdout_predictions.csv")
        assert len(holdout) == config["dataset"]["holdout_rows"] and holdout["epoch"].unique().tolist() == [1]
        steps = pd.read_csv(run / "steps.csv")
        assert len(steps) == -(-config["dataset"]["max_train_rows"] // 32)
        assert (steps["grad_norm"] > 0).all() and steps["lr"].iloc[0] == config["training"]["learning_rate"]
        metadata = json.loads((run / "metadata.json").read_text())
        assert metadata["hardware"]["torch_threads"] == config["training"]["threads"]
        assert "epoch 1/1" in (workdir / f"logs/train/minilm/seed{seed}.log").read_text()
        assert not (workdir / f"results/resume/minilm/seed{seed}").exists()
    card = json.loads((workdir / "results/data/data_card.json").read_text())
    assert card["splits"]["holdout"]["rows"] == config["dataset"]["holdout_rows"]
    holdout = pd.read_parquet(workdir / "results/data/holdout.parquet")
    train = pd.read_parquet(workdir / "results/data/train.parquet")
    assert set(holdout["index"]).isdisjoint(train["index"])


@pytest.mark.e2e
def test_smoke_run_analysis_outputs(smoke_run):
    import matplotlib.image

    workdir, config = smoke_run
    summary = json.loads((workdir / "results/analysis/summary.json").read_text())
    runs = pd.read_csv(workdir / "results/analysis/runs.csv")
    assert len(runs) == 2 and summary["missing_runs"] == [] and summary["validation_sentences"] == 872
    for seed in config["seeds"]:
        metadata = json.loads((workdir / f"results/runs/minilm/seed{seed}/metadata.json").read_text())
        assert runs.set_index("seed").loc[seed, "best_accuracy"] == metadata["best_val_accuracy"]
    backbone = summary["backbones"][0]
    assert backbone["best_accuracy_mean"] == pytest.approx(runs["best_accuracy"].mean())
    assert backbone["selected_ci_low"] < backbone["selected_accuracy"] < backbone["selected_ci_high"]

    errors = pd.read_csv(workdir / "results/analysis/misclassified/minilm.csv")
    assert len(errors) >= 20 and errors["confidence"].is_monotonic_decreasing
    wrong_somewhere = set()
    for seed in config["seeds"]:
        p = pd.read_csv(workdir / f"results/runs/minilm/seed{seed}/predictions.csv")
        wrong_somewhere |= set(p.loc[p["pred"] != p["gold"], "index"])
    assert set(errors["index"]) == wrong_somewhere
    modes = pd.read_csv(workdir / "results/analysis/failure_modes.csv")
    assert set(modes["cue"]) == set(config["analysis"]["cues"]) and modes.loc[modes["cue"] == "negation", "sentences"].item() > 100

    calibration = pd.read_csv(workdir / "results/analysis/calibration.csv")
    assert set(calibration["method"]) == {"holdout"} and len(calibration) == 4
    after = calibration[calibration["stage"] == "after"]
    assert (after["temperature"] > 0).all() and (after["temperature"] != 1.0).all()

    for name in ("training_loss", "validation_curves", "reliability"):
        image = matplotlib.image.imread(workdir / f"results/figures/{name}.png")
        assert image.shape[0] > 300 and image.shape[1] > 500 and image.std() > 0.01  # a real, non-blank picture
        pdf = (workdir / f"results/figures/{name}.pdf").read_bytes()
        assert pdf.startswith(b"%PDF") and len(pdf) > 5000


@pytest.mark.e2e
def test_smoke_run_llm_comparison(smoke_run):
    workdir, config = smoke_run
    table = pd.read_csv(workdir / "results/llm/predictions.csv")
    summary = json.loads((workdir / "results/llm/summary.json").read_text())
    errors = table[table["group"] == "error"]
    assert len(errors) == config["llm"]["items"]["max_errors"] and (table["group"] == "control").sum() == len(errors)
    assert (errors["minilm_wrong_in_seeds"] > 0).all()
    assert set(table["llm_predicted"]) <= {"negative", "positive"}
    assert summary["items"] == len(table) and summary["seconds_per_item"] > 0
    assert summary["reused_prompt_tokens"] > 0.3 * summary["prompt_tokens"]
    assert summary["backbones"]["minilm"]["llm_fixes"] == int(((table["minilm_predicted"] != table["gold"]) & table["llm_correct"]).sum())


def planned_jobs(result) -> dict:
    return dict(re.findall(r"^(\w+)\s+(\d+)$", result.stdout, flags=re.M))


@pytest.mark.e2e
def test_changing_only_llm_settings_reruns_only_the_llm_rule(smoke_run):
    workdir, config = smoke_run
    changed = json.loads(json.dumps(config))
    changed["llm"]["prompt"]["instruction"] = "Sentence: {sentence}\nIs this review positive or negative?"
    # The LLM rule and what reads it (the report), never data preparation, tokenization, training or analysis.
    expected = {"llm_compare": "1", "report": "1", "all": "1"} | ({"report_pdf": "1"} if shutil.which("pdflatex") else {})
    result = snakemake(workdir, changed, "--dry-run", "--cores", "2")
    assert {k: v for k, v in planned_jobs(result).items() if k != "total"} == expected, result.stdout
    forced = snakemake(workdir, config, "--dry-run", "--cores", "2", "--forcerun", "llm_compare")
    assert {k: v for k, v in planned_jobs(forced).items() if k != "total"} == expected, forced.stdout


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars"]


def chromium(tmp_path, *args) -> subprocess.CompletedProcess:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.skip("needs Chromium (Debian package chromium; .ci/run installs it)")
    return subprocess.run([binary, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.e2e
def test_html_report_in_a_real_browser(smoke_run, tmp_path):
    import matplotlib.image

    workdir, config = smoke_run
    page = (workdir / "results/report/report.html").as_uri()
    shot = tmp_path / "report.png"
    chromium(tmp_path, "--window-size=1200,3000", f"--screenshot={shot}", page)
    image = matplotlib.image.imread(shot)
    assert image.shape[:2] == (3000, 1200) and image.std() > 0.05
    dom = chromium(tmp_path, "--virtual-time-budget=10000", "--dump-dom", page).stdout
    loaded = re.search(r'data-images-loaded="(\d+)" data-images-total="(\d+)"', dom)
    assert loaded and loaded.group(1) == loaded.group(2) == "3", dom[:500]  # every figure decoded
    assert "http://" not in dom.split("<script>")[0] and "https://" not in dom.split("<script>")[0]  # self-contained

    summary = json.loads((workdir / "results/analysis/summary.json").read_text())["backbones"][0]
    table = re.search(r'<table id="accuracy-table".*?</table>', dom, flags=re.S).group(0)
    row = re.search(r"<tr><td class=\"text\">minilm</td>.*?</tr>", table, flags=re.S).group(0)
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", row)
    assert cells[2] == f"{summary['best_accuracy_mean']:.3f}" and cells[4] == f"{summary['last_accuracy_mean']:.3f}"
    assert cells[6] == f"{summary['selected_ci_low']:.3f}–{summary['selected_ci_high']:.3f}"
    assert "Table 12. Hard cases" in dom and "Limitations" in dom


@pytest.mark.e2e
def test_latex_report_compiles_to_a_pdf_with_the_numbers(smoke_run):
    if shutil.which("pdflatex") is None or shutil.which("pdftotext") is None:
        pytest.skip("needs pdflatex and pdftotext (Debian texlive-latex-recommended, poppler-utils; .ci/run installs them)")
    workdir, _ = smoke_run
    pdf = workdir / "results/report/latex/report.pdf"
    pages = int(re.search(r"Pages:\s+(\d+)", subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout).group(1))
    assert pages >= 4
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True).stdout
    summary = json.loads((workdir / "results/analysis/summary.json").read_text())["backbones"][0]
    assert f"{summary['best_accuracy_mean']:.3f}" in text and f"{summary['selected_ci_low']:.3f}" in text
    assert text.count("Figure 1.") >= 1 and "Figure 3." in text
    assert "Type 3" not in subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True).stdout


@pytest.mark.e2e
def test_a_disabled_stage_is_said_so_in_the_report(smoke_run, tmp_path):
    from sentiflow.report import FIGURES, render

    workdir, config = smoke_run
    results = workdir / "results"
    inputs = {
        "summary": results / "analysis/summary.json", "runs": results / "analysis/runs.csv",
        "data_card": results / "data/data_card.json", "calibration": results / "analysis/calibration.csv",
        "metadata": sorted(results.glob("runs/minilm/seed*/metadata.json")),
        "misclassified": results / "analysis/misclassified/all.csv", "overconfidence": results / "analysis/overconfidence.json",
        "failure_modes": results / "analysis/failure_modes.csv",
    } | {f"{name}_{kind}": results / f"figures/{name}.{kind}" for name, _, _ in FIGURES for kind in ("png", "pdf")}
    settings = {"report": config["report"], "training": config["training"], "dataset": config["dataset"], "llm_enabled": False}
    render(inputs, settings, REPO / "report/report.html.j2", REPO / "report/report.tex.j2", html=tmp_path / "r.html",
           tex=tmp_path / "r.tex", tex_figures={name: tmp_path / f"figures/{name}.pdf" for name, _, _ in FIGURES})
    assert "The LLM comparison is disabled in this configuration" in (tmp_path / "r.html").read_text()
    assert "The LLM comparison is disabled in this configuration" in (tmp_path / "r.tex").read_text()


@pytest.mark.e2e
def test_snakemake_native_report(smoke_run):
    workdir, config = smoke_run
    result = snakemake(workdir, config, "--report", str(workdir / "native-report.zip"))
    archive = zipfile.ZipFile(workdir / "native-report.zip")
    names = "\n".join(archive.namelist())
    assert "report.html" in names and "training_loss.png" in names and "summary.csv" in names, result.stderr[-2000:]


@pytest.mark.e2e
def test_a_template_change_reruns_only_the_report(smoke_run):
    workdir, config = smoke_run
    # The templates are inputs of the report rule: a newer template file makes only that rule (and the PDF) stale.
    template = REPO / "report" / "report.html.j2"
    original = template.stat()
    newer = (workdir / "results/report/report.html").stat().st_mtime + 10
    os.utime(template, (newer, newer))
    try:
        jobs = planned_jobs(snakemake(workdir, config, "--dry-run", "--cores", "2"))
    finally:
        os.utime(template, ns=(original.st_atime_ns, original.st_mtime_ns))
    expected = {"report": "1", "all": "1"} | ({"report_pdf": "1"} if shutil.which("pdflatex") else {})
    assert {k: v for k, v in jobs.items() if k != "total"} == expected


@pytest.mark.e2e
def test_a_second_run_has_nothing_to_do(smoke_run):
    workdir, config = smoke_run
    result = snakemake(workdir, config, "--dry-run", "--cores", "2")
    assert "Nothing to be done" in result.stdout + result.stderr


def test_ci_runs_the_readme_commands():
    readme = (REPO / "README.md").read_text()
    commands = re.findall(r"```bash\n(python3 -m venv .venv && [^\n]+)\n```", readme)
    assert len(commands) == 2 and commands[0].endswith("snakemake --cores 4 --resources gpu=1")
    assert commands[1] in (REPO / ".ci" / "run").read_text().splitlines()
