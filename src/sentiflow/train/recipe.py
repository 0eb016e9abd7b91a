"""The settings of one training run, with the config schema's defaults (the one source of defaults)."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from sentiflow import config

_DEFAULT = config.defaults("training")
SELECTIONS = ("auto", "holdout", "best", "last")


def steps_per_epoch(rows: int, batch_size: int) -> int:
    """Optimizer steps in one epoch of `rows` training rows: the last batch may be short, never dropped."""
    return math.ceil(rows / batch_size)


@dataclass(frozen=True)
class FastConfig:
    """Settings of the fast loop (`loop: fast`); the plain loop ignores them."""

    precision: str = _DEFAULT["fast"]["precision"]  # auto: bf16 autocast where steps replay as CUDA graphs, else fp32
    bucket_multiple: int | None = _DEFAULT["fast"]["bucket_multiple"]  # None: 8 on a GPU (repeating shapes), 1 on CPU
    sync_every: int = _DEFAULT["fast"]["sync_every"]
    eval_batch_size: int | None = _DEFAULT["fast"]["eval_batch_size"]  # None: 512 on a GPU, 64 on the CPU
    cuda_graphs: str | bool = _DEFAULT["fast"]["cuda_graphs"]  # auto: on with CUDA, off on the CPU
    group_by_length: bool = _DEFAULT["fast"]["group_by_length"]  # batches of similar-length sentences


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
    # Which epoch the published checkpoint holds (analysis.select_epoch): the best on the held-out slice of train,
    # the best on validation (the study's choice, optimistic), or the last; auto: holdout when there is one.
    select_epoch: str = config.defaults("analysis")["select_epoch"]
    seed: int = 0  # the run's seed: a wildcard of the workflow, not a training setting
    device: str = _DEFAULT["device"]
    threads: int | None = None  # the rule's `threads:`; None leaves torch's own choice
    runs_per_gpu: int = _DEFAULT["runs_per_gpu"]  # runs packed on one device (its slots; see sentiflow.train.gpus)
    loop: str = _DEFAULT["loop"]  # plain: the study's loop as written; fast: the same recipe without per-step overhead
    fast: FastConfig = FastConfig()

    def __post_init__(self):
        if self.loop not in ("plain", "fast"):
            raise ValueError(f"training.loop must be 'plain' or 'fast', not {self.loop!r}")
        if self.select_epoch not in SELECTIONS:
            raise ValueError(f"analysis.select_epoch must be one of {', '.join(SELECTIONS)}, not {self.select_epoch!r}")
        if isinstance(self.fast, dict):
            object.__setattr__(self, "fast", FastConfig(**self.fast))

    @classmethod
    def from_dict(cls, values: dict, **overrides) -> TrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in {**values, **overrides}.items() if k in names})

    def selection(self, has_holdout: bool) -> str:
        """`select_epoch` with `auto` resolved: `holdout` when the run has a holdout, else `best`."""
        if self.select_epoch == "holdout" and not has_holdout:
            raise ValueError(
                "analysis.select_epoch is 'holdout' but this run has no holdout; set the dataset's holdout_rows"
            )
        if self.select_epoch == "auto":
            return "holdout" if has_holdout else "best"
        return self.select_epoch
