"""The study's figures, as PNG (web) and PDF (LaTeX), with one colour per backbone across all of them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on servers and cluster nodes
matplotlib.rcParams["pdf.fonttype"] = 42  # TrueType, not Type 3 bitmaps, in the PDFs LaTeX includes
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from sentiflow.atomic import atomic_path  # noqa: E402


def colours(backbones: Sequence[str]) -> dict[str, str]:
    palette = plt.get_cmap("tab10").colors
    return {name: matplotlib.colors.to_hex(palette[i % len(palette)]) for i, name in enumerate(backbones)}


def save(fig, png: str | Path, pdf: str | Path) -> None:
    for path, fmt in ((png, "png"), (pdf, "pdf")):
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=150, bbox_inches="tight")
    plt.close(fig)


def _band(ax, x, values: np.ndarray, colour: str, label: str, marker=None):
    """Mean over seeds as a line, min-max over seeds as a shaded band."""
    ax.plot(x, values.mean(0), color=colour, label=label, marker=marker, linewidth=1.6)
    if len(values) > 1:
        ax.fill_between(x, values.min(0), values.max(0), color=colour, alpha=0.2, linewidth=0)


def whole_epochs(ax, epochs: np.ndarray) -> None:
    """Ticks at whole epochs only; one epoch alone gets a visible span around it instead of 0.96 ... 1.04."""
    step = max(1, int(np.ceil(len(epochs) / 10)))
    ax.set_xticks(epochs[::step])
    ax.set_xlim(epochs.min() - 0.5, epochs.max() + 0.5)


def training_loss(
    steps: dict[str, list[pd.DataFrame]], histories: dict[str, list[pd.DataFrame]], window: int, png, pdf
) -> None:
    """Per-step training loss (rolling mean) and per-epoch mean, one line per backbone, band over seeds."""
    fig, ax = plt.subplots(figsize=(7, 4))
    palette = colours(list(steps))
    for backbone, tables in steps.items():
        per_epoch = int(tables[0].groupby("epoch").size().iloc[0])
        smoothed = np.stack([t["loss"].rolling(window, min_periods=1).mean().to_numpy() for t in tables])
        x = np.arange(1, smoothed.shape[1] + 1) / per_epoch
        _band(ax, x, smoothed, palette[backbone], f"{backbone} (per step, mean of {window})")
        epoch_loss = np.stack([h["train_loss"].to_numpy() for h in histories[backbone]])
        ax.plot(
            histories[backbone][0]["epoch"],
            epoch_loss.mean(0),
            "o--",
            color=palette[backbone],
            markersize=5,
            linewidth=1,
            label=f"{backbone} (epoch mean)",
        )
    ax.set_xlabel("epoch")
    ax.set_ylabel("training cross-entropy")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.set_title("Training loss (band: min-max over seeds)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    save(fig, png, pdf)


def validation_curves(histories: dict[str, list[pd.DataFrame]], png, pdf) -> None:
    """Validation accuracy and validation loss per epoch, mean and min-max band over seeds."""
    fig, (acc, loss) = plt.subplots(1, 2, figsize=(10, 4))
    palette = colours(list(histories))
    for backbone, tables in histories.items():
        epochs = tables[0]["epoch"].to_numpy()
        _band(
            acc,
            epochs,
            np.stack([t["val_accuracy"].to_numpy() for t in tables]),
            palette[backbone],
            backbone,
            marker="o",
        )
        _band(
            loss, epochs, np.stack([t["val_loss"].to_numpy() for t in tables]), palette[backbone], backbone, marker="o"
        )
    epochs = np.unique(np.concatenate([t["epoch"].to_numpy() for tables in histories.values() for t in tables]))
    for ax, label in ((acc, "validation accuracy"), (loss, "validation cross-entropy")):
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        whole_epochs(ax, epochs)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    acc.set_title("(a) Validation accuracy")
    loss.set_title("(b) Validation loss")
    save(fig, png, pdf)


def reliability(bins: dict[str, dict[str, pd.DataFrame]], ece: dict[str, dict[str, float]], png, pdf) -> None:
    """One reliability diagram per backbone: accuracy against confidence, before and after temperature scaling."""
    names = list(bins)
    fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 4.2), squeeze=False)
    palette = colours(names)
    for ax, backbone in zip(axes[0], names):
        for stage, style in (("before", {"alpha": 0.75}), ("after", {"fill": False, "hatch": "//", "alpha": 0.9})):
            table = bins[backbone][stage]
            filled = table[table["count"] > 0]
            ax.bar(
                filled["bin_low"],
                filled["accuracy"],
                width=filled["bin_high"] - filled["bin_low"],
                align="edge",
                color=palette[backbone],
                edgecolor=palette[backbone] if stage == "after" else "white",
                label=f"{stage} scaling (ECE {ece[backbone][stage]:.3f})",
                **style,
            )
        ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect calibration")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("confidence (probability of the predicted class)")
        ax.set_ylabel("accuracy")
        ax.set_title(f"Reliability: {backbone}")
        ax.legend(fontsize=8, loc="upper left")
    save(fig, png, pdf)


def confusion(matrices: dict[str, np.ndarray], labels: Sequence[str], png, pdf) -> None:
    """One confusion matrix per backbone, rows normalised (the diagonal is each class's recall)."""
    names = list(matrices)
    size = 1.2 + 0.75 * len(labels)
    fig, axes = plt.subplots(1, len(names), figsize=(size * len(names) + 1, size), squeeze=False)
    for ax, backbone in zip(axes[0], names):
        counts = matrices[backbone]
        share = counts / np.maximum(counts.sum(1, keepdims=True), 1)
        image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
        for (i, j), value in np.ndenumerate(share):
            ax.text(
                j,
                i,
                f"{100 * value:.0f}%",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if value > 0.6 else "black",
            )
        ticks = np.arange(len(labels))
        ax.set_xticks(ticks, labels, rotation=35, ha="right", fontsize=8)
        ax.set_yticks(ticks, labels, fontsize=8)
        ax.set_xlabel("predicted")
        ax.set_ylabel("gold")
        ax.set_title(f"Confusion: {backbone}", fontsize=10)
    fig.colorbar(image, ax=axes[0].tolist(), shrink=0.8, label="share of the gold class")
    save(fig, png, pdf)


def plot_confusion(runs, labels: Sequence[str], outputs) -> None:
    """The plot_confusion rule: confusion matrices of the selected epoch, summed over seeds (a `runs.RunSet`);
    `outputs`: png, pdf."""
    from sklearn.metrics import confusion_matrix

    ids = list(range(len(labels)))
    matrices = {
        label: sum(confusion_matrix(group.gold, predicted, labels=ids) for predicted in group.predictions())
        for label, group in runs.groups.items()
    }
    confusion(matrices, labels, outputs["png"], outputs["pdf"])


def plot_curves(runs, loss_smoothing: int, outputs) -> None:
    """The plot_curves rule: Figures 1 and 2 from every run's steps and history (a `runs.RunSet`); `outputs`:
    loss_png, loss_pdf, curves_png, curves_pdf."""
    steps = {label: [run.table("steps") for run in group.runs] for label, group in runs.groups.items()}
    histories = {label: [run.history for run in group.runs] for label, group in runs.groups.items()}
    training_loss(steps, histories, loss_smoothing, outputs["loss_png"], outputs["loss_pdf"])
    validation_curves(histories, outputs["curves_png"], outputs["curves_pdf"])


def plot_reliability(bins_path, table_path, *, png, pdf) -> None:
    """The plot_reliability rule: reliability diagrams from the calibration rule's pooled bins."""
    bins = pd.read_csv(bins_path)
    table = pd.read_csv(table_path)
    # A comprehension, not dict(): a GroupBy has a `keys` attribute, so dict() would take it for a mapping.
    diagrams = {b: {s: g for s, g in group.groupby("stage")} for b, group in bins.groupby("backbone", sort=False)}  # noqa: C416
    ece = table.groupby(["backbone", "stage"])["ece"].mean()
    reliability(diagrams, {b: {s: float(ece[b, s]) for s in ("before", "after")} for b in diagrams}, png, pdf)


def cascade_figure(curves: pd.DataFrame, points: dict[str, dict], llm: str, png, pdf) -> None:
    """Per run group: accuracy against the share of sentences sent to the LLM (seed majority), with random and
    oracle deferral, the cross-fitted operating point, and the probability mean (which asks the LLM everywhere)."""
    groups = list(points) or ["(no runs)"]
    fig, axes = plt.subplots(1, len(groups), figsize=(4.2 * len(groups), 3.4), squeeze=False, sharey=True)
    for ax, group in zip(axes[0], groups):
        rows = curves[(curves["backbone"] == group) & (curves["encoder"] == "seed majority")] if len(curves) else curves
        if len(rows):
            share = 100 * rows["share"]
            ax.plot(share, rows["oracle"], color="0.35", linestyle=":", label="oracle (errors first)")
            ax.plot(share, rows["random"], color="0.55", linestyle="--", label="random")
            ax.plot(share, rows["confidence"], color="tab:blue", label="least confident first")
            p = points[group]
            ax.errorbar([100 * p["deferred_share"]], [p["cascade_accuracy"]], yerr=[[p["cascade_accuracy"] - p["cascade_ci_low"]],
                        [p["cascade_ci_high"] - p["cascade_accuracy"]]], fmt="o", color="tab:red", capsize=3, label="fitted threshold")  # fmt: skip
            ax.errorbar([100.0], [p["combined_accuracy"]], yerr=[[p["combined_accuracy"] - p["combined_ci_low"]],
                        [p["combined_ci_high"] - p["combined_accuracy"]]], fmt="s", color="tab:green", capsize=3, label="probability mean")  # fmt: skip
        ax.set_title(group, fontsize=10)
        ax.set_xlabel(f"sentences sent to {llm} (%)")
        ax.set_xlim(-2, 102)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("validation accuracy")
    axes[0][-1].legend(fontsize=7, loc="lower right")
    save(fig, png, pdf)
