"""The study in an MLflow tracking store (rule export_tracking), read back with MLflow's own client."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import REPO, smoke_config, snakemake, write_run
from mlflow.tracking import MlflowClient
from test_findings import write_study

from sentiflow.analysis.metrics import aggregate
from sentiflow.analysis.runs import RunSet
from sentiflow.findings.build import write_findings
from sentiflow.track.export import TrackingError, export_study
from sentiflow.track.records import study_records

LABELS = ["negative", "positive"]
GOLD = np.arange(40) % 2


def seed_probs(seed: int, epochs: int = 2, shift: float = 0.0) -> list[np.ndarray]:
    """Per epoch, probabilities that get about 60-90% of GOLD right, different for every seed."""
    rng = np.random.default_rng(seed)
    out = []
    for epoch in range(epochs):
        right = rng.random(len(GOLD)) < 0.6 + 0.1 * epoch + shift
        positive = np.where(right == (GOLD == 1), 0.8, 0.2)
        out.append(np.stack([1 - positive, positive], axis=1))
    return out


def toy_study(root: Path, seeds: list[int]) -> list:
    """A dataset `toy` of one run group over `seeds` (runs written as training writes them, the ones already there
    kept), its summary.json by the aggregate rule's own function, and one LLM entry's summary.json."""
    results = root / "results" / "toy"
    paths = []
    for seed in seeds:
        folder = results / "runs" / "tiny" / "base" / f"seed{seed}"
        if not folder.exists():
            write_run(folder, "tiny", seed, seed_probs(seed), GOLD)
        paths.append(folder / "metadata.json")
    expected = [["tiny", seed] for seed in seeds]
    bootstrap = {"samples": 200, "confidence": 0.95, "seed": 0, "method": "percentile"}
    outputs = {
        name: results / "analysis" / f"{name}.csv"
        for name in ("runs", "summary", "per_class", "mcnemar", "variants", "backbone_pairs")
    }
    aggregate(
        RunSet.load(paths, expected), LABELS, bootstrap, outputs | {"summary_json": results / "analysis/summary.json"}
    )
    llm = results / "llm" / "tiny-llm" / "summary.json"
    llm.parent.mkdir(parents=True, exist_ok=True)
    llm.write_text(
        json.dumps(
            {
                "entry": "tiny-llm",
                "model": "/models/tiny.gguf",
                "threads": 1,
                "n_gpu_layers": 0,
                "groups": {"error": {"items": 9, "llm_accuracy": 5 / 9}},
                "backbones": {
                    "tiny": {"encoder_wrong_items": 9, "llm_fixes": 5, "encoder_right_items": 9, "llm_breaks": 2}
                },
                "validation_llm_accuracy": 0.75,
                "session": {"scored_now": 18},
            }
        )
    )
    datasets = {"toy": {"expected": expected, "data": {"labels": LABELS, "max_train_rows": None, "holdout_rows": 0}}}
    return study_records(datasets, paths, [results / "analysis/summary.json"], [llm])


def live_runs(client: MlflowClient, experiment: str) -> dict[str, object]:
    """The experiment's runs by their identity tag; a duplicate identity fails."""
    runs = client.search_runs([client.get_experiment_by_name(experiment).experiment_id], max_results=1000)
    found = {run.data.tags["sentiflow.identity"]: run for run in runs}
    assert len(found) == len(runs), "an identity is held by two runs"
    return found


