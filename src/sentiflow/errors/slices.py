"""Where errors concentrate, found rather than guessed: the `slices` rule.

The failure-mode table tests cue families someone thought of. Here a shallow decision tree over per-sentence
features (length in words, every cue family, a shortcut against gold, mixed tone; for a pair which text carries
a cue and the length ratio; whether a witness LLM answers against gold) predicts each run group's seed-majority
error, and its leaves are the slices.

Cross-fitting keeps the tree from choosing its leaves on the sentences they are scored on, but not a feature
that is itself computed from the outcome of the held-out sentences: such a feature marks their errors whatever the
folds. So every feature comes from the text, the training split, the gold label or an LLM that read the text, and
none from the encoders' outputs. A confirmed label issue is no feature: its candidates are cleanlab's, the
encoders' confident errors on every sentence, and in an audit a feature built that way marked 68 held-out
sentences, all of them errors, and was flagged above the held-out rate.

A tree fitted on validation and scored on the same sentences finds noise and reports it as a finding: its leaves
are chosen because they separate errors there. So the sentences are split into `folds` stratified folds (seeded);
the tree fitted on the other folds is scored on each fold alone. A rule that several folds' trees found (the same
conditions, in words) is scored on every fold whose tree found it, so each sentence is scored by a rule found
without it. Slices are ranked by their excess errors where the tree was fitted (errors beyond what the fitting
part's error rate predicts for a leaf of that size): a large leaf with many more errors than its share ranks above a
tiny one with two of two wrong, and the order, like the leaves, is chosen without the held-out sentences. Ranking
by the held-out numbers would pick, among a tree's leaves, the one that the held-out fold happens to favour, and
report its held-out rate as if it were unselected (on the smoke run's SST-2 the top leaf by held-out excess was one
its tree had fitted as a low-error leaf).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold
from sklearn.tree import DecisionTreeClassifier

from sentiflow.analysis.proportions import jeffreys_interval
from sentiflow.analysis.runs import RunGroup, RunSet
from sentiflow.atomic import write_csv, write_json
from sentiflow.data import PAIR, TEXT, is_pair
from sentiflow.errors.why import FLAG_COLUMNS
from sentiflow.words import words

SLICE_COLUMNS = ["backbone", "rank", "slice", "sentences", "errors", "error_rate", "error_rate_ci_low",
                 "error_rate_ci_high", "share_of_errors", "excess_errors", "heldout_error_rate", "above_heldout_rate", "found_by_folds",
                 "fit_sentences", "fit_error_rate", "fit_excess_errors"]  # fmt: skip
# How a boolean feature reads in a slice's rule, present and absent; the cue families read as their names.
WITNESS = "against_gold_by:"
PHRASES = {"shortcut_against_gold": ("a shortcut word against gold", "no shortcut word against gold")}
NUMBERS = {"words": "words", "length_ratio": "length ratio (second text / first)"}
FIELDS = {"_in_first": " in the first text", "_in_second": " in the second text"}


@dataclass(frozen=True)
class SliceSettings:
    """analysis.slices (less `enabled`, which decides whether the rule runs) and the study's confidence level."""

    max_depth: int
    min_leaf: int
    folds: int
    seed: int
    top: int
    confidence: float

    @classmethod
    def from_dict(cls, settings: dict, confidence: float) -> SliceSettings:
        return cls(**{key: settings[key] for key in ("max_depth", "min_leaf", "folds", "seed", "top")},
                   confidence=confidence)  # fmt: skip


def length_in_words(texts: pd.Series) -> np.ndarray:
    """Words with a letter or digit in them: punctuation marks do not make a sentence longer."""
    return np.array([sum(any(c.isalnum() for c in w) for w in words(str(t))) for t in texts], dtype=int)


