"""The Snakemake workflow itself: configuration, linting, dry runs, and the end-to-end smoke run."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import REPO, SHARED, require

SNAKEMAKE = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile")]


def smoke_config(**changes) -> dict:
    """config/smoke.yaml with its ../shared paths made absolute, so it runs from any working directory."""
    config = yaml.safe_load((REPO / "config" / "smoke.yaml").read_text())
    for split in ("train", "validation"):
        config["dataset"]["files"][split] = str((REPO / config["dataset"]["files"][split]).resolve())
    for spec in config["backbones"].values():
        spec["model"] = str((REPO / spec["model"]).resolve())
    for section, values in changes.items():
        config[section] = config[section] | values if isinstance(values, dict) else values
    return config


def snakemake(workdir: Path, config: dict, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    command = SNAKEMAKE + ["--directory", str(workdir), "--configfile", str(workdir / "config.yaml"), *args]
    result = subprocess.run(command, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"snakemake failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}")
    return result


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
    assert counts == {
        "prepare_data": "1", "tokenize": "2", "train": "6", "aggregate": "1", "misclassified": "1",
        "calibration": "1", "plot_curves": "1", "plot_reliability": "1", "all": "1", "total": "15",
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


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    require(SHARED / "models" / "minilm-l6-h384-uncased")
    require(SHARED / "data" / "sst2")
    workdir = tmp_path_factory.mktemp("smoke")
    config = smoke_config()
    snakemake(workdir, config, "--cores", "2", "--resources", "gpu=1")
    return workdir, config


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
def test_a_second_run_has_nothing_to_do(smoke_run):
    workdir, config = smoke_run
    result = snakemake(workdir, config, "--dry-run", "--cores", "2")
    assert "Nothing to be done" in result.stdout + result.stderr


def test_ci_runs_the_readme_commands():
    readme = (REPO / "README.md").read_text()
    commands = re.findall(r"```bash\n(python3 -m venv .venv && [^\n]+)\n```", readme)
    assert len(commands) == 2 and commands[0].endswith("snakemake --cores 4 --resources gpu=1")
    assert commands[1] in (REPO / ".ci" / "run").read_text().splitlines()
