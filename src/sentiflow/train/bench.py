"""Training speed: our fast loop, our plain loop and Hugging Face Trainer, same data, same model, one process.

    python -m sentiflow.train.bench --model random:distilbert-base --tokenizer ../shared/models/minilm-l6-h384-uncased \\
        --train ../shared/data/sst2/train.tsv --validation ../shared/data/sst2/dev.tsv --epoch

Every loop starts from the same initial weights and takes the study's steps (batch 32, AdamW lr 5e-5, weight
decay 1e-4, clip 1.0, linear schedule) on the same pre-tokenized sentences: `plain` and `fast-ungrouped` in
the same shuffled batches, `fast` and `fast-graphs` (whole steps replayed as CUDA graphs) in length-grouped
ones (the fast loop's default), `hf` in Trainer's own shuffle. `--steps N` times N steps after `--warmup`
steps; `--epoch` times a whole epoch plus evaluation of the validation split, which is what a real run pays.
Milliseconds per step are wall time with the device synchronised at both ends; `padding` is the tokens a
loop computes on (batch width x rows) per real token. Models: a local folder, or `random:<shape>` (randomly
initialised; the shape's real dimensions) with `--tokenizer` giving the vocabulary.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import platform
import sys
import tempfile
import time

import numpy as np
import torch

from sentiflow.data import Columns, load_file_split
from sentiflow.train import runinfo
from sentiflow.train.loops import EpochSums, make_loop, make_optimizer, train_epoch
from sentiflow.train.modeling import load_classifier, load_tokenizer
from sentiflow.train.recipe import FastConfig, TrainConfig, steps_per_epoch
from sentiflow.train.tokens import Encoded, encode, resolve_max_length

LABELS = ("negative", "positive")
LOOPS = {
    # name: (training.loop, fast settings that differ from the defaults)
    "fast": ("fast", {"cuda_graphs": False}),  # eager steps, also on CUDA
    "fast-ungrouped": ("fast", {"cuda_graphs": False, "group_by_length": False}),  # what grouping by length pays
    "fast-graphs": ("fast", {"cuda_graphs": "auto"}),  # the default: CUDA graphs on CUDA; elsewhere the same as fast
    "plain": ("plain", {}),
}
SHAPES = {
    # name: (architecture, config keywords); the dimensions of the released checkpoints.
    "distilbert-base": ("distilbert", {}),
    "bert-base": ("bert", {}),
    "minilm-l6-h384": (
        "bert",
        {"hidden_size": 384, "num_hidden_layers": 6, "num_attention_heads": 12, "intermediate_size": 1536},
    ),
    "tiny": ("bert", {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}),
}


def build_model(spec: str, tokenizer, seed: int):
    torch.manual_seed(seed)
    if not spec.startswith("random:"):
        return load_classifier(spec, LABELS)
    from transformers import AutoConfig, AutoModelForSequenceClassification

    shape = spec.split(":", 1)[1]
    if shape not in SHAPES:
        raise SystemExit(f"--model random:{shape}: unknown shape; choose from {', '.join(SHAPES)}")
    architecture, sizes = SHAPES[shape]
    config = AutoConfig.for_model(architecture, vocab_size=len(tokenizer), num_labels=len(LABELS), **sizes)
    return AutoModelForSequenceClassification.from_config(config)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_our_loop(
    model, cfg: TrainConfig, train: Encoded, validation: Encoded | None, pad_id: int, device, steps: int, warmup: int
) -> dict:
    """ms/step of one of our loops through training's own epoch function (`loops.train_epoch`): `steps` timed
    steps after `warmup`, or a whole epoch (+ evaluation) if steps == 0."""
    per_epoch = steps_per_epoch(len(train), cfg.train_batch_size)
    total = per_epoch if steps == 0 else warmup + steps
    loop = make_loop(cfg, device)
    optimizer, scheduler = make_optimizer(model, cfg, max(total, per_epoch), loop)
    loop.start(model, optimizer, scheduler, train, pad_id)
    model.train()
    first = 0 if steps == 0 else warmup
    warm = take_steps(loop, train, 0, first)  # the warm-up, untimed
    synchronize(device)
    started = time.perf_counter()
    timed = take_steps(loop, train, first, total - first)
    eval_seconds = 0.0
    if steps == 0 and validation is not None:
        eval_start = time.perf_counter()
        loop.evaluate(validation, pad_id)
        eval_seconds = time.perf_counter() - eval_start
    synchronize(device)
    seconds = time.perf_counter() - started
    # Counted after the clock stops, so that on a 3 ms GPU step the host work of counting is not timed.
    padded, size = 0, cfg.train_batch_size
    for epoch, sums, start in timed:
        loop.batches.set_order(loop.epoch_order(train.lengths, epoch))
        for batch in range(start, sums.batch):
            begin, end = batch * size, min((batch + 1) * size, len(train))
            padded += loop.batches.width(begin, end) * (end - begin)
    losses = [row[2] for _, sums, _ in warm + timed for row in sums.steps]  # every step, as Trainer's mean
    real = sum(sums.tokens for _, sums, _ in timed)
    captured = {k: v for k, v in loop.describe().items() if k in ("graph_widths", "capture_seconds")}
    return {"ms_per_step": 1000 * seconds / (total - first), "timed_steps": total - first, "seconds": seconds,
            "eval_seconds": eval_seconds, "mean_loss": float(np.mean(losses)), "padding": padded / real, **captured}  # fmt: skip


def take_steps(loop, train: Encoded, done: int, steps: int) -> list[tuple[int, EpochSums, int]]:
    """`steps` more steps after `done` steps, through `train_epoch`, into the next epoch when one ends (its last
    batch is short, as in training). Returns (epoch, sums, first batch) of each epoch's stretch."""
    per_epoch = steps_per_epoch(len(train), loop.cfg.train_batch_size)
    stretches = []
    while steps > 0:
        epoch, start = divmod(done, per_epoch)
        sums = EpochSums(batch=start)
        until = min(per_epoch, start + steps)
        done = train_epoch(loop, train, epoch + 1, sums, done, until=until)
        stretches.append((epoch + 1, sums, start))
        steps -= until - start
    return stretches