def test_exporting_again_updates_adds_and_replaces_runs_never_duplicates_them(tmp_path):
    uri = f"sqlite:///{tmp_path}/store/mlflow.db"
    (tmp_path / "store").mkdir()
    settings = {"uri": uri, "experiment": "study-{dataset}", "artifacts": str(tmp_path / "store/artifacts")}
    account = export_study(toy_study(tmp_path, [1, 2]), settings, tmp_path / "export.json")
    assert json.loads((tmp_path / "export.json").read_text()) == account
    assert (account["runs"], account["run_groups"], account["llm_entries"], account["created"]) == (2, 1, 1, 4)
    assert account["experiments"] == {"toy": "study-toy"}
    client = MlflowClient(tracking_uri=uri)
    first = live_runs(client, "study-toy")
    group = first["group:toy/tiny/base"]
    summary = json.loads((tmp_path / "results/toy/analysis/summary.json").read_text())["backbones"][0]
    assert group.data.metrics["selected_accuracy_mean"] == pytest.approx(summary["selected_accuracy_mean"])
    assert group.data.metrics["selected_ci_low"] == pytest.approx(summary["selected_ci_low"])
    assert group.data.metrics["seeds"] == 2
    run = first["run:toy/tiny/base/seed1"]
    assert run.data.tags["mlflow.parentRunId"] == group.info.run_id
    history = pd.read_csv(tmp_path / "results/toy/runs/tiny/base/seed1/history.csv")
    curve = sorted((m.step, m.value) for m in client.get_metric_history(run.info.run_id, "val_accuracy"))
    assert curve == list(zip(history["epoch"], history["val_accuracy"]))
    assert run.data.params["seed"] == "1" and run.data.params["data.labels"] == json.dumps(LABELS)
    assert run.data.tags["checkpoint"] == str(tmp_path / "results/toy/runs/tiny/base/seed1/model")
    assert sorted(a.path for a in client.list_artifacts(run.info.run_id)) == sorted(
        ["metadata.json", "history.csv", "steps.csv", "predictions.csv", "holdout_predictions.csv"]
    )
    llm = first["llm:toy/tiny-llm"].data
    assert llm.metrics["backbones.tiny.llm_fixes"] == 5 and llm.metrics["backbones.tiny.llm_breaks"] == 2
    assert llm.metrics["validation_llm_accuracy"] == 0.75 and "session.scored_now" not in llm.metrics

    # Nothing changed: every run is left as it is.
    again = export_study(toy_study(tmp_path, [1, 2]), settings, tmp_path / "export.json")
    assert (again["unchanged"], again["created"]) == (4, 0)
    assert {k: r.info.run_id for k, r in live_runs(client, "study-toy").items()} == {
        k: r.info.run_id for k, r in first.items()
    }

    # A seed finished since: its run is added, the group's statistics are updated in place.
    third = export_study(toy_study(tmp_path, [1, 2, 3]), settings, tmp_path / "export.json")
    assert (third["created"], third["updated"], third["unchanged"]) == (1, 1, 3)
    now = live_runs(client, "study-toy")
    assert len(now) == 5 and now["group:toy/tiny/base"].info.run_id == group.info.run_id
    summary = json.loads((tmp_path / "results/toy/analysis/summary.json").read_text())["backbones"][0]
    assert now["group:toy/tiny/base"].data.metrics["selected_accuracy_mean"] == pytest.approx(
        summary["selected_accuracy_mean"]
    )
    assert now["group:toy/tiny/base"].data.metrics["seeds"] == 3
    assert now["run:toy/tiny/base/seed3"].data.tags["mlflow.parentRunId"] == group.info.run_id

    # Seed 1 trained again: its run is replaced, not mixed with the old one.
    shutil.rmtree(tmp_path / "results/toy/runs/tiny/base/seed1")
    write_run(tmp_path / "results/toy/runs/tiny/base/seed1", "tiny", 1, seed_probs(1, shift=0.05), GOLD)
    fourth = export_study(toy_study(tmp_path, [1, 2, 3]), settings, tmp_path / "export.json")
    assert (fourth["replaced"], fourth["updated"], fourth["unchanged"]) == (1, 1, 3)
    last = live_runs(client, "study-toy")
    assert len(last) == 5 and last["run:toy/tiny/base/seed1"].info.run_id != run.info.run_id
    assert client.get_run(run.info.run_id).info.lifecycle_stage == "deleted"
    history = pd.read_csv(tmp_path / "results/toy/runs/tiny/base/seed1/history.csv")
    curve = client.get_metric_history(last["run:toy/tiny/base/seed1"].info.run_id, "val_accuracy")
    assert sorted((m.step, m.value) for m in curve) == list(zip(history["epoch"], history["val_accuracy"]))


