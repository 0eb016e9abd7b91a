"""The workflow through profiles/slurm on a real single-node Slurm cluster started for this test.

The smoke config cut to SST-2, one recipe, one seed and 2,000 training sentences runs twice: locally, then on
the cluster. Its training job is preempted with SIGTERM (what Slurm sends at a time limit or preemption) a
third of the way through its epoch; the profile's retry must resume it, and every number must still equal the
local run. The two LLM entries' witness jobs run at once on the cluster, both writing the LLM score cache;
afterwards every LLM job, run again, must find every score it needs there.
"""

import contextlib
import importlib.util
import json
import re
import subprocess
import time
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import REPO, SHARED, SNAKEMAKE, SST2, require, smoke_config, snakemake
from slurm_cluster import SlurmCluster, missing_programs

pytestmark = [pytest.mark.e2e, pytest.mark.slurm]
TRAIN_ROWS = 2000  # a target: SST-2's rows are drawn in whole treebank sentences, so a few more
PREEMPT_AFTER_STEP = 20
ENTRIES = ("smollm2", "smollm2-swapped")  # the smoke config's two LLM entries, both witnesses of label issues
WITNESS_SENTENCES = 40


def _require_slurm() -> None:
    missing = missing_programs()
    if missing:
        pytest.skip(f"needs Debian's slurm-wlm and munge (missing: {', '.join(missing)}); .ci/run installs them")
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        pytest.skip("needs snakemake-executor-plugin-slurm (requirements.txt)")
    probe = subprocess.run(["unshare", "--mount", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"needs a private mount namespace for slurmd (unshare --mount: {probe.stderr.strip()})")


def _command_lines() -> list[str]:
    lines = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):  # the process ended while we looked
            lines.append(cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace"))
    return lines


def _steps_done(log: Path) -> int:
    done = re.findall(r"(\d+)/\d+ \[", log.read_text(errors="replace")) if log.exists() else []
    return int(done[-1]) if done else 0


def cluster_config(cache: Path) -> dict:
    """The smoke config's SST-2 with one recipe, one seed and fewer sentences, and its two LLM entries, both
    witnesses, without the peer's suite; the cluster has no GPUs to grant, and training asks for two CPUs, so that
    the job's grant shows in its metadata. Each run has its own LLM score cache (`cache`), so that the cluster's LLM
    jobs score."""
    config = smoke_config()
    sst2 = config["datasets"]["sst2"] | {"max_train_rows": TRAIN_ROWS, "holdout_rows": 200}
    config["datasets"] = {"sst2": sst2 | {"label_witnesses": list(ENTRIES)}}
    config["variants"] = {"base": {}}
    config["seeds"] = [1]
    config["training"] = config["training"] | {"gpus_per_run": 0, "threads": 2}
    config["analysis"] = config["analysis"] | {"label_issues": {"witness_sentences": WITNESS_SENTENCES}}
    llm = {"models": {name: config["llm"]["models"][name] for name in ENTRIES}, "cache": str(cache)}
    config["llm"] = config["llm"] | llm | {"items": {"max_errors": 8}, "cascade": {"sentences": 24}}
    # A peer's suite runs the behavioural tests' scripts again: the smoke run covers it, the cluster need not.
    config["behaviour"] = config["behaviour"] | {"suites": {}}
    return config


def llm_outputs(workdir: Path) -> dict:
    """What each LLM job wrote: the witness tables and logs, the comparisons' tables and summaries, the behavioural
    answers' summaries."""
    folder = workdir / "results" / "sst2"
    return {
        entry: {
            "witness": pd.read_csv(folder / "llm" / entry / "witness.csv"),
            "witness_log": (workdir / "logs" / "sst2" / "llm_witness" / f"{entry}.log").read_text(),
            "predictions": pd.read_csv(folder / "llm" / entry / "predictions.csv"),
            "summary": json.loads((folder / "llm" / entry / "summary.json").read_text()),
            "behaviour": json.loads((folder / "behaviour" / "llm" / f"{entry}.json").read_text()),
        }
        for entry in ENTRIES
    }


def slurm_jobs(log: str, records: list[dict]) -> list[dict]:
    """Every Slurm job with its rule and wildcards (from the executor's log paths) and when it ran."""
    rules = {
        jobid: (rule, wildcards)
        for jobid, rule, wildcards in re.findall(r"SLURM jobid (\d+) \(log: \S*/slurm_logs/rule_(\w+)/(?:(\S+)/)?\d+\.log\)", log)
    }  # fmt: skip
    return [
        {"rule": rules[r["JobId"]][0], "wildcards": rules[r["JobId"]][1], "state": r["JobState"],
         "start": datetime.fromisoformat(r["StartTime"]), "end": datetime.fromisoformat(r["EndTime"])}
        for r in records
    ]  # fmt: skip


@pytest.fixture(scope="module")
def slurm_run(tmp_path_factory):
    _require_slurm()
    require(SHARED / "models" / "minilm-l6-h384-uncased")
    require(SST2)
    root = tmp_path_factory.mktemp("slurm")
    config = cluster_config(root / "llm_cache")
    local_workdir = root / "local"
    snakemake(local_workdir, cluster_config(root / "local_llm_cache"), "--cores", "2")
    workdir = root / "run"
    workdir.mkdir()
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    command = SNAKEMAKE + [
        "--directory", str(workdir), "--configfile", str(workdir / "config.yaml"),
        "--workflow-profile", str(REPO / "profiles" / "slurm"),
        # This cluster has no slurmdbd (so no sacct) and no accounts.
        "--slurm-status-command", "squeue", "--slurm-no-account",
        # The first status check a second after a job starts (each later one 10 s after the last, the plugin's
        # step): most of this study's jobs take seconds.
        "--slurm-init-seconds-before-status-checks", "1",
    ]  # fmt: skip
    # Four CPUs on a two-core machine: the two witness jobs (one CPU each) start together with tokenize.
    cluster = SlurmCluster(root / "cluster", cpus=4, min_job_age=1800)
    with cluster:
        with open(root / "snakemake.log", "w") as out:
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=cluster.env, text=True)
            preempted = None
            deadline = time.monotonic() + 40 * 60
            try:
                while process.poll() is None:
                    assert time.monotonic() < deadline, "the Slurm run took over 40 minutes"
                    if (
                        preempted is None
                        and _steps_done(workdir / "logs/sst2/train/minilm/base/seed1.log") >= PREEMPT_AFTER_STEP
                    ):
                        # The executor plugin puts the rule and its wildcards in the job's comment.
                        running = dict(
                            line.split() for line in cluster.squeue("--noheader", "--format=%k %i").splitlines()
                        )
                        job = running["rule_train_wildcards_sst2_minilm_base_1"]
                        subprocess.run(["scancel", "--signal=TERM", job], env=cluster.env, check=True)
                        preempted = job
                    time.sleep(2)
            finally:
                if process.poll() is None:  # the test failed: leave no Snakemake behind (the cluster cancels its jobs)
                    process.kill()
                    process.wait()
        log = (root / "snakemake.log").read_text()
        assert process.returncode == 0, log[-6000:] + cluster.logs()
        records = cluster.completed_jobs()
    daemons = [cmd for cmd in _command_lines() if str(root / "cluster") in cmd or cmd.startswith("slurmstepd")]
    # Every LLM job again, here: each must find every score it needs in the cache the cluster's jobs wrote.
    scored = llm_outputs(workdir)
    targets = [f"results/sst2/llm/{entry}/{name}" for entry in ENTRIES for name in ("witness.csv", "summary.json")]
    targets += [f"results/sst2/behaviour/llm/{entry}.json" for entry in ENTRIES]
    snakemake(workdir, config, *targets, "--cores", "2", "--forcerun", "llm_witness", "llm_compare", "behaviour_llm")
    llm = {"jobs": slurm_jobs(log, records), "scored": scored, "again": llm_outputs(workdir)}
    return workdir, config, log, records, preempted, llm, daemons, local_workdir


