"""The prepared GPU run (perf/gpu.sh), dry-run on the CPU: a lent GPU gets one try, so the script must work first time."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from conftest import MINILM, REPO, SST2, require


def test_the_prepared_gpu_run_works_on_the_cpu_and_sends_back_only_results(tmp_path):
    require(MINILM)
    require(SST2)
    carry, work, out = tmp_path / "carry", tmp_path / "work", tmp_path / "out"
    # What docs/benchmarks.md says to carry: fp16 MiniLM weights and the SST-2 files (no wheels: installed here)
    subprocess.run([sys.executable, str(REPO / "perf" / "weights.py"), "shrink", str(MINILM), str(carry / "minilm-fp16")], check=True)
    (carry / "sst2").mkdir()
    for name in ("train.tsv", "dev.tsv"):
        shutil.copy(SST2 / name, carry / "sst2" / name)
    assert (carry / "minilm-fp16" / "model.safetensors").stat().st_size < 0.55 * (MINILM / "model.safetensors").stat().st_size
    env = os.environ | {"PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", "CARRY": str(carry), "WORK": str(work),
                        "OUT": str(out), "SHAPES": "tiny", "ROWS": "320", "PARITY_EPOCHS": "1"}  # fmt: skip
    for part in ("speed", "parity"):  # the two device calls, on one machine
        run = subprocess.run(["bash", str(REPO / "perf" / "gpu.sh"), part], env=env, capture_output=True, text=True, timeout=900)
        assert run.returncode == 0, run.stdout + run.stderr
        assert "exit" not in run.stdout and not (out / "failures.txt").exists(), run.stdout

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
    assert parity["fast"]["best_minus_plain_points"] == 100 * (parity["fast"]["best_val_accuracy"] - parity["plain"]["best_val_accuracy"])
    test = parity["fast"]["mcnemar_vs_plain"]
    assert (test["only_b_correct"] - test["only_a_correct"]) / 872 == pytest.approx(parity["fast"]["best_minus_plain_points"] / 100)
    assert 0 < test["p_value"] <= 1
    # On the CPU fast-graphs is the fast loop (graphs are CUDA only): same batches, same result.
    assert parity["fast-graphs"]["val_accuracy_by_epoch"] == parity["fast"]["val_accuracy_by_epoch"]
    # Only results travel back: no weights, a few MB at most.
    sent = [p for p in out.rglob("*") if p.is_file()]
    assert not [p for p in sent if p.suffix in (".safetensors", ".bin", ".pt")]
    assert sum(p.stat().st_size for p in sent) < 5e6
    assert {"history.csv", "metadata.json", "steps.csv"} <= {p.name for p in (out / "parity" / "fast").iterdir()}
