"""The GPU benchmark script (perf/gpu.sh), dry-run on the CPU with a tiny shape: every step must work before
it meets a GPU."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import MINILM, REPO, SST2, require


def test_the_gpu_benchmark_script_works_on_the_cpu(tmp_path):
    require(MINILM)
    require(SST2)
    out = tmp_path / "out"
    # SST-2's training file and the first 200 validation sentences: each loop evaluates them once.
    data = tmp_path / "sst2"
    data.mkdir()
    (data / "train.tsv").symlink_to(SST2 / "train.tsv")
    validation_rows = 200
    lines = (SST2 / "dev.tsv").read_text(encoding="utf-8").splitlines(keepends=True)
    (data / "dev.tsv").write_text("".join(lines[: validation_rows + 1]), encoding="utf-8")
    env = os.environ | {"PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "MODEL": str(MINILM), "DATA": str(data),
                        "OUT": str(out), "SHAPES": "tiny", "ROWS": "320", "PARITY_EPOCHS": "1", "EPOCHS": "1",
                        "RUNS_PER_GPU": "1 2", "SEEDS": "1"}  # fmt: skip
    for part in ("speed", "parity", "study"):
        run = subprocess.run(
            ["bash", str(REPO / "perf" / "gpu.sh"), part], env=env, capture_output=True, text=True, timeout=900
        )
        assert run.returncode == 0, run.stdout + run.stderr
        assert "exit" not in run.stdout and not (out / "failures.txt").exists(), run.stdout
    assert (out / "versions.txt").read_text().split()[2] == __import__("transformers").__version__
    assert (out / "date.txt").read_text().strip()

    epoch = json.loads((out / "tiny-epoch.json").read_text())
    assert list(epoch["results"]) == ["fast", "fast-ungrouped", "plain", "hf"] and epoch["train_rows"] == 320
    assert all(r["timed_steps"] == 10 and r["eval_seconds"] > 0 for r in epoch["results"].values())
    assert list(json.loads((out / "tiny-graphs.json").read_text())["results"]) == ["fast-graphs"]
    parity = json.loads((out / "parity" / "parity.json").read_text())
    assert list(parity) == ["plain", "fast", "fast-graphs"]
    for loop, result in parity.items():  # the summary agrees with the run's own tables
        history = pd.read_csv(out / "parity" / loop / "history.csv")
        assert result["val_accuracy_by_epoch"] == history["val_accuracy"].round(4).tolist() and len(history) == 1
        predictions = pd.read_csv(out / "parity" / loop / "predictions.csv")
        assert result["best_val_accuracy"] == pytest.approx((predictions["gold"] == predictions["pred"]).mean())
    assert parity["fast"]["best_minus_plain_points"] == 100 * (
        parity["fast"]["best_val_accuracy"] - parity["plain"]["best_val_accuracy"]
    )
    test = parity["fast"]["mcnemar_vs_plain"]
    assert (test["only_b_correct"] - test["only_a_correct"]) / validation_rows == pytest.approx(
        parity["fast"]["best_minus_plain_points"] / 100
    )
    assert 0 < test["p_value"] <= 1
    # On the CPU fast-graphs is the fast loop (graphs are CUDA only): same batches, same result.
    assert parity["fast-graphs"]["val_accuracy_by_epoch"] == parity["fast"]["val_accuracy_by_epoch"]
    metadata = json.loads((out / "parity" / "fast-graphs" / "metadata.json").read_text())
    assert metadata["loop"] == {
        "name": "fast",
        "cuda_graphs": False,
        "autocast": None,
        "tf32": False,
        "bucket_multiple": 1,
        "eval_batch_size": 64,
        "group_by_length": True,
    }

    # The study's runs (2 backbones x SEEDS) trained once per packing, each in its own process.
    study = json.loads((out / "study" / "study.json").read_text())
    assert [r["runs_per_gpu"] for r in study["results"]] == [1, 2]
    for result in study["results"]:
        assert not result["failed"] and result["wall_seconds"] > 0
        runs = pd.DataFrame(result["runs"])
        assert sorted(zip(runs["backbone"], runs["seed"])) == sorted(
            (b, s) for b in ("bert-base-uncased", "distilbert-base-uncased") for s in (1,)
        )
        assert (runs["train_seconds"] > 0).all() and runs["best_val_accuracy"].between(0, 1).all()
    # Same seed, same data, same code: packing changes when runs train, not what they compute.
    first, second = (
        pd.DataFrame(r["runs"]).set_index(["backbone", "seed"])["best_val_accuracy"] for r in study["results"]
    )
    assert first.sort_index().tolist() == second.sort_index().tolist()
