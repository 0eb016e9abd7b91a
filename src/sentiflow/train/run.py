"""The study's fine-tuning run, seeded and resumable, as named steps that `fine_tune` calls top to bottom.

Recipe: dynamic padding per batch, forward, cross-entropy, backward, gradient-norm clipping, AdamW (no
weight decay on biases and LayerNorm), linear schedule with optional warmup, evaluation after every epoch on
validation and on the held-out slice of train. The epoch the published checkpoint holds (and early stopping
watches) is chosen on the holdout, never on the validation sentences the report scores (`select_epoch`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import shutil
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch
from tqdm.auto import tqdm

from sentiflow.atomic import write_csv, write_json
from sentiflow.train import checkpoint, gpus, runinfo
from sentiflow.train.loops import EpochSums, NonFiniteLoss, PlainLoop, make_loop, make_optimizer, train_epoch
from sentiflow.train.modeling import count_parameters, load_classifier, load_tokenizer, stored_dtype
from sentiflow.train.recipe import FastConfig, TrainConfig, steps_per_epoch
from sentiflow.train.tokens import Encoded, load_encoded

__all__ = ["FastConfig", "NonFiniteLoss", "RunOutputs", "TrainConfig", "TrainingInterrupted", "fine_tune"]


@dataclass(frozen=True)
class RunOutputs:
    history: Path
    steps: Path
    predictions: Path
    holdout_predictions: Path
    model: Path
    metadata: Path
    resume: Path  # not a workflow output: it must survive a failed job so a retry can resume

    def __post_init__(self):
        for field_ in dataclasses.fields(self):
            object.__setattr__(self, field_.name, Path(getattr(self, field_.name)))


class TrainingInterrupted(RuntimeError):
    """SIGTERM or SIGUSR1 arrived; the exact state was saved and a rerun resumes from it."""


class stop_signals:
    """Record SIGTERM and SIGUSR1 (what Slurm sends before preempting or at the time limit) instead of dying.

    The epoch loop checks `received` after every step, so the state it saves is a consistent one.
    """

    SIGNALS = (signal.SIGTERM, signal.SIGUSR1)

    def __init__(self):
        self.received: list[str] = []
        self._previous = {}
        if threading.current_thread() is threading.main_thread():  # handlers can only be set there
            self._previous = {s: signal.signal(s, self._record) for s in self.SIGNALS}

    def _record(self, number, frame):
        self.received.append(signal.Signals(number).name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous = {}


@dataclass
class Splits:
    train: Encoded
    validation: Encoded
    holdout: Encoded | None  # None when there is none (or it is empty)
    pad_id: int


@dataclass
class Placed:
    """Where a run trains and what it trains: device (and GPU slot), tokenizer, the model in fp32."""

    device: torch.device
    slot: gpus.Slot | None
    tokenizer: object
    model: torch.nn.Module
    stored_dtype: str | None  # the checkpoint's own dtype; training always holds fp32 master weights


@dataclass
class Progress:
    """What a resume state says of the run so far (saved as a plain dict, read back with `from_state`)."""

    settings: dict  # what the run computes; a state saved with other settings belongs to another experiment
    selection: str  # holdout, best or last: which epoch the published checkpoint holds
    monitor: str  # the history column early stopping and the checkpoint watch: holdout_accuracy or val_accuracy
    epoch: int = 0  # epochs finished
    step: int = 0  # optimizer steps taken
    best_epoch: int | None = None  # the best epoch on `monitor` so far (earliest on ties)
    best_score: float = -math.inf
    checkpoint_epoch: int | None = None  # the epoch of the checkpoint in the resume folder
    elapsed: float = 0.0  # training seconds over every session
    resumed_after: list[int] = field(default_factory=list)
    interruptions: list[dict] = field(default_factory=list)
    stopped_early_after: int | None = None
    partial: EpochSums | None = None  # the unfinished epoch of a run stopped by a signal

    def to_state(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_state(cls, state: dict) -> Progress:
        partial = state.get("partial")
        return cls(**(state | {"partial": EpochSums(**partial) if partial else None}))


def fine_tune(backbone: str, labels: Sequence[str], train: Encoded, validation: Encoded, pad_id: int, cfg: TrainConfig,
              out: RunOutputs, extra_metadata: dict | None = None, holdout: Encoded | None = None) -> dict:  # fmt: skip
    """Fine-tune `backbone` on `train`, evaluate on `validation` and `holdout` after every epoch, write every output.

    The holdout is a slice of the training split that is never trained on: the epoch is chosen on it (with
    `select_epoch` holdout or auto), and calibration is fitted on its predictions.
    """
    started = time.time()
    splits = Splits(train, validation, holdout if holdout is not None and len(holdout) else None, pad_id)
    with place_run(backbone, labels, cfg) as placed:  # its GPU slot is let go however the run ends
        loop = make_loop(cfg, placed.device)
        total_steps = cfg.epochs * steps_per_epoch(len(train), cfg.train_batch_size)
        optimizer, scheduler = make_optimizer(placed.model, cfg, total_steps, loop)
        states = checkpoint.ResumeStates(out.resume, placed.model, optimizer, scheduler, placed.tokenizer)
        progress, tables = resume_or_start(states, start_progress(cfg, backbone, labels, splits))
        loop.start(placed.model, optimizer, scheduler, train, pad_id)
        tables = train_epochs(loop, splits, cfg, states, progress, tables)
        states.wait()  # the last epoch's state, and with it the chosen checkpoint, is on disk before it is published
        progress.elapsed += states.session_seconds()
        metadata = run_metadata(placed, loop, cfg, splits, progress, tables, states) | {
            "process_seconds": time.time() - started, "labels": list(labels), **(extra_metadata or {})}  # fmt: skip
    publish(out, tables, metadata, len(labels))
    return metadata


def train_epochs(loop: PlainLoop, splits: Splits, cfg: TrainConfig, states: checkpoint.ResumeStates,
                 progress: Progress, tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:  # fmt: skip
    """The epochs left to train, each evaluated and saved as a resume state; the tables with their rows added."""
    with stop_signals() as stop:
        for epoch in range(progress.epoch + 1, cfg.epochs + 1):
            if patience_exhausted(cfg, progress):  # derived from the saved progress, so a resumed run stops alike
                progress.stopped_early_after = progress.epoch
                print(f"early stopping after epoch {progress.epoch}: no better {progress.monitor} since epoch "
                      f"{progress.best_epoch} (patience {cfg.early_stopping_patience})", file=sys.stderr)  # fmt: skip
                break
            sums = train_one_epoch(loop, splits, epoch, progress, cfg.epochs, stop)
            if stop.received:
                save_interrupted(states, progress, tables, sums, epoch, stop.received[0])
            tables = tables_with(tables, evaluate_epoch(loop, splits, epoch, sums))
            progress.epoch = epoch
            states.save(progress, tables, new_checkpoint=choose_checkpoint(progress, tables["history"]))
    return tables


@contextlib.contextmanager
def place_run(backbone: str, labels: Sequence[str], cfg: TrainConfig) -> Iterator[Placed]:
    """Threads, device (a free GPU slot when none is named, held for the `with` block), seed, tokenizer, and the
    model with fp32 weights."""
    with gpus.claimed_device(cfg.device, cfg.threads, cfg.runs_per_gpu) as (device, slot):
        from transformers import set_seed

        set_seed(cfg.seed)  # before the model is built: the new head's initial weights come from this seed
        tokenizer = load_tokenizer(backbone)
        model = load_classifier(backbone, labels, cfg.classifier_dropout)  # fp32 whatever the checkpoint's dtype
        if device.type == "cuda":
            free = torch.cuda.mem_get_info(device)[0]
            gpus.check_fits(free, count_parameters(model), torch.cuda.get_device_name(device), cfg.runs_per_gpu)
        model.to(device).train()
        yield Placed(device, slot, tokenizer, model, stored_dtype(backbone))


def start_progress(cfg: TrainConfig, backbone: str, labels: Sequence[str], splits: Splits) -> Progress:
    """The progress of a run that has not started: its settings and what it selects the epoch on."""
    selection = cfg.selection(splits.holdout is not None)
    held = splits.holdout is not None
    monitor = "holdout_accuracy" if selection == "holdout" or (selection == "last" and held) else "val_accuracy"
    settings = dataclasses.asdict(cfg) | {"backbone": backbone, "labels": list(labels), "train_rows": len(splits.train),
                                         "select_epoch": selection}  # fmt: skip
    for machine_setting in ("threads", "device", "runs_per_gpu"):  # where a run trains, not what it computes
        settings.pop(machine_setting)
    return Progress(settings=settings, selection=selection, monitor=monitor)


def resume_or_start(states: checkpoint.ResumeStates, fresh: Progress) -> tuple[Progress, dict[str, pd.DataFrame]]:
    """The saved progress and tables when a resume state of this experiment exists (model, optimizer, scheduler
    and RNGs restored from it), else `fresh` and empty tables."""
    saved = states.load()
    if saved is not None and saved[0]["progress"]["settings"] != fresh.settings:
        print(f"discarding {states.folder}: it was saved with other settings", file=sys.stderr)
        states.discard()
        saved = None
    if saved is None:
        return fresh, {name: pd.DataFrame() for name in checkpoint.TABLES}
    state, tables = saved
    states.restore(state)
    progress = Progress.from_state(state["progress"])
    progress.resumed_after.append(progress.epoch)
    where = (
        f"epoch {progress.epoch + 1} at batch {progress.partial.batch}"
        if progress.partial
        else f"after epoch {progress.epoch}"
    )
    print(f"resuming {where} from {states.folder}", file=sys.stderr)
    return progress, tables


def train_one_epoch(loop: PlainLoop, splits: Splits, epoch: int, progress: Progress, epochs: int, stop) -> EpochSums:
    """Train the epoch (from where a signal stopped it, if it did), with a progress bar on the log."""
    sums, progress.partial = progress.partial or EpochSums(), None
    total = steps_per_epoch(len(splits.train), loop.cfg.train_batch_size)
    bar = tqdm(total=total, initial=sums.batch, desc=f"epoch {epoch}/{epochs}", file=sys.stderr, mininterval=2.0)
    progress.step = train_epoch(loop, splits.train, epoch, sums, progress.step, stop=stop, bar=bar)
    bar.close()
    return sums


def save_interrupted(states, progress: Progress, tables: dict, sums: EpochSums, epoch: int, received: str) -> None:
    """A scheduler's preemption or time-limit warning: save exactly here, then leave with an error."""
    progress.partial = sums
    progress.interruptions.append({"signal": received, "epoch": epoch, "step": progress.step})
    states.save(progress, tables, new_checkpoint=False, wait=True)
    raise TrainingInterrupted(
        f"{received} received: stopped in epoch {epoch} after step {progress.step}; the state is saved "
        f"in {states.folder} and running the job again continues from there"
    )