def test_every_job_went_through_sbatch(slurm_run):
    workdir, _, log, records, preempted, *_ = slurm_run
    submitted = dict(re.findall(r"Job (\d+) has been submitted with SLURM jobid (\d+)", log))
    plan = subprocess.run(
        SNAKEMAKE + ["--directory", str(workdir), "--configfile", str(workdir / "config.yaml"), "--dry-run",
                     "--forceall", "--cores", "2"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    counts = dict(re.findall(r"^(\w+)\s+(\d+)$", plan, flags=re.M))
    jobs = int(counts["total"]) - int(counts["all"])  # `all` only collects targets; nothing to submit
    assert jobs >= 12
    by_id = {record["JobId"]: record for record in records}
    # Slurm's completion record holds exactly the jobs Snakemake submitted: one per job, one more for the retry.
    assert set(by_id) == set(re.findall(r"submitted with SLURM jobid (\d+)", log))
    assert len(by_id) == jobs + 1
    assert sum(record["JobState"] == "COMPLETED" for record in records) == jobs
    assert by_id[preempted]["JobState"] == "FAILED" and by_id[preempted]["ExitCode"] != "0:0"
    assert {record["WorkDir"] for record in records} == {str(workdir)}
    assert len(submitted) >= 1


def test_training_ran_inside_its_slurm_job_with_the_granted_cpus(slurm_run):
    workdir, config, _, records, preempted, *_ = slurm_run
    by_id = {record["JobId"]: record for record in records}
    for seed in config["seeds"]:
        metadata = json.loads((workdir / f"results/sst2/runs/minilm/base/seed{seed}/metadata.json").read_text())
        granted = metadata["hardware"]["scheduler"]
        record = by_id[granted["slurm_job_id"]]
        assert record["JobState"] == "COMPLETED" and record["ProcCnt"] == str(config["training"]["threads"])
        assert granted["slurm_cpus_per_task"] == str(config["training"]["threads"])
        assert metadata["hardware"]["torch_threads"] == config["training"]["threads"]
    resumed = json.loads((workdir / "results/sst2/runs/minilm/base/seed1/metadata.json").read_text())
    assert resumed["hardware"]["scheduler"]["slurm_job_id"] != preempted
    # Snakemake deletes a job's log before the retry; the executor keeps the failed Slurm job's own log.
    (stopped_log,) = (workdir / ".snakemake" / "slurm_logs").rglob(f"{preempted}.log")
    assert "SIGTERM received: stopped in epoch 1 after step" in stopped_log.read_text()
    train_log = (workdir / "logs/sst2/train/minilm/base/seed1.log").read_text()
    assert re.search(r"resuming epoch 1 at batch \d+", train_log), train_log[-2000:]
    assert [i["signal"] for i in resumed["interruptions"]] == ["SIGTERM"]


def test_results_equal_the_local_run(slurm_run):
    workdir, config, *_, local = slurm_run
    for seed in config["seeds"]:
        for name in ("predictions.csv", "steps.csv", "holdout_predictions.csv"):
            path = f"results/sst2/runs/minilm/base/seed{seed}/{name}"
            pd.testing.assert_frame_equal(pd.read_csv(workdir / path), pd.read_csv(local / path), check_exact=True)
        history = [pd.read_csv(d / f"results/sst2/runs/minilm/base/seed{seed}/history.csv") for d in (workdir, local)]
        numbers = ["epoch", "train_loss", "val_loss", "val_accuracy"]
        pd.testing.assert_frame_equal(history[0][numbers], history[1][numbers], check_exact=True)
    timing = ["train_minutes_mean", "epoch_seconds_mean", "sentences_per_s_mean", "peak_memory_mb_max"]
    summaries = [pd.read_csv(d / "results/sst2/analysis/summary.csv").drop(columns=timing) for d in (workdir, local)]
    pd.testing.assert_frame_equal(summaries[0], summaries[1])
    for path in ("results/sst2/analysis/failure_modes.csv", "results/sst2/analysis/calibration.csv",
                 "results/sst2/analysis/per_class.csv"):  # fmt: skip
        pd.testing.assert_frame_equal(pd.read_csv(workdir / path), pd.read_csv(local / path))
    # The LLMs' answers, scored on the cluster into a cache of its own, are the local run's.
    for entry in ENTRIES:
        for name in ("witness.csv", "predictions.csv"):
            tables = [pd.read_csv(d / f"results/sst2/llm/{entry}/{name}") for d in (workdir, local)]
            answers = [column for column in tables[0] if column.startswith(("llm_prob_", "tag_")) or column == "index"]
            pd.testing.assert_frame_equal(tables[0][answers], tables[1][answers], check_exact=True)
    assert (workdir / "results/report/report.html").stat().st_size > 10_000


def test_two_llm_jobs_ran_at_once_and_kept_every_score(slurm_run):
    *_, llm, _, _ = slurm_run
    witnesses = [job for job in llm["jobs"] if job["rule"] == "llm_witness"]
    assert sorted(job["wildcards"] for job in witnesses) == [f"sst2_{entry}" for entry in ENTRIES]
    assert all(job["state"] == "COMPLETED" for job in witnesses)
    # Both in flight at once (Slurm's times are whole seconds): each began before the other ended.
    assert max(job["start"] for job in witnesses) < min(job["end"] for job in witnesses), witnesses
    for entry in ENTRIES:
        scored, again = llm["scored"][entry], llm["again"][entry]
        # On the cluster each witness scored its sentences (the cache was new), and so did the other LLM jobs.
        assert f"scored {WITNESS_SENTENCES} sentences, 0 from the cache" in scored["witness_log"]
        assert scored["summary"]["session"]["scored_now"] > 0 and scored["behaviour"]["scored_now"] > 0
        # Run again, every job found every score in the cache and wrote the very same answers.
        assert f"scored 0 sentences, {WITNESS_SENTENCES} from the cache" in again["witness_log"]
        assert again["summary"]["session"]["scored_now"] == 0 and again["summary"]["session"]["from_cache"] > 0
        assert again["behaviour"]["scored_now"] == 0 and again["behaviour"]["from_cache"] > 0
        pd.testing.assert_frame_equal(again["witness"], scored["witness"], check_exact=True)
        pd.testing.assert_frame_equal(again["predictions"], scored["predictions"], check_exact=True)


def test_the_cluster_is_gone_afterwards(slurm_run):
    *_, daemons, _ = slurm_run
    assert daemons == []
