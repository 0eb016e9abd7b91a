"""Misclassified sentences and failure modes measured with rule-based cues instead of eyeballed."""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np
import pandas as pd

from sentiflow.data import read_split
from sentiflow.metrics import bootstrap_ci, ci_settings, correctness, difference_ci
from sentiflow.runs import Run, by_backbone, load_runs

# Split "doesn't" like the Penn Treebank does ("does n't"), so one lexicon serves raw and PTB text.
_TOKEN = re.compile(r"n't|[a-z0-9]+(?:'[a-z]+)?|[^\sa-z0-9]")


MISCLASSIFIED_COLUMNS = ["backbone", "index", "sentence", "gold", "predicted", "confidence", "prob_gold", "wrong_in_seeds", "seeds"]


def words(text: str) -> list[str]:
    return _TOKEN.findall(re.sub(r"(\w)n't\b", r"\1 n't", text.lower()))


def cue_tags(texts: Sequence[str], cues: dict[str, Sequence[str]]) -> pd.DataFrame:
    """One boolean column per cue family: does the sentence contain any of its cues (as whole words)?"""
    patterns = {family: [tuple(words(cue)) for cue in lexicon] for family, lexicon in cues.items()}
    rows = []
    for text in texts:
        tokens = words(text)
        padded = " " + " ".join(tokens) + " "
        rows.append({family: any(" " + " ".join(p) + " " in padded for p in phrases if p) for family, phrases in patterns.items()})
    return pd.DataFrame(rows, columns=list(cues))


def misclassified(backbone: str, runs: list[Run], others: dict[str, list[Run]], validation: pd.DataFrame, labels: Sequence[str], which: str) -> pd.DataFrame:
    """Validation sentences `backbone` got wrong in at least one seed, most confident errors first.

    `predicted` is the wrong label most seeds chose, `confidence` its probability averaged over the seeds
    that were wrong, `prob_gold` the gold label's probability averaged over all seeds.
    """
    probs = np.stack([_probabilities(run, which) for run in runs])  # seeds x sentences x classes
    gold = validation["label"].to_numpy()
    preds = probs.argmax(2)
    wrong = preds != gold
    other_preds = {other: np.stack([_probabilities(r, which).argmax(1) for r in other_runs]) for other, other_runs in others.items()}
    rows = []
    for i in np.flatnonzero(wrong.any(0)):
        wrong_seeds = wrong[:, i]
        predicted = int(np.bincount(preds[wrong_seeds, i], minlength=len(labels)).argmax())
        row = {
            "backbone": backbone,
            "index": int(validation["index"].iloc[i]),
            "sentence": validation["text"].iloc[i],
            "gold": labels[gold[i]],
            "predicted": labels[predicted],
            "confidence": float(probs[wrong_seeds, i, predicted].mean()),
            "prob_gold": float(probs[:, i, gold[i]].mean()),
            "wrong_in_seeds": int(wrong_seeds.sum()),
            "seeds": len(runs),
        }
        for other, votes in other_preds.items():
            row[f"{other}_predicted"] = labels[int(np.bincount(votes[:, i], minlength=len(labels)).argmax())]
            row[f"{other}_wrong_in_seeds"] = int((votes[:, i] != gold[i]).sum())
        rows.append(row)
    table = pd.DataFrame(rows)
    if table.empty:
        return pd.DataFrame(columns=MISCLASSIFIED_COLUMNS)
    return table.sort_values(["confidence", "index"], ascending=[False, True]).reset_index(drop=True)


def overconfidence(runs: list[Run], which: str, threshold: float) -> dict:
    """Errors with confidence above `threshold`, counted per seed and averaged."""
    counts, shares, errors = [], [], []
    for run in runs:
        p = run.predictions(which)
        probs = p.filter(like="prob_").to_numpy()
        wrong = p["pred"].to_numpy() != p["gold"].to_numpy()
        confident = probs.max(1) > threshold
        errors.append(int(wrong.sum()))
        counts.append(int((wrong & confident).sum()))
        shares.append(counts[-1] / errors[-1] if errors[-1] else float("nan"))
    return {
        "threshold": threshold,
        "errors_mean": float(np.mean(errors)),
        "overconfident_mean": float(np.mean(counts)),
        "overconfident_share": float(np.nanmean(shares)) if any(errors) else float("nan"),
    }


def failure_modes(tags: pd.DataFrame, error_rate: dict[str, np.ndarray], bootstrap: dict) -> pd.DataFrame:
    """Per cue family and backbone: how often the cue occurs, the error rate with and without it, its share of errors.

    `error_rate[backbone]` holds, per validation sentence, the share of seeds that got it wrong; the
    confidence intervals resample sentences.
    """
    rows = []
    for backbone, rate in error_rate.items():
        for family in tags.columns:
            has = tags[family].to_numpy()
            with_ci = bootstrap_ci(rate[has], **ci_settings(bootstrap))
            without_ci = bootstrap_ci(rate[~has], **ci_settings(bootstrap))
            diff_low, diff_high = difference_ci(rate[has], rate[~has], **ci_settings(bootstrap))
            rows.append({
                "backbone": backbone,
                "cue": family,
                "sentences": int(has.sum()),
                "share_of_sentences": float(has.mean()),
                "error_rate_with": float(rate[has].mean()) if has.any() else float("nan"),
                "error_rate_with_ci_low": with_ci[0],
                "error_rate_with_ci_high": with_ci[1],
                "error_rate_without": float(rate[~has].mean()) if (~has).any() else float("nan"),
                "error_rate_without_ci_low": without_ci[0],
                "error_rate_without_ci_high": without_ci[1],
                "difference_ci_low": diff_low,
                "difference_ci_high": diff_high,
                "share_of_errors": float(rate[has].sum() / rate.sum()) if rate.sum() else float("nan"),
            })
    return pd.DataFrame(rows)


def _probabilities(run: Run, which: str) -> np.ndarray:
    return run.predictions(which).filter(like="prob_").to_numpy()


def analyse_errors(metadata_paths, expected, validation_path, labels: Sequence[str], analysis: dict, *,
                   combined, cues, failure_modes_out, overconfidence_out) -> dict:
    """The misclassified rule: the error table of every backbone, cue tags, failure modes, over-confidence."""
    from sentiflow.atomic import write_csv, write_json

    loaded, missing = load_runs(metadata_paths, expected, analysis["allow_partial"])
    which = analysis["select_epoch"]
    validation = read_split(validation_path)
    grouped = by_backbone(loaded)

    tables = {}
    for backbone, runs in grouped.items():
        others = {name: r for name, r in grouped.items() if name != backbone}
        tables[backbone] = misclassified(backbone, runs, others, validation, labels, which)
    tags = cue_tags(validation["text"].tolist(), analysis["cues"])
    # Per sentence, in validation order: the share of seeds that got it wrong.
    error_rate = {backbone: 1.0 - correct.mean(axis=1).to_numpy() for backbone, correct in correctness(loaded, which).items()}
    modes = failure_modes(tags, error_rate, analysis["bootstrap"])
    confident = {
        backbone: overconfidence(runs, which, analysis["overconfidence_threshold"]) | {"errors_listed": len(tables[backbone])}
        for backbone, runs in grouped.items()
    }

    write_csv(combined, pd.concat([pd.DataFrame(columns=MISCLASSIFIED_COLUMNS), *tables.values()], ignore_index=True))
    write_csv(cues, pd.concat([validation[["index", "text", "label"]], tags], axis=1))
    write_csv(failure_modes_out, modes)
    write_json(overconfidence_out, {"selected_epoch": which, "missing_runs": missing, "backbones": confident})
    return confident
