"""Accuracy parity of the fast loop: fine-tune one backbone with `loop: plain` and `loop: fast`, same seed.

    python perf/parity.py MODEL_DIR TRAIN.tsv DEV.tsv OUT_DIR --epochs 3 [--rows N] [--cuda-graphs]

Prints each loop's validation accuracy per epoch, its wall time, and the difference; writes parity.json.
"""

import argparse
import json
import sys
import time
from pathlib import Path

from sentiflow.data import Columns, load_file_split
from sentiflow.modeling import load_tokenizer
from sentiflow.tokens import encode, resolve_max_length
from sentiflow.training import RunOutputs, TrainConfig, fine_tune

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
    parser.add_argument("--cuda-graphs", action="store_true")
    args = parser.parse_args(argv)

    tokenizer = load_tokenizer(args.model)
    columns = Columns(text="sentence", label="label", labels=LABELS)
    train_frame = load_file_split(args.train, columns)
    if args.rows:
        train_frame = train_frame.head(args.rows)
    max_length = resolve_max_length(tokenizer)
    train = encode(tokenizer, train_frame, max_length)
    validation = encode(tokenizer, load_file_split(args.validation, columns), max_length)
    results = {}
    for loop in ("plain", "fast"):
        folder = args.out / loop
        out = RunOutputs(*(folder / name for name in ("history.csv", "steps.csv", "predictions.csv", "holdout.csv",
                                                      "model", "metadata.json", "resume")))  # fmt: skip
        cfg = TrainConfig(epochs=args.epochs, seed=args.seed, threads=args.threads, loop=loop,
                          fast={"cuda_graphs": args.cuda_graphs})  # fmt: skip
        started = time.perf_counter()
        metadata = fine_tune(args.model, LABELS, train, validation, tokenizer.pad_token_id, cfg, out)
        history = json.loads((folder / "metadata.json").read_text())
        results[loop] = {
            "seconds": time.perf_counter() - started,
            "best_val_accuracy": metadata["best_val_accuracy"],
            "last_val_accuracy": metadata["last_val_accuracy"],
            "device_name": history["hardware"]["device_name"],
        }
        print(f"{loop}: best {metadata['best_val_accuracy']:.4f}, last {metadata['last_val_accuracy']:.4f}, "
              f"{results[loop]['seconds']:.1f} s", file=sys.stderr)
    results["difference_points"] = 100 * (results["fast"]["best_val_accuracy"] - results["plain"]["best_val_accuracy"])
    (args.out / "parity.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
