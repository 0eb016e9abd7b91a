"""Do segment ids matter for a sentence-pair task? Fine-tune one backbone on pairs with the tokenizer's segment ids
(`token_type_ids`: 0 for the first text, 1 for the second) and with every segment id 0, same seeds, same batches.

    python perf/segment_ids.py MODEL_DIR TRAIN.tsv DEV.tsv OUT_DIR --epochs 3 --seeds 1,2,3 --threads 2

The files are GLUE-style TSVs with `sentence1`, `sentence2` and `label` (RTE: 0 entailment, 1 not_entailment).
Every training pair is trained on (no holdout) and the last epoch is reported, which no choice made on validation
can flatter. A run whose folder already holds its metadata.json is read, not trained again, so the
measurement can be split over processes (`--seeds 1`, `--seeds 2`, ...) and summarised by a last call naming
every seed. Prints per seed and setting the last epoch's validation accuracy, and the seed-mean accuracy of each
setting with a bootstrap interval over pairs, their paired difference and the exact McNemar test per seed;
writes segment_ids.json.
"""

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from sentiflow.analysis.metrics import bootstrap_ci, mcnemar_exact
from sentiflow.data import Columns, load_file_split
from sentiflow.train import runinfo
from sentiflow.train.modeling import load_tokenizer
from sentiflow.train.run import RunOutputs, TrainConfig, fine_tune
from sentiflow.train.tokens import encode, resolve_max_length

LABELS = ("entailment", "not_entailment")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model")
    parser.add_argument("train")
    parser.add_argument("validation")
    parser.add_argument("out", type=Path)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seeds", default="1,2,3", type=lambda s: [int(x) for x in s.split(",")])
    parser.add_argument("--threads", type=int)
    parser.add_argument("--max-length", type=int)
    args = parser.parse_args(argv)

    tokenizer = load_tokenizer(args.model)
    columns = Columns(("sentence1", "sentence2"), "label", LABELS)
    frames = [load_file_split(path, columns) for path in (args.train, args.validation)]
    max_length = resolve_max_length(tokenizer, requested=args.max_length)
    train, validation = (encode(tokenizer, frame, max_length, segment_ids=True) for frame in frames)
    settings = {"segment ids": (train, validation)}
    settings["all zero"] = tuple(dataclasses.replace(d, types=np.zeros_like(d.types)) for d in (train, validation))
    results, correct = {}, {}
    for name, (train_split, validation_split) in settings.items():
        for seed in args.seeds:
            folder = args.out / name.replace(" ", "-") / f"seed{seed}"
            out = RunOutputs(*(folder / n for n in ("history.csv", "steps.csv", "predictions.csv", "holdout.csv",
                                                    "model", "metadata.json", "resume")))  # fmt: skip
            cfg = TrainConfig(epochs=args.epochs, seed=seed, threads=args.threads, select_epoch="last")
            if out.metadata.exists():
                metadata = json.loads(out.metadata.read_text())
                if metadata["hyperparameters"]["epochs"] != args.epochs:
                    sys.exit(f"{out.metadata} was trained for {metadata['hyperparameters']['epochs']} epochs, "
                             f"not {args.epochs}: use another OUT_DIR")  # fmt: skip
            else:
                metadata = fine_tune(
                    args.model, LABELS, train_split, validation_split, tokenizer.pad_token_id, cfg, out
                )
            predictions = (
                pd.read_csv(out.predictions).query(f"epoch == {metadata['selected_epoch']}").sort_values("index")
            )
            correct[name, seed] = (predictions["pred"] == predictions["gold"]).to_numpy()
            results[f"{name}, seed {seed}"] = {
                "last_val_accuracy": metadata["last_val_accuracy"],
                "val_accuracy_by_epoch": pd.read_csv(out.history)["val_accuracy"].round(4).tolist(),
                "seconds": round(metadata["total_seconds"], 1),
            }
            print(f"{name}, seed {seed}: {results[f'{name}, seed {seed}']}", file=sys.stderr)
    summary = {}
    for name in settings:
        per_pair = np.mean([correct[name, seed] for seed in args.seeds], axis=0)
        summary[name] = {"accuracy": float(per_pair.mean()), "ci": bootstrap_ci(per_pair)}
    difference = np.mean([correct["segment ids", s].astype(float) - correct["all zero", s] for s in args.seeds], axis=0)
    summary["difference"] = {"mean": float(difference.mean()), "ci": bootstrap_ci(difference)}
    summary["mcnemar_p"] = {seed: mcnemar_exact(correct["segment ids", seed], correct["all zero", seed])["p_value"]
                            for seed in args.seeds}  # fmt: skip
    report = {"model": args.model, "train_pairs": len(train), "validation_pairs": len(validation), "epochs": args.epochs,
              "seeds": args.seeds, "runs": results, "summary": summary, "device": runinfo.hardware(runinfo.pick_device("cpu")),
              "versions": runinfo.package_versions()}  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "segment_ids.json").write_text(json.dumps(report, indent=2, default=str))
    print(json.dumps(summary, indent=2, default=str))


if __name__ == "__main__":
    main()
