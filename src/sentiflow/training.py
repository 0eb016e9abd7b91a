"""The study's fine-tuning loop, seeded and resumable.

Recipe: dynamic padding per batch, forward, cross-entropy, backward, gradient-norm clipping, AdamW (no
weight decay on biases and LayerNorm), linear schedule with optional warmup, evaluation after every epoch.
"""

from __future__ import annotations

import dataclasses
import math
import shutil
import signal
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from sentiflow import checkpoint, config, fast, gpus, runinfo
from sentiflow.atomic import write_csv, write_json
from sentiflow.loops import make_loop, make_optimizer
from sentiflow.modeling import count_parameters, load_classifier, load_tokenizer
from sentiflow.tokens import Encoded


# The config schema is the one source of defaults; these settings read theirs from it.
_DEFAULT = config.defaults("training")


@dataclass(frozen=True)
class FastConfig:
    """Settings of the fast loop (`loop: fast`); the plain loop ignores them."""

    precision: str = _DEFAULT["fast"]["precision"]  # auto: bf16 autocast on a GPU that supports it, fp32 elsewhere
    bucket_multiple: int | None = _DEFAULT["fast"]["bucket_multiple"]  # None: 8 on a GPU (repeating shapes), 1 on the CPU
    sync_every: int = _DEFAULT["fast"]["sync_every"]
    eval_batch_size: int = _DEFAULT["fast"]["eval_batch_size"]
    cuda_graphs: str | bool = _DEFAULT["fast"]["cuda_graphs"]  # auto: on with CUDA, off on the CPU
    group_by_length: bool = _DEFAULT["fast"]["group_by_length"]  # batches of similar-length sentences: a third of the padding


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = _DEFAULT["epochs"]
    train_batch_size: int = _DEFAULT["train_batch_size"]
    eval_batch_size: int = _DEFAULT["eval_batch_size"]
    learning_rate: float = _DEFAULT["learning_rate"]
    weight_decay: float = _DEFAULT["weight_decay"]
    warmup_ratio: float = _DEFAULT["warmup_ratio"]
    max_grad_norm: float = _DEFAULT["max_grad_norm"]
    classifier_dropout: float | None = _DEFAULT["classifier_dropout"]  # None: the checkpoint's own head dropout
    early_stopping_patience: int | None = _DEFAULT["early_stopping_patience"]  # None: train every epoch
    seed: int = 0  # the run's seed: a wildcard of the workflow, not a training setting
    device: str = _DEFAULT["device"]
    threads: int | None = None  # the rule's `threads:`; None leaves torch's own choice
    runs_per_gpu: int = _DEFAULT["runs_per_gpu"]  # runs packed on one device (its slots; see sentiflow.gpus)
    loop: str = _DEFAULT["loop"]  # plain: the study's loop as written; fast: the same recipe without per-step overhead
    fast: FastConfig = FastConfig()

    def __post_init__(self):
        if self.loop not in ("plain", "fast"):
            raise ValueError(f"training.loop must be 'plain' or 'fast', not {self.loop!r}")
        if isinstance(self.fast, dict):
            object.__setattr__(self, "fast", FastConfig(**self.fast))

    @classmethod
    def from_dict(cls, values: dict, **overrides) -> "TrainConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in {**values, **overrides}.items() if k in names})


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
        for field in dataclasses.fields(self):
            object.__setattr__(self, field.name, Path(getattr(self, field.name)))


class NonFiniteLoss(FloatingPointError):
    pass


class TrainingInterrupted(RuntimeError):
    """SIGTERM or SIGUSR1 arrived; the exact state was saved and a rerun resumes from it."""