@pytest.mark.parametrize(
    "uri, reason",
    [
        ("sqlite:///{tmp}/a-file/mlflow.db", "File exists"),  # its folder would be a file
        ("sqlite:///{tmp}", "unable to open database file"),  # a folder
        ("sqlite:///{tmp}/a-file", "file is not a database"),
        ("nosuch://host/store", "unsupported URI 'nosuch://host/store'"),
        ("http://127.0.0.1:9", "Connection refused"),  # the discard port: nothing listens
    ],
)
def test_a_bad_tracking_uri_fails_with_the_uri_and_mlflows_reason(tmp_path, monkeypatch, uri, reason):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    (tmp_path / "a-file").write_text("not a database\n")
    uri = uri.format(tmp=tmp_path)
    settings = {"uri": uri, "experiment": "sentiflow", "artifacts": None}
    with pytest.raises(TrackingError) as error:
        export_study([], settings, tmp_path / "export.json")
    assert f"tracking.uri {uri}:" in str(error.value) and reason in str(error.value), str(error.value)
    assert not (tmp_path / "export.json").exists()


def test_a_datasets_findings_in_mlflow(tmp_path):
    """The findings of a hand-made dataset (tests/test_findings.py's) exported beside its runs: each headline
    estimate and interval a metric, each verdict a tag, the rule as params, the findings files as artifacts."""
    records = toy_study(tmp_path, [1, 2])
    files, settings = write_study(tmp_path / "in")
    results = tmp_path / "results" / "toy"
    write_findings("toy", files, settings, {"table": results / "findings.csv", "summary": results / "findings.json"})
    datasets = {"toy": {"expected": [["tiny", 1], ["tiny", 2]], "data": {}}}
    summary = results / "analysis/summary.json"
    metadata = sorted(results.glob("runs/tiny/base/seed*/metadata.json"))
    records = study_records(datasets, metadata, [summary], [], findings=[results / "findings.json"])
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    account = export_study(records, {"uri": uri, "experiment": "s", "artifacts": str(tmp_path / "a")}, tmp_path / "e")
    assert account["findings"] == 1
    run = live_runs(MlflowClient(tracking_uri=uri), "s")["findings:toy"]
    assert run.data.metrics["failure_mode/negation_contrast/minilm.estimate"] == pytest.approx(0.10)
    assert run.data.metrics["failure_mode/negation_contrast/minilm.ci_high_2"] == 0.61  # the intervention's
    assert run.data.metrics["verdicts.supported"] == 7
    assert run.data.tags["verdict.failure_mode/mixed_tone/minilm_lr"] == "contradicted"
    assert run.data.tags["verdict.backbones"] == "not measured" and run.data.params["rule.min_failure_rate"] == "0.1"
    artifacts = MlflowClient(tracking_uri=uri).list_artifacts(run.info.run_id)
    assert sorted(a.path for a in artifacts) == ["findings.csv", "findings.json"]


def off_by_default_paths(experiment: str) -> list[str]:
    """The paths docs/outputs.md lists in its tracking section (the section the smoke run's test leaves out)."""
    text = (REPO / "docs" / "outputs.md").read_text()
    section = re.search(r"^## MLflow tracking store.*?(?=^## )", text, flags=re.M | re.S).group(0)
    return [p.format(experiment=experiment) for p in re.findall(r"^\| `([^`]+)` \|", section, flags=re.M)]