def evaluate_epoch(loop: PlainLoop, splits: Splits, epoch: int, sums: EpochSums) -> dict[str, pd.DataFrame]:
    """The epoch's rows of every table: its history row (losses, accuracies, timing), steps and predictions."""
    started = time.time()
    val_loss, probs = loop.evaluate(splits.validation, splits.pad_id)
    row = {"epoch": epoch, "train_loss": sums.loss_sum / len(splits.train), "val_loss": val_loss,
           "val_accuracy": float((probs.argmax(1) == splits.validation.labels).mean())}  # fmt: skip
    rows = {"predictions": prediction_table(epoch, splits.validation, probs)}
    if splits.holdout is not None:
        held_loss, held = loop.evaluate(splits.holdout, splits.pad_id)
        row |= {"holdout_loss": held_loss, "holdout_accuracy": float((held.argmax(1) == splits.holdout.labels).mean())}
        rows["holdout_predictions"] = prediction_table(epoch, splits.holdout, held)
    else:
        row |= {"holdout_loss": math.nan, "holdout_accuracy": math.nan}
    eval_seconds = time.time() - started
    row |= {"train_seconds": sums.seconds, "eval_seconds": eval_seconds, "epoch_seconds": sums.seconds + eval_seconds,
            "train_tokens_per_s": sums.tokens / sums.seconds, "train_sentences_per_s": len(splits.train) / sums.seconds}  # fmt: skip
    held = f", holdout accuracy {row['holdout_accuracy']:.4f}" if splits.holdout is not None else ""
    print(f"epoch {epoch}: train loss {row['train_loss']:.4f}, val loss {val_loss:.4f}, val accuracy "
          f"{row['val_accuracy']:.4f}{held} ({row['epoch_seconds']:.1f} s)", file=sys.stderr)  # fmt: skip
    steps = pd.DataFrame(sums.steps, columns=["epoch", "step", "loss", "grad_norm", "lr"])
    return rows | {"history": pd.DataFrame([row]), "steps": steps}


