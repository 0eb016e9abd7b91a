"""The behavioural tests' figure: failure rate per test and model with its interval over seeds and clusters."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sentiflow.analysis.plots import colours, plt, save


def failure_rate_figure(rates: pd.DataFrame, png, pdf) -> None:
    """One row per test (suite order), one marker per model (encoders, LLM entries, cascades); rates over seeds."""
    shown = rates[rates["seed"] == "all"]
    tests = list(shown["test"].drop_duplicates()) or ["(no cases)"]
    models = list(shown["model"].drop_duplicates())
    palette = colours(models)
    fig, ax = plt.subplots(figsize=(7.5, 1.2 + 0.25 * len(tests) * max(2, len(models))))
    offsets = np.linspace(-0.28, 0.28, len(models)) if len(models) > 1 else np.zeros(1)
    for offset, model in zip(offsets, models):
        rows = shown[(shown["model"] == model) & shown["cases"].gt(0)]
        y = np.array([tests.index(test) for test in rows["test"]]) + offset
        rate = rows["failure_rate"].to_numpy()
        # An interval's end can sit a rounding error inside its rate; matplotlib refuses negative bars.
        error = np.clip(np.vstack([rate - rows["ci_low"].to_numpy(), rows["ci_high"].to_numpy() - rate]), 0, None)
        marker = {"encoder": "o", "llm": "s", "cascade": "D"}[rows["kind"].iloc[0]] if len(rows) else "o"
        ax.errorbar(rate, y, xerr=error, fmt=marker, color=palette[model], capsize=2, markersize=4, label=model)
    ax.set_yticks(range(len(tests)), tests, fontsize=8)
    for boundary in np.arange(len(tests) - 1) + 0.5:  # each test's band of markers, one per model
        ax.axhline(boundary, color="0.85", linewidth=0.8)
    ax.set_ylim(len(tests) - 0.5, -0.5)  # the first test on top
    ax.set_xlim(-0.02, 1.02)
    ax.set_xlabel("failure rate (interval over seeds and clusters)")
    ax.grid(alpha=0.3, axis="x")
    if models:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    save(fig, png, pdf)