@pytest.mark.e2e
def test_the_smoke_study_in_mlflow(smoke_run):
    workdir, config = smoke_run
    # A fresh store, so that the first export below creates every run (a kept smoke folder may hold an old one).
    (workdir / "results/mlflow.db").unlink(missing_ok=True)
    shutil.rmtree(workdir / "results/mlflow-artifacts", ignore_errors=True)
    tracked = smoke_config()
    tracked["tracking"] = {"enabled": True}  # the default store: sqlite:///results/mlflow.db in the working directory
    snakemake(workdir, tracked, "results/tracking/export.json", "--cores", "2")
    account = json.loads((workdir / "results/tracking/export.json").read_text())
    for path in off_by_default_paths("sentiflow"):
        assert (workdir / path).exists(), path
    client = MlflowClient(tracking_uri=f"sqlite:///{workdir}/results/mlflow.db")
    runs = live_runs(client, "sentiflow")
    study_runs = [
        (name, variant, seed)
        for name, dataset in config["datasets"].items()
        for variant in dataset["variants"] or config["variants"]
        for seed in dataset["seeds"] or config["seeds"]
    ]
    assert account["runs"] == len(study_runs) == sum(r.data.tags["sentiflow.kind"] == "run" for r in runs.values())
    assert account["created"] == len(runs)
    for name, variant, seed in study_runs:
        run = runs[f"run:{name}/minilm/{variant}/seed{seed}"]
        history = pd.read_csv(workdir / f"results/{name}/runs/minilm/{variant}/seed{seed}/history.csv")
        curve = sorted((m.step, m.value) for m in client.get_metric_history(run.info.run_id, "val_accuracy"))
        assert curve == list(zip(history["epoch"], history["val_accuracy"]))
        parent = runs[f"group:{name}/minilm/{variant}"]
        assert run.data.tags["mlflow.parentRunId"] == parent.info.run_id
    for name in config["datasets"]:
        summary = json.loads((workdir / f"results/{name}/analysis/summary.json").read_text())
        for row in summary["backbones"]:
            metrics = runs[f"group:{name}/minilm/{row['variant']}"].data.metrics
            for key in ("selected_accuracy", "selected_ci_low", "selected_ci_high", "selected_accuracy_mean"):
                assert metrics[key] == row[key], (name, key)
            assert metrics.get("selected_accuracy_std") == (None if row["seeds"] == 1 else row["selected_accuracy_std"])
        for entry in config["datasets"][name]["llm_models"] or config["llm"]["models"]:
            llm = json.loads((workdir / f"results/{name}/llm/{entry}/summary.json").read_text())
            metrics = runs[f"llm:{name}/{entry}"].data.metrics
            assert metrics["validation_llm_accuracy"] == llm["validation_llm_accuracy"]
            assert metrics["backbones.minilm.llm_fixes"] == llm["backbones"]["minilm"]["llm_fixes"]
        # The dataset's findings: each verdict a tag, each headline estimate a metric.
        findings = json.loads((workdir / f"results/{name}/findings.json").read_text())
        tracked_findings = runs[f"findings:{name}"].data
        for finding in findings["findings"]:
            assert tracked_findings.tags[f"verdict.{finding['id']}".replace("+", "_")] == finding["verdict"]
    assert account["findings"] == len(config["datasets"])
    # A second export finds every run again and adds none.
    snakemake(workdir, tracked, "results/tracking/export.json", "--cores", "2", "--forcerun", "export_tracking")
    second = json.loads((workdir / "results/tracking/export.json").read_text())
    assert second["unchanged"] == len(runs) and len(live_runs(client, "sentiflow")) == len(runs)
    size = sum(p.stat().st_size for p in (workdir / "results").glob("mlflow*") if p.is_file()) + sum(
        p.stat().st_size for p in (workdir / "results/mlflow-artifacts").rglob("*") if p.is_file()
    )
    print(f"export: {account['seconds']} s, again {second['seconds']} s; store {size / 1e6:.1f} MB")