def tables_with(tables: dict[str, pd.DataFrame], rows: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    return {name: pd.concat([tables[name], rows.get(name)], ignore_index=True) for name in checkpoint.TABLES}


def choose_checkpoint(progress: Progress, history: pd.DataFrame) -> bool:
    """Update the best epoch on the monitored split; whether this epoch's weights become the checkpoint."""
    row = history.iloc[-1]
    improved = row[progress.monitor] > progress.best_score  # ties keep the earlier epoch
    if improved:
        progress.best_score, progress.best_epoch = float(row[progress.monitor]), int(row["epoch"])
    new_checkpoint = improved or progress.selection == "last"
    if new_checkpoint:
        progress.checkpoint_epoch = int(row["epoch"])
    return new_checkpoint


def patience_exhausted(cfg: TrainConfig, progress: Progress) -> bool:
    """Early stopping: `early_stopping_patience` finished epochs in a row without a new best on the monitored split
    (the holdout, where the epoch is chosen there). The schedule still decays over all configured epochs, as
    with Hugging Face's EarlyStoppingCallback."""
    patience = cfg.early_stopping_patience
    return patience is not None and progress.best_epoch is not None and progress.epoch - progress.best_epoch >= patience


def prediction_table(epoch: int, data: Encoded, probs) -> pd.DataFrame:
    table = pd.DataFrame({"epoch": epoch, "index": data.index, "gold": data.labels, "pred": probs.argmax(1)})
    for k in range(probs.shape[1]):
        table[f"prob_{k}"] = probs[:, k]
    return table


def run_metadata(placed: Placed, loop: PlainLoop, cfg: TrainConfig, splits: Splits, progress: Progress, tables: dict,
                 states) -> dict:  # fmt: skip
    """What the run's metadata.json records: settings, selection, accuracies, time, memory, hardware, versions."""
    history = tables["history"].set_index("epoch")
    best_on_validation = int(history["val_accuracy"].idxmax())  # the study's "best": chosen on validation itself
    per_epoch = steps_per_epoch(len(splits.train), cfg.train_batch_size)
    return {
        "backbone": progress.settings["backbone"],
        "seed": cfg.seed,
        "hyperparameters": dataclasses.asdict(cfg)
        | {"total_steps": cfg.epochs * per_epoch, "steps_per_epoch": per_epoch},
        "loop": loop.describe(),
        "data": {
            "train_rows": len(splits.train),
            "validation_rows": len(splits.validation),
            "holdout_rows": len(splits.holdout) if splits.holdout is not None else 0,
        },
        "parameters": count_parameters(placed.model),
        "stored_dtype": placed.stored_dtype,
        "trained_dtype": str(next(placed.model.parameters()).dtype).removeprefix("torch."),
        "select_epoch": progress.selection,
        "selected_epoch": progress.checkpoint_epoch,
        "selected_val_accuracy": float(history.loc[progress.checkpoint_epoch, "val_accuracy"]),
        "selected_holdout_accuracy": float(history.loc[progress.checkpoint_epoch, "holdout_accuracy"])
        if splits.holdout is not None
        else None,
        "best_epoch": best_on_validation,
        "best_val_accuracy": float(history.loc[best_on_validation, "val_accuracy"]),
        "last_val_accuracy": float(history["val_accuracy"].iloc[-1]),
        "total_seconds": progress.elapsed,
        "epochs_trained": progress.epoch,
        "stopped_early_after_epoch": progress.stopped_early_after,
        "resumed_after_epochs": progress.resumed_after,
        # Seconds of this session spent on resume states: the training thread pays snapshot + waited, not write.
        "resume_state_seconds": {k: round(v, 3) for k, v in states.writer.seconds.items()},
        "interruptions": progress.interruptions,
        "peak_memory": runinfo.peak_memory_mb(placed.device),
        "hardware": runinfo.hardware(placed.device) | {"gpu_slot": placed.slot.record() if placed.slot else None},
        "versions": runinfo.package_versions(),
    }


def publish(out: RunOutputs, tables: dict[str, pd.DataFrame], metadata: dict, classes: int) -> None:
    """Write the tables, move the chosen checkpoint out of the resume folder (one rename), then the metadata."""
    if tables["holdout_predictions"].empty:  # no holdout: an empty table that still has its columns
        columns = ["epoch", "index", "gold", "pred"] + [f"prob_{k}" for k in range(classes)]
        tables["holdout_predictions"] = pd.DataFrame(columns=columns)
    for name in checkpoint.TABLES:
        write_csv(getattr(out, name), tables[name])
    if out.model.exists():
        shutil.rmtree(out.model)
    out.model.parent.mkdir(parents=True, exist_ok=True)
    (out.resume / checkpoint.BEST).rename(out.model)
    write_json(out.metadata, metadata)
    shutil.rmtree(out.resume)


def train_from_tokens(tokens_path, backbone: str, labels: Sequence[str], cfg: TrainConfig, out: RunOutputs,
                      run_name: str | None = None, dataset: str | None = None, variant: str = "base",
                      backbone_key: str | None = None) -> dict:  # fmt: skip
    """Fine-tune on a token cache written by `tokens.tokenize_dataset` (the train rule's entry point)."""

    splits, meta = load_encoded(tokens_path)
    if meta["model"] != backbone:
        raise ValueError(f"{tokens_path} was tokenized for {meta['model']!r}, not {backbone!r}; rerun tokenize")
    extra = {"run_name": run_name or backbone, "dataset": dataset, "backbone_key": backbone_key or run_name or backbone,
             "variant": variant, "tokens": meta}  # fmt: skip
    train, validation, holdout = splits["train"], splits["validation"], splits.get("holdout")
    return fine_tune(backbone, labels, train, validation, meta["pad_id"], cfg, out, extra, holdout=holdout)