def feature_matrix(cues: pd.DataFrame, families: list[str], witnesses: dict[str, pd.DataFrame] | None = None
                   ) -> pd.DataFrame:  # fmt: skip
    """Per validation sentence (cues.csv's rows, indexed by sentence index): its length in words, each cue family
    (for a pair, per text), a shortcut against gold and mixed tone (cues.csv's columns of those names; any other
    column is not read), and whether each witness LLM answered against gold (`witness_features`). Nothing else can
    enter: no feature derived from the encoders' outputs."""
    columns = {"words": length_in_words(cues[TEXT])}
    if is_pair(cues):
        second = length_in_words(cues[PAIR])
        columns["words"] = columns["words"] + second
        columns["length_ratio"] = second / np.maximum(columns["words"] - second, 1)
        families = [family + suffix for family in families for suffix in FIELDS]
    missing = [name for name in [*families, *FLAG_COLUMNS] if name not in cues]
    if missing:
        raise ValueError(f"cues.csv lacks the column(s) {', '.join(missing)}: rerun the misclassified rule")
    columns |= {name: cues[name].astype(bool).to_numpy() for name in [*families, *FLAG_COLUMNS]}
    columns |= witness_features(cues, witnesses or {})
    return pd.DataFrame(columns, index=cues["index"].to_numpy())


def witness_features(cues: pd.DataFrame, witnesses: dict[str, pd.DataFrame]) -> dict[str, np.ndarray]:
    """For each witness LLM (rule llm_witness: it read the text, never the encoders' answers) that answered every
    validation sentence, whether it answered against gold. A witness that read a sample is left out: a feature
    known only on the sentences it read would mark the sample, not the sentences."""
    index = cues["index"].to_numpy()
    extra = {}
    for name, table in witnesses.items():
        missing = [column for column in ("index", "gold", "llm_predicted") if column not in table]
        if missing:
            raise ValueError(f"the witness table of {name} lacks the column(s) {', '.join(missing)}")
        answered = table.set_index("index")
        if np.isin(index, answered.index).all():
            rows = answered.loc[index]
            extra[WITNESS + name] = (rows["llm_predicted"] != rows["gold"]).to_numpy()
    return extra


def condition_words(name: str, low: float | None, high: float | None, boolean: bool, integer: bool) -> str:
    """One feature's condition on a path, as words: `low < value <= high` (either bound may be absent)."""
    if boolean:
        if name in PHRASES:
            return PHRASES[name][low is None]
        if name.startswith(WITNESS):
            llm = name[len(WITNESS) :]
            return f"{llm} answers against gold" if low is not None else f"{llm} answers as gold"
        base = next((name[: -len(s)] for s in FIELDS if name.endswith(s)), name)
        phrase = base.replace("_", " ") + FIELDS.get(name[len(base) :], "")
        return phrase if low is not None else f"no {phrase}"
    unit = NUMBERS.get(name, name.replace("_", " "))
    if integer:
        low = None if low is None else int(np.floor(low))
        high = None if high is None else int(np.floor(high))
        if low is not None and high is not None:
            span = str(high) if low + 1 == high else f"{low + 1} to {high}"
            return f"{span} {unit}" if unit == "words" else f"{unit} {span}"
        bound = f"more than {low}" if low is not None else f"at most {high}"
        return f"{bound} {unit}" if unit == "words" else f"{unit} {bound}"
    parts = ([f"above {low:.3g}"] if low is not None else []) + ([f"at most {high:.3g}"] if high is not None else [])
    return f"{unit} {' and '.join(parts)}"


def leaf_rules(tree: DecisionTreeClassifier, features: pd.DataFrame) -> dict[int, str]:
    """Each leaf's node id and its path's conditions in words, one condition per feature (a path that splits on
    one feature twice reads as one range), `all sentences` for a tree with no split."""
    structure = tree.tree_
    names = list(features.columns)
    rules: dict[int, str] = {}
    stack: list[tuple[int, dict]] = [(0, {})]
    while stack:
        node, bounds = stack.pop()
        left, right = structure.children_left[node], structure.children_right[node]
        if left == right:  # a leaf
            rules[node] = _in_words(bounds, features) or "all sentences"
            continue
        name, threshold = names[structure.feature[node]], float(structure.threshold[node])
        low, high = bounds.get(name, (None, None))
        stack.append((left, bounds | {name: (low, threshold if high is None else min(high, threshold))}))
        stack.append((right, bounds | {name: (threshold if low is None else max(low, threshold), high)}))
    return rules


