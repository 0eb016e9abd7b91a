"""Findings on accuracy: each run group over seeds beside the published number, backbone against backbone and each
variant against its base recipe (the aggregate rule's summary.json: its bootstrap intervals over sentences)."""

from __future__ import annotations

from pathlib import Path

from sentiflow.findings import wording
from sentiflow.findings.rows import Finding, unanswered
from sentiflow.findings.study import Study
from sentiflow.findings.verdict import NOT_MEASURED, NOT_TESTED, evidence, state, verdict, within

SOURCE = "analysis/summary.json"


def published(row: dict, reference: dict) -> dict | None:
    """The published numbers for a run group: its model's (hub id or folder name), for the base recipe only."""
    if row["variant"] != "base":
        return None
    return reference.get(row["model"]) or reference.get(Path(str(row["model"])).name)


def accuracy(study: Study) -> list[Finding]:
    """Per run group: its selected-epoch accuracy over seeds, and whether it reproduces the published number."""
    found = []
    for row in study.groups:
        label, seeds = row["backbone"], row["seeds"]
        piece = evidence("bootstrap", "accuracy", label, row["selected_accuracy"], row["selected_ci_low"],
                         row["selected_ci_high"], None, SOURCE, study.sentences)  # fmt: skip
        measured = (f"{label} reaches an accuracy of {wording.estimate(piece)} on {study.name} ({seeds} seed"
                    f"{'s' if seeds != 1 else ''}, each at its selected epoch; bootstrap over {study.sentences} "
                    "sentences)")  # fmt: skip
        paper = published(row, study.settings.reference)
        if paper is None:
            reason = (
                "a variant of the recipe, which the published study did not run"
                if row["variant"] != "base"
                else f"no published number for {row['backbone_key']} in datasets.{study.name}.reference"
            )
            found.append(Finding(
                id=f"accuracy/{label}", topic="accuracy", question=f"How accurate is {label}, over seeds?",
                sentence=f"{measured}; {reason}: {NOT_TESTED}.", verdict=NOT_TESTED, reason=reason,
                section="accuracy-table", part="accuracy", headline=[piece], evidence=[piece],
            ))  # fmt: skip
            continue
        margin = study.rule.min_difference
        piece = evidence("bootstrap", "accuracy", label, piece.estimate, piece.ci_low, piece.ci_high, paper["best"],
                         SOURCE, study.sentences)  # fmt: skip
        judged = within(piece, paper["best"], margin)
        where = "inside" if judged != "contradicted" else ("above" if paper["best"] > piece.ci_high else "below")
        widened = f" widened by {margin:g}" if margin else ""
        sentence = (f"{measured}; the published study reports {wording.number(paper['best'])} (one seed, its best "
                    f"epoch on validation, optimistic), {where} our interval{widened}: {judged}.")  # fmt: skip
        found.append(Finding(
            id=f"accuracy/{label}", topic="accuracy",
            question=f"Does {label} reproduce the published accuracy ({wording.number(paper['best'])})?",
            sentence=sentence, verdict=judged, section="accuracy-table", part="accuracy", headline=[piece],
            evidence=[piece],
        ))  # fmt: skip
    return found


def paired(kind: str, a: str, b: str, row: dict, study: Study, seeds: int) -> tuple:
    """A paired comparison's piece, the better-estimated group first: (piece, better, worse)."""
    sign = 1 if row["difference"] >= 0 else -1
    low, high = row["difference_ci_low"], row["difference_ci_high"]
    if sign < 0:
        a, b, low, high = b, a, -high, -low
    piece = evidence(kind, "accuracy difference", f"{a} vs {b}", sign * row["difference"], low, high,
                     study.rule.min_difference, SOURCE, study.sentences)  # fmt: skip
    return piece, a, b


def comparison_sentence(piece, better: str, worse: str, row: dict, study: Study, judged: str) -> str:
    tests = (f"; McNemar p {wording.number(row['mcnemar_p_min'])} to {wording.number(row['mcnemar_p_max'])} per seed"
             if not wording.missing(row.get("mcnemar_p_min")) else "")  # fmt: skip
    bar = f"; the interval excludes a difference of {study.rule.min_difference:g} or more" if (
        judged == "contradicted") else ""  # fmt: skip
    return (f"{better} is more accurate than {worse} by {wording.difference(piece)} (paired over {study.sentences} "
            f"sentences and {row['seeds']} seed{'s' if row['seeds'] != 1 else ''}{tests}){bar}: {judged}.")  # fmt: skip


def backbones(study: Study) -> list[Finding]:
    """Backbone against backbone within a variant; one backbone: not measured."""
    pairs = study.summary.get("backbone_pairs")
    if pairs is None:
        reason = "analysis/summary.json has no backbone pairs (written by an older version: rerun aggregate)"
        pairs = []
    else:
        reason = "one backbone on this dataset: no other to compare it with"
    if not pairs:
        question = "Which backbone is more accurate?"
        return [Finding(id="backbones", topic="backbones", question=question, sentence=unanswered(question, reason),
                        verdict=NOT_MEASURED, reason=reason, section="accuracy-table", part="accuracy")]  # fmt: skip
    found = []
    for row in pairs:
        piece, better, worse = paired("paired test", row["backbone_a"], row["backbone_b"], row, study, row["seeds"])
        judged = verdict([state(piece)])
        found.append(Finding(
            id=f"backbones/{row['backbone_a']}/{row['backbone_b']}", topic="backbones",
            question=f"Which is more accurate, {row['backbone_a']} or {row['backbone_b']}?",
            sentence=comparison_sentence(piece, better, worse, row, study, judged), verdict=judged,
            section="backbone-pairs", part="accuracy", headline=[piece], evidence=[piece],
        ))  # fmt: skip
    return found


def group_label(study: Study, backbone: str, variant: str) -> str:
    """The run group's label (as the analysis names it) of a backbone key and variant; the variant where none ran."""
    return next((g["backbone"] for g in study.groups if g["backbone_key"] == backbone and g["variant"] == variant),
                variant)  # fmt: skip


def variants(study: Study) -> list[Finding]:
    """Each variant against its backbone's base recipe; one variant: not measured."""
    rows = study.summary["variants"]
    if not rows:
        reason = "one variant of the recipe on this dataset: nothing to compare with its base"
        question = "Does a variant of the recipe change accuracy?"
        return [Finding(id="variants", topic="variants", question=question, sentence=unanswered(question, reason),
                        verdict=NOT_MEASURED, reason=reason, section="accuracy-table", part="accuracy")]  # fmt: skip
    found = []
    for row in rows:
        label, base = (group_label(study, row["backbone"], row[key]) for key in ("variant", "reference"))
        piece, better, worse = paired("paired test", label, base, row, study, row["seeds"])
        judged = verdict([state(piece)])
        found.append(Finding(
            id=f"variants/{label}", topic="variants",
            question=f"Does the {row['variant']} variant change {row['backbone']}'s accuracy against {row['reference']}?",
            sentence=comparison_sentence(piece, better, worse, row, study, judged), verdict=judged,
            section="variants", part="accuracy", headline=[piece], evidence=[piece],
        ))  # fmt: skip
    return found
