"""The cost of a study before it runs: every planned run per dataset, backbone, variant and seed, and GPU hours
estimated from step times measured in finished runs.

    python -m sentiflow.tools.plan                                  # the study (config/config.yaml)
    python -m sentiflow.tools.plan --configfile config/ablations.yaml --ms-per-step bert-base-uncased=8.5

Rows per dataset come from its data card (`results/{dataset}/data/data_card.json`, written by the first rule)
or, for local files, from counting the file's data rows. A step time comes from finished runs of the same
model, loop and batch size under `results/` (their epoch time, evaluation included, per step), or from
`--ms-per-step MODEL=MS`; without either the run is listed without an estimate.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from sentiflow.analysis.runs import RunSet
from sentiflow.config import dataset_backbones, dataset_seeds, dataset_variants, load_study, variant_training
from sentiflow.data import read_table
from sentiflow.train.recipe import steps_per_epoch

REPO = Path(__file__).resolve().parents[3]


def train_rows(name: str, dataset: dict, results: Path) -> tuple[int | None, str]:
    """Training rows of a dataset (after holdout and subsample) and where the number comes from."""
    card = results / name / "data" / "data_card.json"
    if card.is_file():
        return json.loads(card.read_text())["splits"]["train"]["rows"], "data card"
    if dataset["source"] == "files":
        rows = len(read_table(dataset["files"]["train"], dataset["files"].get("format"))[0]) - dataset.get(
            "holdout_rows", 0
        )
        limit = dataset.get("max_train_rows")
        return (min(rows, limit) if limit else rows), "train file"
    return dataset.get("max_train_rows"), "max_train_rows" if dataset.get("max_train_rows") else "unknown"


def model_key(spec: str, directory: Path) -> str:
    """A backbone's model as one string: local folders resolved (the config and a run's metadata may spell them
    relative to the working directory), hub ids as they are."""
    folder = directory / spec
    return str(folder.resolve()) if spec.startswith(("/", ".", "~")) or folder.exists() else spec


def measured_step_times(results: Path) -> pd.DataFrame:
    """Seconds per optimizer step (epoch time with evaluation, per step) of every finished run under `results`."""
    rows = []
    for folder in sorted(results.glob("*/runs")):  # a RunSet per dataset: run labels repeat across datasets
        for run in RunSet.load(sorted(folder.glob("*/*/seed*/metadata.json"))).runs:
            hyper = run.metadata["hyperparameters"]
            rows.append({
                "model": model_key(run.metadata["backbone"], results.parent), "loop": hyper["loop"],
                "train_batch_size": hyper["train_batch_size"], "device": run.metadata["hardware"]["device_name"],
                "seconds_per_step": float(run.history["epoch_seconds"].mean()) / hyper["steps_per_epoch"],
            })  # fmt: skip
    return pd.DataFrame(rows, columns=["model", "loop", "train_batch_size", "device", "seconds_per_step"])


def plan(config: dict, results: Path, ms_per_step: dict[str, float] | None = None) -> pd.DataFrame:
    """One row per dataset, backbone and variant: its runs (one per seed), their steps and the estimated GPU hours."""
    ms_per_step = ms_per_step or {}
    measured = measured_step_times(results)
    rows = []
    for name, dataset in config["datasets"].items():
        n_rows, rows_from = train_rows(name, dataset, results)
        seeds = dataset_seeds(config, name)
        for backbone in dataset_backbones(config, name):
            model = config["backbones"][backbone]["model"]
            key = model_key(model, results.parent)
            for variant in dataset_variants(config, name):
                training = variant_training(config, variant)
                steps = training["epochs"] * steps_per_epoch(n_rows, training["train_batch_size"]) if n_rows else None
                same = measured[(measured["model"] == key) & (measured["loop"] == training["loop"])
                                & (measured["train_batch_size"] == training["train_batch_size"])]  # fmt: skip
                if model in ms_per_step or backbone in ms_per_step:
                    seconds, source = ms_per_step.get(backbone, ms_per_step.get(model)) / 1000, "given"
                elif len(same):
                    seconds, source = (
                        float(same["seconds_per_step"].median()),
                        f"measured: {len(same)} run(s), {same['device'].iloc[0]}",
                    )
                else:
                    seconds, source = None, "no measurement"
                hours = len(seeds) * steps * seconds / 3600 if steps and seconds else None
                rows.append({
                    "dataset": name, "backbone": backbone, "variant": variant, "seeds": len(seeds), "train_rows": n_rows,
                    "rows_from": rows_from, "epochs": training["epochs"], "steps_per_run": steps,
                    "ms_per_step": seconds * 1000 if seconds else None, "step_time_from": source, "gpu_hours": hours,
                })  # fmt: skip
    return pd.DataFrame(rows)


def describe(table: pd.DataFrame, gpus_per_run: int) -> str:
    """The plan as text: the table, then the totals and what is missing for a full estimate."""
    shown = table.drop(columns=["rows_from"]).copy()
    shown["ms_per_step"] = shown["ms_per_step"].map(lambda v: "–" if pd.isna(v) else f"{v:.1f}")
    shown["gpu_hours"] = shown["gpu_hours"].map(lambda v: "–" if pd.isna(v) else f"{v:.2f}")
    shown["steps_per_run"] = shown["steps_per_run"].map(lambda v: "–" if pd.isna(v) else f"{int(v):,}")
    lines = [shown.to_string(index=False), ""]
    runs = int(table["seeds"].sum())
    known = table["gpu_hours"].notna()
    lines.append(
        f"{runs} training runs; {table.loc[known, 'gpu_hours'].sum() * max(gpus_per_run, 1):.2f} GPU hours estimated "
        f"for the {int(table.loc[known, 'seeds'].sum())} with a step time"
    )
    unknown_rows = sorted(set(table.loc[table["train_rows"].isna(), "dataset"]))
    if unknown_rows:
        cards = " ".join(f"results/{name}/data/data_card.json" for name in unknown_rows)
        lines.append(f"rows unknown for {', '.join(unknown_rows)}: count them first with `snakemake {cards} --cores 1`")
    unmeasured = sorted(set(table.loc[table["ms_per_step"].isna(), "backbone"]))
    if unmeasured:
        lines.append(
            "no step time for " + ", ".join(unmeasured) + ": finish one run of each, or pass --ms-per-step BACKBONE=MS"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sentiflow.tools.plan", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--configfile", nargs="*", default=[], help="override files laid over config/config.yaml, in order"
    )
    parser.add_argument("--directory", default=".", help="the working directory whose results/ holds finished runs")
    parser.add_argument(
        "--ms-per-step",
        action="append",
        default=[],
        metavar="BACKBONE=MS",
        help="a step time for a backbone key or model (repeatable)",
    )
    parser.add_argument("--csv", help="also write the table here")
    args = parser.parse_args(argv)

    config = load_study(args.configfile, REPO / "config" / "config.yaml")
    given = {}
    for item in args.ms_per_step:
        key, _, value = item.partition("=")
        try:
            given[key] = float(value)
        except ValueError:
            parser.error(f"--ms-per-step {item!r}: expected BACKBONE=MILLISECONDS")
    table = plan(config, Path(args.directory) / "results", given)
    print(describe(table, config["training"]["gpus_per_run"]))
    if args.csv:
        table.to_csv(args.csv, index=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