def _in_words(bounds: dict, features: pd.DataFrame) -> str:
    """The conditions of a path, the features present or absent first ("negation and more than 25 words")."""
    boolean = {name: pd.api.types.is_bool_dtype(features[name]) for name in features.columns if name in bounds}
    ordered = sorted(boolean, key=lambda name: not boolean[name])  # stable: the matrix's order within each kind
    return " and ".join(
        condition_words(name, *bounds[name], boolean=boolean[name],
                        integer=pd.api.types.is_integer_dtype(features[name]))
        for name in ordered
    )  # fmt: skip


def fold_leaves(features: pd.DataFrame, error: np.ndarray, settings: SliceSettings) -> pd.DataFrame:
    """Per fold and leaf of the tree fitted without that fold: its rule, and the sentences and errors of the fold
    (`held out`) and of the other folds (`fit`) that fall in it."""
    splitter = StratifiedKFold(n_splits=settings.folds, shuffle=True, random_state=settings.seed)
    rows = []
    for fold, (fit, held_out) in enumerate(splitter.split(features, error), start=1):
        tree = DecisionTreeClassifier(
            max_depth=settings.max_depth, min_samples_leaf=settings.min_leaf, random_state=settings.seed
        ).fit(features.iloc[fit], error[fit])
        rules = leaf_rules(tree, features)
        fit_leaf, held_leaf = tree.apply(features.iloc[fit]), tree.apply(features.iloc[held_out])
        fit_rate = error[fit].mean()
        for leaf, rule in rules.items():
            held, fitted = held_leaf == leaf, fit_leaf == leaf
            rows.append({
                "fold": fold, "slice": rule,
                "sentences": int(held.sum()), "errors": int(error[held_out][held].sum()),
                "fold_sentences": len(held_out), "fold_errors": int(error[held_out].sum()),
                "fit_sentences": int(fitted.sum()), "fit_errors": int(error[fit][fitted].sum()),
                "fit_excess_errors": float(error[fit][fitted].sum() - fit_rate * fitted.sum()),
            })  # fmt: skip
    return pd.DataFrame(rows)


def combined_slices(leaves: pd.DataFrame, confidence: float) -> pd.DataFrame:
    """The folds' leaves, one row per rule in words: held-out counts summed over the folds whose tree found the
    rule, rate and share against those folds' sentences and errors; most excess errors where fitted first."""
    sums = ["sentences", "errors", "fit_sentences", "fit_errors", "fit_excess_errors"]
    table = leaves.groupby("slice", sort=False).agg(**{name: (name, "sum") for name in sums}, folds=("fold", set))
    # A fold's totals count once per rule, even where two of its leaves read alike.
    totals = leaves.drop_duplicates("fold").set_index("fold")[["fold_sentences", "fold_errors"]]
    table = table.reset_index().assign(
        fold_sentences=lambda t: [int(totals.loc[sorted(f), "fold_sentences"].sum()) for f in t["folds"]],
        fold_errors=lambda t: [int(totals.loc[sorted(f), "fold_errors"].sum()) for f in t["folds"]],
        found_by_folds=lambda t: ["+".join(map(str, sorted(f))) for f in t["folds"]],
    )
    heldout_rate = table["fold_errors"] / table["fold_sentences"]
    # Held-out sentences are independent trials of the run group's seed majority (the estimand is that predictor's
    # error rate in the slice, the seeds fixed), so the interval is binomial: Jeffreys, covering at the held-out
    # sizes of the slices (docs/statistics.md).
    low, high = jeffreys_interval(table["errors"].to_numpy(), table["sentences"].to_numpy(), confidence)
    low, high = np.atleast_1d(low), np.atleast_1d(high)
    table = table.assign(
        error_rate=(table["errors"] / table["sentences"]).where(table["sentences"] > 0),
        error_rate_ci_low=low,
        error_rate_ci_high=high,
        share_of_errors=(table["errors"] / table["fold_errors"]).where(table["fold_errors"] > 0),
        excess_errors=table["errors"] - heldout_rate * table["sentences"],
        heldout_error_rate=heldout_rate,
        # One interval per slice, uncorrected for the number of slices: a screen, not a test.
        above_heldout_rate=low > heldout_rate.to_numpy(),
        fit_error_rate=(table["fit_errors"] / table["fit_sentences"]).where(table["fit_sentences"] > 0),
    )
    table = table.sort_values(["fit_excess_errors", "fit_sentences"], ascending=[False, False], kind="stable")
    return table.reset_index(drop=True).assign(rank=lambda t: np.arange(1, len(t) + 1))