def time_hf_trainer(
    model,
    tokenizer,
    cfg: TrainConfig,
    train: Encoded,
    validation: Encoded | None,
    device,
    steps: int,
    warmup: int,
    bf16: bool,
) -> dict:
    """ms/step of transformers.Trainer with the same hyperparameters, padding per batch with its own collator."""
    from transformers import DataCollatorWithPadding, Trainer, TrainerCallback, TrainingArguments

    def rows(data: Encoded) -> list[dict]:
        return [{"input_ids": data.ids[data.offsets[i] : data.offsets[i + 1]].tolist(), "labels": int(data.labels[i])}
                for i in range(len(data))]  # fmt: skip

    per_epoch = steps_per_epoch(len(train), cfg.train_batch_size)
    total = per_epoch if steps == 0 else warmup + steps
    first = 0 if steps == 0 else warmup
    clock = {}

    class Clock(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            if first == 0:
                synchronize(device)
                clock["start"] = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == first:
                synchronize(device)
                clock["start"] = time.perf_counter()

        def on_train_end(self, args, state, control, **kwargs):
            synchronize(device)
            clock["end"] = time.perf_counter()

    with tempfile.TemporaryDirectory() as scratch:
        args = TrainingArguments(
            output_dir=scratch, per_device_train_batch_size=cfg.train_batch_size, per_device_eval_batch_size=cfg.eval_batch_size,
            learning_rate=cfg.learning_rate, weight_decay=cfg.weight_decay, max_grad_norm=cfg.max_grad_norm,
            lr_scheduler_type="linear", warmup_steps=0, max_steps=total, seed=cfg.seed, data_seed=cfg.seed,
            eval_strategy="no", save_strategy="no", logging_strategy="no", report_to=[], disable_tqdm=True,
            dataloader_num_workers=0, bf16=bf16, use_cpu=device.type == "cpu",
        )  # fmt: skip
        trainer = Trainer(model=model, args=args, train_dataset=rows(train), data_collator=DataCollatorWithPadding(tokenizer),
                          callbacks=[Clock()])  # fmt: skip
        result = trainer.train()
        eval_seconds = 0.0
        if steps == 0 and validation is not None:
            eval_start = time.perf_counter()
            trainer.evaluate(rows(validation))
            synchronize(device)
            eval_seconds = time.perf_counter() - eval_start
            clock["end"] += eval_seconds
    seconds = clock["end"] - clock["start"]
    timed = total - first
    return {"ms_per_step": 1000 * seconds / timed, "timed_steps": timed, "seconds": seconds,
            "eval_seconds": eval_seconds, "mean_loss": float(result.training_loss)}  # fmt: skip


def run(args) -> dict:
    if args.threads:
        torch.set_num_threads(runinfo.torch_threads(args.threads))
    device = runinfo.pick_device(args.device)
    tokenizer = load_tokenizer(args.tokenizer or args.model)
    columns = Columns(texts=(args.text_column,), label=args.label_column, labels=LABELS)
    frame = load_file_split(args.train, columns)
    if args.rows:
        frame = frame.head(args.rows)
    max_length = resolve_max_length(tokenizer, requested=args.max_length)
    train = encode(tokenizer, frame, max_length)
    validation = encode(tokenizer, load_file_split(args.validation, columns), max_length) if args.validation else None
    pad_id = tokenizer.pad_token_id
    initial = build_model(args.model, tokenizer, args.seed).to(device)
    base = TrainConfig(seed=args.seed, device=str(device), threads=args.threads)
    fast_cfg = FastConfig(precision=args.precision, sync_every=args.sync_every, bucket_multiple=args.bucket_multiple)
    steps = 0 if args.epoch else args.steps
    if device.type == "cuda":
        # The first CUDA work of a process pays its one-time setup (kernel loading, cuBLAS handles): 20 untimed
        # steps on a scratch copy, so that no loop's figure depends on its place in --loops.
        warm = dataclasses.replace(base, loop="fast", fast=dataclasses.replace(fast_cfg, cuda_graphs="auto"))
        time_our_loop(copy.deepcopy(initial), warm, train, None, pad_id, device, 20, 0)
        torch.cuda.empty_cache()
    results = {}
    for loop in args.loops:
        model = copy.deepcopy(initial)
        if loop == "hf":
            bf16 = args.hf_bf16 and device.type == "cuda"
            results[loop] = time_hf_trainer(model, tokenizer, base, train, validation, device, steps, args.warmup, bf16)
        else:
            name, changes = LOOPS[loop]
            cfg = dataclasses.replace(base, loop=name, fast=dataclasses.replace(fast_cfg, **changes))
            results[loop] = time_our_loop(model, cfg, train, validation, pad_id, device, steps, args.warmup)
        print(
            f"{loop:14s} {results[loop]['ms_per_step']:9.2f} ms/step over {results[loop]['timed_steps']} steps",
            file=sys.stderr,
        )
        del model
        if device.type == "cuda":
            torch.cuda.empty_cache()
    lengths = train.lengths
    return {
        "model": args.model, "device": str(device), "device_name": runinfo.hardware(device)["device_name"],
        "torch_threads": torch.get_num_threads(), "versions": runinfo.package_versions(), "platform": platform.platform(),
        "train_rows": len(train), "mean_tokens": float(lengths.mean()), "mode": "epoch" if args.epoch else f"{args.steps} steps",
        "fast": fast_cfg.__dict__, "hf_bf16": args.hf_bf16, "results": results,
    }  # fmt: skip


def report(summary: dict) -> str:
    results = summary["results"]
    lines = [f"{summary['model']} on {summary['device_name']} ({summary['device']}, {summary['torch_threads']} threads), "
             f"{summary['train_rows']} sentences, mean {summary['mean_tokens']:.1f} tokens, {summary['mode']}",
             f"{'loop':14s} {'ms/step':>9s} {'vs plain':>9s} {'vs hf':>9s} {'mean loss':>9s} {'padding':>8s}"]  # fmt: skip
    for loop, r in results.items():
        ratios = [
            f"{results[ref]['ms_per_step'] / r['ms_per_step']:8.2f}x" if ref in results else f"{'-':>9s}"
            for ref in ("plain", "hf")
        ]
        padding = f"{r['padding']:7.2f}x" if "padding" in r else f"{'-':>8s}"  # Trainer pads batches as it draws them
        lines.append(f"{loop:14s} {r['ms_per_step']:9.2f} {ratios[0]} {ratios[1]} {r['mean_loss']:9.4f} {padding}")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="a local model folder, or random:" + "|".join(SHAPES))
    parser.add_argument("--tokenizer", help="folder of the tokenizer (required for random: models)")
    parser.add_argument("--train", required=True, help="TSV/CSV/Parquet/JSONL with text and label columns")
    parser.add_argument("--validation", help="evaluated at the end of --epoch")
    parser.add_argument("--text-column", default="sentence")
    parser.add_argument("--label-column", default="label")
    parser.add_argument("--rows", type=int, help="use only the first N training sentences")
    parser.add_argument("--max-length", type=int)
    parser.add_argument("--loops", default="fast,plain,hf", type=lambda s: s.split(","))
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--epoch", action="store_true", help="time a whole epoch plus evaluation instead of --steps")
    parser.add_argument("--precision", default="auto", choices=["auto", "bf16", "tf32", "fp32"])
    parser.add_argument("--sync-every", type=int, default=50)
    parser.add_argument("--bucket-multiple", type=int, help="default: 8 on a GPU, 1 on the CPU")
    parser.add_argument("--hf-bf16", action="store_true", help="Trainer with bf16=True (on CUDA)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args(argv)
    unknown = set(args.loops) - {*LOOPS, "hf"}
    if unknown:
        parser.error(f"--loops: unknown {', '.join(sorted(unknown))}; choose from {', '.join([*LOOPS, 'hf'])}")
    if args.model.startswith("random:") and not args.tokenizer:
        parser.error("--model random:... needs --tokenizer (a folder with the vocabulary)")
    summary = run(args)
    print(report(summary))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(summary, handle, indent=2)


if __name__ == "__main__":
    main()
