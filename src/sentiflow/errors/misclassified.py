"""Misclassified sentences and failure modes measured with rule-based cues instead of eyeballed."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields

import numpy as np
import pandas as pd

from sentiflow import config
from sentiflow.analysis import crossed
from sentiflow.analysis.runs import RunGroup, RunSet, seed_majority
from sentiflow.atomic import write_csv, write_json
from sentiflow.data import PAIR, TEXT, is_pair, read_split, text_fields
from sentiflow.errors import why
from sentiflow.words import words


@dataclass(frozen=True)
class ErrorSettings:
    """The keys of `analysis:` the misclassified rule reads (the schema's defaults where not given)."""

    cues: dict = field(default_factory=lambda: config.defaults("analysis")["cues"])
    # The statistic's settings; its top_words are the report's.
    shortcuts: dict = field(default_factory=lambda: config.defaults("analysis")["shortcuts"])
    mixed_polarity: dict = field(default_factory=lambda: config.defaults("analysis")["mixed_polarity"])
    confidence: float = config.defaults("analysis")["bootstrap"]["confidence"]  # the failure modes' intervals
    overconfidence_threshold: float = config.defaults("analysis")["overconfidence_threshold"]

    @classmethod
    def from_params(cls, params) -> ErrorSettings:
        """From a rule's params named like the fields."""
        return cls(**{f.name: getattr(params, f.name) for f in fields(cls)})


MISCLASSIFIED_COLUMNS = [
    "backbone",
    "index",
    "sentence",
    "gold",
    "predicted",
    "confidence",
    "prob_gold",
    "wrong_in_seeds",
    "seeds",
]


def misclassified_columns(validation: pd.DataFrame) -> list[str]:
    """The error table's leading columns; a sentence pair's second text follows the first."""
    pair = [PAIR] if is_pair(validation) else []
    return MISCLASSIFIED_COLUMNS[:3] + pair + MISCLASSIFIED_COLUMNS[3:]


def cue_tags(texts: Sequence[str], cues: dict[str, Sequence[str]]) -> pd.DataFrame:
    """One boolean column per cue family: does the sentence contain any of its cues (as whole words)?"""
    patterns = {family: [tuple(words(cue)) for cue in lexicon] for family, lexicon in cues.items()}
    rows = []
    for text in texts:
        tokens = words(text)
        padded = " " + " ".join(tokens) + " "
        rows.append(
            {
                family: any(" " + " ".join(p) + " " in padded for p in phrases if p)
                for family, phrases in patterns.items()
            }
        )
    return pd.DataFrame(rows, columns=list(cues))


def split_cue_tags(split: pd.DataFrame, cues: dict[str, Sequence[str]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(tags the failure modes use, every tag column for cues.csv). For a sentence pair a family is counted on
    either text (`negation`), the failure-mode table's reading, and on each (`negation_in_first`, `_in_second`)."""
    first = cue_tags(split[TEXT].tolist(), cues)
    if not is_pair(split):
        return first, first
    second = cue_tags(split[PAIR].tolist(), cues)
    either = first | second
    per_field = [first.add_suffix("_in_first"), second.add_suffix("_in_second")]
    return either, pd.concat([either, *per_field], axis=1)


def misclassified(
    group: RunGroup, others: dict[str, RunGroup], validation: pd.DataFrame, labels: Sequence[str]
) -> pd.DataFrame:
    """Validation sentences the run group got wrong in at least one seed, most confident errors first.

    `predicted` is the wrong label most of the wrong seeds chose (`seed_majority` over those seeds: a tie goes to
    the tied label with their highest mean probability), `confidence` its probability averaged over them,
    `prob_gold` the gold label's probability averaged over all seeds.
    """
    probs, preds, gold = group.probs(), group.predictions(), group.gold
    wrong = preds != gold
    other_votes = {name: (other.majority(), other.wrong_in_seeds()) for name, other in others.items()}
    rows = []
    for i in np.flatnonzero(wrong.any(0)):
        wrong_seeds = wrong[:, i]
        predicted = int(seed_majority(probs[wrong_seeds, i][:, None])[0])
        row = {
            "backbone": group.label,
            "index": int(validation["index"].iloc[i]),
            "sentence": validation[TEXT].iloc[i],
            **({PAIR: validation[PAIR].iloc[i]} if is_pair(validation) else {}),
            "gold": labels[gold[i]],
            "predicted": labels[predicted],
            "confidence": float(probs[wrong_seeds, i, predicted].mean()),
            "prob_gold": float(probs[:, i, gold[i]].mean()),
            "wrong_in_seeds": int(wrong_seeds.sum()),
            "seeds": len(group.runs),
        }
        for name, (majority, wrong_in_seeds) in other_votes.items():
            row[f"{name}_predicted"] = labels[int(majority[i])]
            row[f"{name}_wrong_in_seeds"] = int(wrong_in_seeds[i])
        rows.append(row)
    if not rows:
        return pd.DataFrame(columns=misclassified_columns(validation))
    table = pd.DataFrame(rows)
    return table.sort_values(["confidence", "index"], ascending=[False, True]).reset_index(drop=True)


def overconfidence(group: RunGroup, threshold: float) -> dict:
    """Errors with confidence above `threshold`, counted per seed and averaged."""
    probs = group.probs()
    wrong = probs.argmax(2) != group.gold
    confident = probs.max(2) > threshold
    errors, counts = wrong.sum(1), (wrong & confident).sum(1)
    return {
        "threshold": threshold,
        "errors_mean": float(errors.mean()),
        "overconfident_mean": float(counts.mean()),
        "overconfident_share": float(np.mean(counts[errors > 0] / errors[errors > 0]))
        if errors.any()
        else float("nan"),
    }


def failure_modes(tags: pd.DataFrame, wrong: dict[str, np.ndarray], confidence: float) -> pd.DataFrame:
    """Per cue family and backbone: how often the cue occurs, the error rate with and without it, its share of errors.

    `wrong[backbone]` holds seeds x validation sentences of 0/1 errors; a rate is the share of (seed, sentence)
    pairs wrong, which is the per-sentence share of seeds wrong averaged over the sentences. The intervals are over
    the population of seeds and of sentences (`sentiflow.analysis.crossed`, each sentence its own cluster): a seed
    that errs more errs more with and without the cue, so the seeds are shared by both rates and their variance
    is in each rate's interval and, as far as it differs between the two, in the difference's (Newcombe's hybrid
    score interval of the two rates' intervals, scaled to the difference's variance). With one seed these are the
    run's own rates over sentences: Wilson's intervals and Newcombe's. A family with one sentence, or all but one,
    has no interval. Each row's
    intervals stand alone: no correction for the number of rows, which the report states.
    """
    rows = []
    for backbone, errors in wrong.items():
        errors = np.asarray(errors, dtype=float)
        sentences = np.arange(errors.shape[1])
        for family in tags.columns:
            has = tags[family].to_numpy(dtype=bool)
            ends = {
                "error_rate_with": (np.nan, np.nan),
                "error_rate_without": (np.nan, np.nan),
                "difference": (np.nan, np.nan),
            }
            if has.any() and (~has).any():
                compared = crossed.shared_seeds(
                    errors[:, has], sentences[has], errors[:, ~has], sentences[~has], confidence
                )
                ends = {
                    "error_rate_with": compared.a_ci,
                    "error_rate_without": compared.b_ci,
                    "difference": compared.ci,
                }
            ends = {name: (float(low), float(high)) for name, (low, high) in ends.items()}
            total = errors.sum()
            rows.append(
                {
                    "backbone": backbone,
                    "cue": family,
                    "sentences": int(has.sum()),
                    "share_of_sentences": float(has.mean()),
                    "error_rate_with": float(errors[:, has].mean()) if has.any() else float("nan"),
                    "error_rate_with_ci_low": ends["error_rate_with"][0],
                    "error_rate_with_ci_high": ends["error_rate_with"][1],
                    "error_rate_without": float(errors[:, ~has].mean()) if (~has).any() else float("nan"),
                    "error_rate_without_ci_low": ends["error_rate_without"][0],
                    "error_rate_without_ci_high": ends["error_rate_without"][1],
                    "difference_ci_low": ends["difference"][0],
                    "difference_ci_high": ends["difference"][1],
                    "share_of_errors": float(errors[:, has].sum() / total) if total else float("nan"),
                }
            )
    return pd.DataFrame(rows)


def analyse_errors(runs: RunSet, data: dict, labels: Sequence[str], settings: ErrorSettings, outputs) -> dict:
    """The misclassified rule: the error table of every run group, cue tags, failure modes (the cue families, lexical
    shortcuts against the gold label and mixed tone), over-confidence. `data`: the validation and train files;
    `outputs` names the files: combined, cues, failure_modes, overconfidence, shortcut_words, word_groups, why."""

    validation, train = read_split(data["validation"]), read_split(data["train"])
    found = why.find(validation, train, labels, settings.shortcuts, settings.mixed_polarity)
    tables = {}
    for label, group in runs.groups.items():
        others = {name: other for name, other in runs.groups.items() if name != label}
        table = misclassified(group, others, validation, labels)
        flags = found.flags.set_index(validation["index"]).loc[table["index"]]
        tables[label] = table.assign(shortcut_words=flags["shortcut_words"].to_numpy())
    tags, all_tags = split_cue_tags(validation, settings.cues)
    families = pd.concat([tags, found.flags[why.FLAG_COLUMNS]], axis=1)
    # Seeds x sentences, in validation order: which seed got which sentence wrong.
    wrong = {label: group.predictions() != group.gold for label, group in runs.groups.items()}
    modes = failure_modes(families, wrong, settings.confidence)
    threshold = settings.overconfidence_threshold
    confident = {
        label: overconfidence(group, threshold) | {"errors_listed": len(tables[label])}
        for label, group in runs.groups.items()
    }
    empty = pd.DataFrame(columns=misclassified_columns(validation) + ["shortcut_words"])
    write_csv(outputs["combined"], pd.concat([empty, *tables.values()], ignore_index=True))
    texts = text_fields(validation)
    flags = found.flags[why.FLAG_COLUMNS]
    write_csv(outputs["cues"], pd.concat([validation[["index", *texts, "label"]], all_tags, flags], axis=1))
    write_csv(outputs["failure_modes"], modes)
    write_csv(outputs["shortcut_words"], found.shortcut_words)
    write_csv(outputs["word_groups"], found.word_groups)
    summary = {"select_epoch": runs.selection, "missing_runs": runs.missing, "backbones": confident}
    write_json(outputs["overconfidence"], summary)
    write_json(outputs["why"], found.summary)
    return confident