def why_no_tree(error: np.ndarray, features: pd.DataFrame, settings: SliceSettings) -> str | None:
    """Why no tree can be fitted honestly, or None: no error, nothing right, too few of either for `min_leaf` in
    every fold's fitting part, or no feature that varies."""
    errors, sentences = int(error.sum()), len(error)
    if errors == 0:
        return f"the seed majority makes no error on the {sentences} validation sentences: there is no slice to find"
    if errors == sentences:
        return f"the seed majority gets all {sentences} validation sentences wrong: no slice differs from the rest"
    fewest = min(errors, sentences - errors) * (settings.folds - 1) / settings.folds
    if fewest < settings.min_leaf:
        return (f"too few errors (or right answers) for a tree: {errors} errors in {sentences} sentences leave about {fewest:.0f} of "
                f"the rarer outcome per fitting part, fewer than min_leaf = {settings.min_leaf}")  # fmt: skip
    if features.shape[1] == 0:
        return "no feature varies over the validation sentences"
    return None


def group_slices(group: RunGroup, features: pd.DataFrame, settings: SliceSettings) -> tuple[pd.DataFrame, dict]:
    """One run group's slices and its summary: sentences, seed-majority errors, and a note where there are none."""
    missing = sorted(set(group.index) - set(features.index))
    if missing:
        raise ValueError(f"cues.csv lacks validation sentence(s) {missing[:5]} of run group {group.label}")
    matrix = features.loc[group.index]
    error = (group.majority() != group.gold).astype(int)
    summary = {"sentences": len(error), "errors": int(error.sum()), "error_rate": float(error.mean()),
               "seeds": group.seeds}  # fmt: skip
    note = why_no_tree(error, matrix, settings)
    if note:
        return pd.DataFrame(columns=SLICE_COLUMNS), summary | {"note": note}
    table = combined_slices(fold_leaves(matrix, error, settings), settings.confidence)
    if (table["slice"] == "all sentences").all():
        summary["note"] = "no tree found a split: no slice's error rate differs enough from the rest"
    return table.assign(backbone=group.label)[SLICE_COLUMNS], summary | {"note": summary.get("note")}


def find_slices(runs: RunSet, cues: pd.DataFrame, families: list[str], settings: SliceSettings, outputs,
                witnesses: dict[str, pd.DataFrame] | None = None) -> dict:  # fmt: skip
    """The slices rule: every run group's slices in `outputs["table"]` (slices.csv), the settings, the features and
    each group's counts and notes in `outputs["summary"]` (slices.json). `witnesses`: the witness LLMs' tables."""
    features = feature_matrix(cues, families, witnesses)
    constant = [name for name in features.columns if features[name].nunique() < 2]
    features = features.drop(columns=constant)
    tables, groups = [pd.DataFrame(columns=SLICE_COLUMNS)], {}
    for label, group in runs.groups.items():
        table, groups[label] = group_slices(group, features, settings)
        tables.append(table)
    summary = {
        "settings": vars(settings),
        "target": "the seed-majority error of each run group (ties as RunGroup.majority breaks them)",
        "method": f"{settings.folds}-fold cross-fit, stratified on the error, seed {settings.seed}: each fold is "
        "scored by the tree fitted on the other folds; a rule found by several folds' trees is scored on each of "
        f"them; Jeffreys {settings.confidence:.0%} intervals; ranked by excess errors on the sentences the trees were "
        "fitted on, so that the held-out figures of the slices shown are not selected on",
        "features": list(features.columns),
        "constant_features": constant,
        "groups": groups,
        "select_epoch": runs.selection,
        "missing_runs": runs.missing,
    }
    write_csv(outputs["table"], pd.concat(tables, ignore_index=True))
    write_json(outputs["summary"], summary)
    return summary