class stop_signals:
    """Record SIGTERM and SIGUSR1 (what Slurm sends before preempting or at the time limit) instead of dying.

    The training loop checks `received` after every step, so the state it saves is a consistent one.
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


def decay_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Weight decay on weight matrices and embeddings only; biases and LayerNorm parameters are left alone."""
    no_decay = set()
    for module in model.modules():
        if isinstance(module, torch.nn.LayerNorm):
            no_decay.update(id(p) for p in module.parameters(recurse=False))
    decay, plain = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        (plain if id(param) in no_decay or name.endswith("bias") else decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": plain, "weight_decay": 0.0}]


def patience_exhausted(cfg: TrainConfig, progress: dict) -> bool:
    """Early stopping: `early_stopping_patience` finished epochs in a row without a new best validation accuracy.

    The schedule still decays over all configured epochs, as with Hugging Face's EarlyStoppingCallback.
    """
    patience = cfg.early_stopping_patience
    return patience is not None and progress["best_epoch"] is not None and progress["epoch"] - progress["best_epoch"] >= patience


def prediction_table(epoch: int, data: Encoded, probs: np.ndarray) -> pd.DataFrame:
    table = pd.DataFrame({"epoch": epoch, "index": data.index, "gold": data.labels, "pred": probs.argmax(1)})
    for k in range(probs.shape[1]):
        table[f"prob_{k}"] = probs[:, k]
    return table


def fine_tune(
    backbone: str,
    labels: Sequence[str],
    train: Encoded,
    validation: Encoded,
    pad_id: int,
    cfg: TrainConfig,
    out: RunOutputs,
    extra_metadata: dict | None = None,
    holdout: Encoded | None = None,
) -> dict:
    """Fine-tune `backbone` on `train`, evaluate on `validation` (and `holdout`) after every epoch, write every output.

    The holdout is a slice of the training split that is never trained on; its predictions let calibration
    be fitted on sentences other than the validation ones.
    """
    started = time.time()
    if cfg.threads:
        # One OpenMP pool sized to the rule's `threads:`; a second busy-waiting pool would halve throughput.
        torch.set_num_threads(runinfo.torch_threads(cfg.threads))
    device = runinfo.pick_device(cfg.device)
    slot = None
    if device.type == "cuda" and device.index is None:  # no device named: take a free slot of the visible GPUs
        slot = gpus.acquire(gpus.visible_devices(torch.cuda.device_count()), cfg.runs_per_gpu)
        device = torch.device("cuda", slot.index)
        print(f"training on {device} ({slot.record()})", file=sys.stderr)
    from transformers import set_seed

    set_seed(cfg.seed)  # before the model is built: the new head's initial weights come from this seed
    tokenizer = load_tokenizer(backbone)
    model = load_classifier(backbone, labels, cfg.classifier_dropout)
    if device.type == "cuda":
        gpus.check_fits(torch.cuda.mem_get_info(device)[0], count_parameters(model), torch.cuda.get_device_name(device), cfg.runs_per_gpu)
    model = model.to(device)
    model.train()
    steps_per_epoch = math.ceil(len(train) / cfg.train_batch_size)
    total_steps = cfg.epochs * steps_per_epoch
    loop = make_loop(cfg, device)
    optimizer, scheduler = make_optimizer(model, cfg, total_steps, loop)

    settings = dataclasses.asdict(cfg) | {"backbone": backbone, "labels": list(labels), "train_rows": len(train)}
    for machine_setting in ("threads", "device", "runs_per_gpu"):  # where a run trains, not what it computes
        settings.pop(machine_setting)
    tables = {name: pd.DataFrame() for name in checkpoint.TABLES}
    progress = {"epoch": 0, "step": 0, "best_epoch": None, "best_accuracy": -1.0, "elapsed": 0.0, "resumed_after": []}
    resumed = checkpoint.load_resume_state(out.resume)
    if resumed is not None and resumed[0]["progress"]["settings"] != settings:
        # A stale state from before a config change: its epochs belong to another experiment.
        print(f"discarding {out.resume}: it was saved with other settings", file=sys.stderr)
        shutil.rmtree(out.resume)
        resumed = None
    if resumed is not None:
        state, tables = resumed
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        checkpoint.restore_rng(state["rng"])
        progress = state["progress"]
        progress["resumed_after"] = progress["resumed_after"] + [progress["epoch"]]
        where = f"epoch {progress['epoch'] + 1} at batch {progress['partial']['batch']}" if "partial" in progress else f"after epoch {progress['epoch']}"
        print(f"resuming {where} from {out.resume}", file=sys.stderr)
    session_start = time.time()
    writer = checkpoint.StateWriter()  # epoch-end states are written while the next epoch trains

    def save_state(tables: dict, new_best: bool, wait: bool = False) -> None:
        nonlocal session_start
        progress["elapsed"] += time.time() - session_start
        session_start = time.time()
        progress["settings"] = settings
        writer.submit(out.resume, model=model, optimizer=optimizer, scheduler=scheduler, progress=progress, tables=tables,
                      tokenizer=tokenizer, new_best=new_best)
        if wait:
            writer.wait()

    loop.start(model, optimizer, scheduler, train, pad_id)
    batches, step, log = loop.batches, loop.step, loop.log

    with stop_signals() as stop:
        for epoch in range(progress["epoch"] + 1, cfg.epochs + 1):
            if patience_exhausted(cfg, progress):  # derived from the saved progress, so a resumed run stops alike
                progress["stopped_early_after"] = progress["epoch"]
                print(f"early stopping after epoch {progress['epoch']}: no better validation accuracy since epoch "
                      f"{progress['best_epoch']} (patience {cfg.early_stopping_patience})", file=sys.stderr)
                break
            epoch_start = time.time()
            order = loop.epoch_order(train.lengths, epoch)
            batches.set_order(order)
            # A run stopped by a signal mid-epoch continues at the next batch with the epoch's partial sums.
            partial = progress.pop("partial", None) or {"batch": 0, "step_rows": [], "loss_sum": 0.0, "tokens": 0, "seconds": 0.0}
            step_rows, loss_sum, tokens = partial["step_rows"], partial["loss_sum"], partial["tokens"]
            bar = tqdm(total=steps_per_epoch, initial=partial["batch"], desc=f"epoch {epoch}/{cfg.epochs}", file=sys.stderr, mininterval=2.0)

            def read_back() -> None:
                # The plain loop reads every step; the fast one every `sync_every` steps, one device sync each.
                nonlocal loss_sum
                for epoch_, step_, loss_value, grad_norm, lr, rows in log.flush():
                    if not math.isfinite(loss_value):
                        raise NonFiniteLoss(f"loss is {loss_value} at epoch {epoch_}, step {step_}; run stopped")
                    loss_sum += loss_value * rows
                    step_rows.append((epoch_, step_, loss_value, grad_norm, lr))
                    bar.set_postfix(loss=f"{loss_value:.4f}", refresh=False)

            for batch_number in range(partial["batch"], steps_per_epoch):
                start = batch_number * cfg.train_batch_size
                end = min(start + cfg.train_batch_size, len(train))
                lr = fast.scheduled_lr(scheduler)
                loss, grad_norm = step(batches.batch(start, end))
                progress["step"] += 1
                tokens += int(batches.lengths[order[start:end]].sum())
                if log.record(epoch, progress["step"], lr, end - start, loss, grad_norm):
                    read_back()
                bar.update()
                if stop.received:  # a scheduler's preemption or time-limit warning: save exactly here, then leave
                    read_back()
                    bar.close()
                    progress["partial"] = {"batch": batch_number + 1, "step_rows": step_rows, "loss_sum": loss_sum,
                                           "tokens": tokens, "seconds": partial["seconds"] + time.time() - epoch_start}
                    progress["interruptions"] = progress.get("interruptions", []) + [
                        {"signal": stop.received[0], "epoch": epoch, "step": progress["step"]}]
                    save_state(tables, new_best=False, wait=True)
                    raise TrainingInterrupted(
                        f"{stop.received[0]} received: stopped in epoch {epoch} after step {progress['step']}; the state is saved "
                        f"in {out.resume} and running the job again continues from there"
                    )
            read_back()
            bar.close()
            train_seconds = partial["seconds"] + time.time() - epoch_start

            eval_start = time.time()
            val_loss, probs = loop.evaluate(model, validation, pad_id)
            accuracy = float((probs.argmax(1) == validation.labels).mean())
            epoch_seconds = partial["seconds"] + time.time() - epoch_start
            print(f"epoch {epoch}: train loss {loss_sum / len(train):.4f}, val loss {val_loss:.4f}, "
                  f"val accuracy {accuracy:.4f} ({epoch_seconds:.1f} s)", file=sys.stderr)

            row = {
                "epoch": epoch,
                "train_loss": loss_sum / len(train),
                "val_loss": val_loss,
                "val_accuracy": accuracy,
                "train_seconds": train_seconds,
                "eval_seconds": time.time() - eval_start,
                "epoch_seconds": epoch_seconds,
                "train_tokens_per_s": tokens / train_seconds,
                "train_sentences_per_s": len(train) / train_seconds,
            }
            steps = pd.DataFrame(step_rows, columns=["epoch", "step", "loss", "grad_norm", "lr"])
            new_rows = {"history": pd.DataFrame([row]), "steps": steps, "predictions": prediction_table(epoch, validation, probs)}
            if holdout is not None and len(holdout):
                new_rows["holdout_predictions"] = prediction_table(epoch, holdout, loop.evaluate(model, holdout, pad_id)[1])
            tables = {name: pd.concat([tables[name], new_rows.get(name)], ignore_index=True) for name in checkpoint.TABLES}
            new_best = accuracy > progress["best_accuracy"]  # ties keep the earlier epoch
            if new_best:
                progress["best_accuracy"], progress["best_epoch"] = accuracy, epoch
            progress["epoch"] = epoch
            save_state(tables, new_best)

    writer.wait()  # the last epoch's state, and with it the best checkpoint, is on disk before it is published
    progress["elapsed"] += time.time() - session_start
    metadata = {
        "backbone": backbone,
        "seed": cfg.seed,
        "labels": list(labels),
        "hyperparameters": dataclasses.asdict(cfg) | {"total_steps": total_steps, "steps_per_epoch": steps_per_epoch},
        "loop": loop.describe(),
        "data": {"train_rows": len(train), "validation_rows": len(validation)},
        "parameters": count_parameters(model),
        "best_epoch": progress["best_epoch"],
        "best_val_accuracy": progress["best_accuracy"],
        "last_val_accuracy": float(tables["history"]["val_accuracy"].iloc[-1]),
        "total_seconds": progress["elapsed"],
        "process_seconds": time.time() - started,
        "epochs_trained": progress["epoch"],
        "stopped_early_after_epoch": progress.get("stopped_early_after"),
        "resumed_after_epochs": progress["resumed_after"],
        # Seconds of this session spent on resume states: the training thread pays snapshot + waited, not write.
        "resume_state_seconds": {k: round(v, 3) for k, v in writer.seconds.items()},
        "interruptions": progress.get("interruptions", []),
        "peak_memory": runinfo.peak_memory_mb(device),
        "hardware": runinfo.hardware(device) | {"gpu_slot": slot.record() if slot else None},
        "versions": runinfo.package_versions(),
        **(extra_metadata or {}),
    }
    if tables["holdout_predictions"].empty:  # no holdout: an empty table that still has its columns
        tables["holdout_predictions"] = pd.DataFrame(columns=["epoch", "index", "gold", "pred"] + [f"prob_{k}" for k in range(len(labels))])
    for name in checkpoint.TABLES:
        write_csv(getattr(out, name), tables[name])
    # Moving the best checkpoint out of the resume folder publishes it in one rename.
    if out.model.exists():
        shutil.rmtree(out.model)
    out.model.parent.mkdir(parents=True, exist_ok=True)
    (out.resume / checkpoint.BEST).rename(out.model)
    write_json(out.metadata, metadata)
    shutil.rmtree(out.resume)
    if slot is not None:  # the process may go on (tests, notebooks): let the next run have the device
        slot.release()
    return metadata


def train_from_tokens(tokens_path, backbone: str, labels: Sequence[str], cfg: TrainConfig, out: RunOutputs, run_name: str | None = None,
                      dataset: str | None = None, variant: str = "base", backbone_key: str | None = None) -> dict:
    """Fine-tune on a token cache written by `tokens.tokenize_dataset` (the train rule's entry point)."""
    from sentiflow.tokens import load_encoded

    splits, meta = load_encoded(tokens_path)
    if meta["model"] != backbone:
        raise ValueError(f"{tokens_path} was tokenized for {meta['model']!r}, not {backbone!r}; rerun tokenize")
    extra = {"run_name": run_name or backbone, "dataset": dataset, "backbone_key": backbone_key or run_name or backbone,
             "variant": variant, "tokens": meta}
    return fine_tune(
        backbone, labels, splits["train"], splits["validation"], meta["pad_id"], cfg, out, extra, holdout=splits.get("holdout")
    )
