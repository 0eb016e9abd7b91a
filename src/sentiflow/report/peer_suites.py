"""The report's "A peer's suite" section per dataset: each peer's suite (`behaviour.suites`) the dataset answers, per
capability and test every model's failure rate beside the rates published for the suite, and our own behavioural
tests beside the peer's tests that probe the same thing, from the peer_summary rule's outputs.

Suite text is data: the templates escape it like every other text (HTML autoescaping, `tex` in LaTeX).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sentiflow.behaviour.peer_published import ABSENT, counterparts, published_rates
from sentiflow.behaviour.peer_suite import CHECKLIST_SENTIMENT_SHA256, PAPER_SAMPLE
from sentiflow.report.inputs import DatasetInputs
from sentiflow.report.settings import ReportSettings
from sentiflow.report.tables import read_json

RATE_FIELDS = ["model", "kind", "seeds", "cases", "failure_rate", "ci_low", "ci_high"]


@dataclass(frozen=True)
class PeerSuiteFiles:
    """The peer_summary rule's outputs on a dataset, for one suite."""

    failure_rates: Path
    summary: Path


def read(files: dict[str, PeerSuiteFiles], inputs: DatasetInputs, settings: ReportSettings) -> dict:
    """The section's part of a dataset's context (sentiflow.report.sections): `peer_suites`, one entry per suite the
    dataset answers, None where it answers none (the report says why, `absent.peer_suites_note`)."""
    suites = settings.datasets[inputs.name].peer_suites
    ours = inputs.sections.get("behaviour")
    shown = [collect(name, paths, suites[name], ours.failure_rates if ours else None) for name, paths in files.items()]
    return {"peer_suites": shown or None}


def over_seeds(path) -> pd.DataFrame:
    rates = pd.read_csv(path, dtype={"seed": str})
    return rates[rates["seed"] == "all"].replace({np.nan: None})


def sources(published: pd.DataFrame) -> list[dict]:
    """Each source of the published rates, numbered in order of appearance, with its citation and models."""
    listed = []
    for mark, (source, rows) in enumerate(published.groupby("source", sort=False), 1):
        listed.append({"mark": mark, "source": source, "citation": rows["citation"].iloc[0],
                       "secondary": bool(rows["secondary"].iloc[0]), "models": list(rows["model"].drop_duplicates()),
                       "tests": int(rows["test"].nunique())})  # fmt: skip
    return listed


def collect(name: str, files: PeerSuiteFiles, spec: dict, our_rates: Path | None) -> dict:
    """One suite's part of the section: `tests` grouped by capability in suite order, each with our models' rates
    and the published ones, the cited `sources`, and `counterparts`: our tests beside the peer's."""
    summary = read_json(files.summary)
    rates = over_seeds(files.failure_rates)
    published = published_rates(spec["published"]) if spec.get("published") else None
    cited = sources(published) if published is not None else []
    marks = {s["source"]: s["mark"] for s in cited}
    capabilities: dict[str, list[dict]] = {}
    for test in summary["tests"]:
        ours = rates[rates["test"] == test["test"]][RATE_FIELDS].to_dict("records")
        theirs = [] if published is None else [
            {"model": r["model"], "mark": marks[r["source"]], "secondary": r["secondary"],
             "failure_rate": r["failure_rate"], "cases": None if pd.isna(r["cases"]) else int(r["cases"])}
            for r in published[published["test"] == test["test"]].to_dict("records")
        ]  # fmt: skip
        capabilities.setdefault(test["capability"], []).append(test | {"rows": ours, "published": theirs})
    drawn = summary["suite"]
    paired = paired_tests(spec.get("published"), rates, our_rates)
    return {
        "name": name,
        "title": spec.get("title") or name,
        "summary": summary,
        # A smaller draw with the paper's seed is the start of the paper's sample (sentiflow.behaviour.peer_suite).
        "paper_prefix": drawn["sha256"] == CHECKLIST_SENTIMENT_SHA256
        and drawn["seed"] == PAPER_SAMPLE["seed"]
        and drawn["cases"] is not None
        and drawn["cases"] < PAPER_SAMPLE["cases"],
        "capabilities": [{"capability": c, "tests": tests} for c, tests in capabilities.items()],
        "sources": cited,
        "published_absent": ABSENT.get(spec.get("published")),
        "counterparts": paired,
        "counterpart_note": counterpart_note(spec.get("published"), paired, our_rates),
    }


def counterpart_note(published: str | None, paired: list[dict], our_rates: Path | None) -> str | None:
    """Why no test of ours is shown beside its counterpart, where counterparts are known for the suite."""
    if paired or published is None or counterparts(published).empty:
        return None
    if our_rates is None:
        return "Our own behavioural tests did not run on this dataset, so none is shown beside its counterpart here"
    return "None of our behavioural tests on this dataset has a counterpart in this suite that a model answered"


def paired_tests(published: str | None, rates: pd.DataFrame, our_rates: Path | None) -> list[dict]:
    """Per test of ours with a counterpart in the peer's suite (the shipped `NAME_counterparts.csv`), each model that
    answered both: its failure rate on each, with intervals. Empty without counterparts or without our own tests."""
    if published is None or our_rates is None:
        return []
    ours = over_seeds(our_rates).set_index(["test", "model"])
    theirs = rates.set_index(["test", "model"])
    rows = []
    for pair in counterparts(published).to_dict("records"):
        for model in rates.loc[rates["test"] == pair["counterpart"], "model"]:
            if (pair["test"], model) not in ours.index:
                continue
            a, b = ours.loc[(pair["test"], model)], theirs.loc[(pair["counterpart"], model)]
            if not (a["cases"] and b["cases"]):  # a model that answered none of one test's cases (an LLM's draw)
                continue
            rows.append(pair | {
                "model": model, "kind": b["kind"],
                "ours": {key: a[key] for key in ("type", "cases", "failure_rate", "ci_low", "ci_high")},
                "theirs": {key: b[key] for key in ("type", "cases", "failure_rate", "ci_low", "ci_high")},
            })  # fmt: skip
    return rows
