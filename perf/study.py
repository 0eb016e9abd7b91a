"""Wall time of a study's training on this machine's GPUs, with 1, 2, 3... runs packed on each GPU.

    python perf/study.py OUT_DIR --runs-per-gpu 1 2 3 [--configfile FILE ...] [--random KEY=SHAPE ...]

Trains every run of the study (config/config.yaml with the --configfile files laid over it, as Snakemake reads
them) the way `snakemake --resources gpu=N` with `training.runs_per_gpu: K` does: each run is a fresh process
that calls the train rule's own function, at most K x GPUs of them at a time, each taking a device slot. Data
and tokens are prepared once, before the clock starts. For each K it prints the study's wall time and, per
run, its training seconds, best validation accuracy, peak GPU memory and slot; writes OUT_DIR/study.json.
`--random KEY=SHAPE` trains backbone KEY from random weights of a `python -m sentiflow.train.bench` shape (e.g.
distilbert-base), with the tokenizer of `--tokenizer`: the study's step times without downloading its weights.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from sentiflow.config import dataset_backbones, dataset_seeds, dataset_variants, load_study, variant_training  # noqa: E402


def random_backbone(shape: str, tokenizer: str, folder: Path) -> str:
    """A folder holding a randomly initialised model of `shape` and the tokenizer `tokenizer`."""
    from sentiflow.train.bench import build_model
    from sentiflow.train.modeling import load_tokenizer

    if not (folder / "config.json").exists():
        tok = load_tokenizer(tokenizer)
        build_model(f"random:{shape}", tok, seed=0).save_pretrained(folder)
        tok.save_pretrained(folder)
    return str(folder)


def prepare(config: dict, out: Path) -> list[dict]:
    """Prepared splits and token files of every dataset and backbone; the list of runs to train."""
    from sentiflow.data import prepare as prepare_dataset
    from sentiflow.train.tokens import tokenize_dataset

    runs = []
    for name, dataset in config["datasets"].items():
        data = out / "data" / name
        splits = {split: data / f"{split}.parquet" for split in ("train", "validation", "holdout")}
        if not (data / "data_card.json").exists():
            prepare_dataset(dataset, name, **splits, card=data / "data_card.json")
        for backbone in dataset_backbones(config, name):
            model = config["backbones"][backbone]["model"]
            tokens = out / "tokens" / name / f"{backbone}.npz"
            if not tokens.exists():
                tokens.parent.mkdir(parents=True, exist_ok=True)
                tokenize_dataset(model, splits, config["training"]["max_length"], tokens, tokens.with_suffix(".json"))
            for variant in dataset_variants(config, name):
                for seed in dataset_seeds(config, name):
                    runs.append({"dataset": name, "backbone": backbone, "variant": variant, "seed": seed, "model": model,
                                 "labels": dataset["labels"], "tokens": str(tokens), "training": variant_training(config, variant)})  # fmt: skip
    return runs


def train_one(spec: dict) -> None:
    """One run, as the train rule runs it (the child process's entry point)."""
    from sentiflow.train.run import RunOutputs, TrainConfig, train_from_tokens

    folder = Path(spec["folder"])
    outputs = {name: folder / f"{name}.csv" for name in ("history", "steps", "predictions", "holdout_predictions")}
    outputs |= {"model": folder / "model", "metadata": folder / "metadata.json", "resume": folder / "resume"}
    cfg = TrainConfig.from_dict(spec["training"], seed=spec["seed"], runs_per_gpu=spec["runs_per_gpu"])
    train_from_tokens(spec["tokens"], spec["model"], spec["labels"], cfg, RunOutputs(**outputs), dataset=spec["dataset"],
                      variant=spec["variant"], backbone_key=spec["backbone"])  # fmt: skip


def run_packed(runs: list[dict], runs_per_gpu: int, gpus: int, out: Path) -> dict:
    """Every run in its own process, at most runs_per_gpu x gpus at a time; the study's wall time and each run's figures."""
    at_once = runs_per_gpu * gpus
    pending = list(runs)
    running: list[tuple[subprocess.Popen, dict, object]] = []
    failed = []
    started = time.perf_counter()
    while pending or running:
        while pending and len(running) < at_once:
            run = pending.pop(0)
            folder = (
                out / f"packed{runs_per_gpu}" / run["dataset"] / run["backbone"] / run["variant"] / f"seed{run['seed']}"
            )
            folder.mkdir(parents=True, exist_ok=True)
            spec = run | {"folder": str(folder), "runs_per_gpu": runs_per_gpu}
            log = open(folder / "train.log", "w")  # noqa: SIM115 (closed when the run ends)
            process = subprocess.Popen(
                [sys.executable, __file__, "--one-run", json.dumps(spec)], stdout=log, stderr=subprocess.STDOUT
            )
            running.append((process, spec, log))
        time.sleep(0.5)
        for item in list(running):
            process, spec, log = item
            if process.poll() is not None:
                log.close()
                running.remove(item)
                if process.returncode != 0:
                    failed.append(f"{spec['folder']} (exit {process.returncode}; see its train.log)")
    wall = time.perf_counter() - started
    rows = []
    for run in runs:
        folder = (
            out / f"packed{runs_per_gpu}" / run["dataset"] / run["backbone"] / run["variant"] / f"seed{run['seed']}"
        )
        if not (folder / "metadata.json").exists():
            continue
        meta = json.loads((folder / "metadata.json").read_text())
        slot = meta["hardware"].get("gpu_slot") or {}
        rows.append({"dataset": run["dataset"], "backbone": run["backbone"], "variant": run["variant"], "seed": run["seed"],
                     "train_seconds": round(meta["total_seconds"], 1), "process_seconds": round(meta["process_seconds"], 1),
                     "best_val_accuracy": meta["best_val_accuracy"], "peak_memory_mb": meta["peak_memory"],
                     "device": slot.get("device_index"), "place": slot.get("place"), "loop": meta["loop"]})  # fmt: skip
    return {"runs_per_gpu": runs_per_gpu, "gpus": gpus, "wall_seconds": round(wall, 1), "runs": rows, "failed": failed}


def describe(result: dict) -> str:
    lines = [f"runs_per_gpu {result['runs_per_gpu']} on {result['gpus']} GPU(s): {result['wall_seconds']:.1f} s "
             f"({result['wall_seconds'] / 60:.2f} min) for {len(result['runs'])} runs"]  # fmt: skip
    for r in result["runs"]:
        memory = r["peak_memory_mb"]
        peak = memory.get("gpu_allocated_mb")
        lines.append(
            f"  {r['dataset']}/{r['backbone']}/{r['variant']}/seed{r['seed']}: train {r['train_seconds']} s, process "
            f"{r['process_seconds']} s, best {r['best_val_accuracy']:.4f}, peak {peak} MB, cuda:{r['device']} place {r['place']}"
        )
    lines += [f"  FAILED {f}" for f in result["failed"]]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", nargs="?", help="folder for data, tokens, runs and study.json")
    parser.add_argument("--runs-per-gpu", type=int, nargs="+", default=[1], help="one study per value, in this order")
    parser.add_argument(
        "--configfile", nargs="*", default=[], help="override files laid over config/config.yaml, in order"
    )
    parser.add_argument(
        "--random", action="append", default=[], metavar="KEY=SHAPE", help="train backbone KEY from random weights"
    )
    parser.add_argument("--tokenizer", help="the tokenizer folder of --random backbones")
    parser.add_argument("--one-run", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one_run:
        train_one(json.loads(args.one_run))
        return 0
    if not args.out:
        parser.error("OUT_DIR is required")
    import torch

    out = Path(args.out)
    config = load_study(args.configfile)
    for item in args.random:
        key, _, shape = item.partition("=")
        if key not in config["backbones"] or not shape:
            parser.error(f"--random {item!r}: expected KEY=SHAPE with KEY one of {', '.join(config['backbones'])}")
        if not args.tokenizer:
            parser.error("--random needs --tokenizer")
        config["backbones"][key]["model"] = random_backbone(shape, args.tokenizer, out / "backbones" / key)
    runs = prepare(config, out)
    gpus = max(torch.cuda.device_count(), 1)
    results = []
    for k in args.runs_per_gpu:
        results.append(run_packed(runs, k, gpus, out))
        print(describe(results[-1]), flush=True)
        (out / "study.json").write_text(json.dumps({"device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
                                                    "torch": torch.__version__, "results": results}, indent=2))  # fmt: skip
    return 1 if any(r["failed"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
