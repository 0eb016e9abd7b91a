"""Accuracy parity of the fast loop: fine-tune one backbone with `loop: plain` and variants of `loop: fast`, same seed.

    python perf/parity.py MODEL_DIR TRAIN.tsv DEV.tsv OUT_DIR --epochs 3 [--rows N] [--loops plain,fast,fast-graphs]

Loops are named as in `python -m sentiflow.train.bench`. Prints each loop's best and last validation accuracy, its
wall time, its difference from the plain loop in points and the exact McNemar test of that difference (paired
on the same sentences, best epochs); writes parity.json.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import pandas as pd

from sentiflow.analysis.metrics import mcnemar_exact
from sentiflow.data import Columns, load_file_split
from sentiflow.train.bench import LOOPS
from sentiflow.train.modeling import load_tokenizer
from sentiflow.train.run import RunOutputs, TrainConfig, fine_tune
from sentiflow.train.tokens import encode, resolve_max_length

LABELS = ("negative", "positive")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model")
    parser.add_argument("train")
    parser.add_argument("validation")
    parser.add_argument("out", type=Path)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rows", type=int)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--loops", default="plain,fast", type=lambda s: s.split(","))
    args = parser.parse_args(argv)
    if args.loops[0] != "plain" or not set(args.loops) <= set(LOOPS):
        parser.error(f"--loops: plain first, then any of {', '.join(LOOPS)}")

    tokenizer = load_tokenizer(args.model)
    columns = Columns(texts=("sentence",), label="label", labels=LABELS)
    train_frame = load_file_split(args.train, columns)
    if args.rows:
        train_frame = train_frame.head(args.rows)
    max_length = resolve_max_length(tokenizer)
    train = encode(tokenizer, train_frame, max_length)
    validation = encode(tokenizer, load_file_split(args.validation, columns), max_length)
    results, correct = {}, {}
    for loop in args.loops:
        folder = args.out / loop
        out = RunOutputs(*(folder / name for name in ("history.csv", "steps.csv", "predictions.csv", "holdout.csv",
                                                      "model", "metadata.json", "resume")))  # fmt: skip
        name, changes = LOOPS[loop]
        cfg = TrainConfig(epochs=args.epochs, seed=args.seed, threads=args.threads, loop=name, fast=changes)
        started = time.perf_counter()
        metadata = fine_tune(args.model, LABELS, train, validation, tokenizer.pad_token_id, cfg, out)
        results[loop] = {
            "seconds": time.perf_counter() - started,
            "best_val_accuracy": metadata["best_val_accuracy"],
            "last_val_accuracy": metadata["last_val_accuracy"],
            "val_accuracy_by_epoch": pd.read_csv(out.history)["val_accuracy"].round(4).tolist(),
            "device_name": metadata["hardware"]["device_name"],
        }
        predictions = pd.read_csv(out.predictions)
        predictions = predictions[predictions["epoch"] == metadata["best_epoch"]].sort_values("index")
        correct[loop] = (predictions["pred"] == predictions["gold"]).to_numpy()
        print(
            f"{loop}: best {metadata['best_val_accuracy']:.4f}, last {metadata['last_val_accuracy']:.4f}, "
            f"{results[loop]['seconds']:.1f} s",
            file=sys.stderr,
        )
    for loop in args.loops[1:]:
        results[loop]["best_minus_plain_points"] = 100 * (
            results[loop]["best_val_accuracy"] - results["plain"]["best_val_accuracy"]
        )
        # Paired on the same sentences (best epochs): is the difference more than two runs' noise?
        results[loop]["mcnemar_vs_plain"] = mcnemar_exact(correct["plain"], correct[loop])
    (args.out / "parity.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
