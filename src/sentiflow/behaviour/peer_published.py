"""Failure rates published for a peer's suite, shipped as data (`published/NAME.csv`, its README says where each
number comes from), and which of our own tests probes what one of its tests probes (`published/NAME_counterparts.csv`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

PUBLISHED = Path(__file__).with_name("published")
RATE_COLUMNS = ["test", "capability", "type", "source", "model", "failure_rate", "cases", "secondary", "citation",
                "note"]  # fmt: skip
COUNTERPART_COLUMNS = ["test", "counterpart", "probes", "note"]


def shipped() -> list[str]:
    """The names of the shipped tables of published rates."""
    return sorted(path.stem for path in PUBLISHED.glob("*.csv") if not path.stem.endswith("_counterparts"))


def _read(path: Path, columns: list[str]) -> pd.DataFrame:
    table = pd.read_csv(path, keep_default_na=False, na_values={"failure_rate": [""], "cases": [""]})
    missing = [column for column in columns if column not in table]
    if missing:
        raise ValueError(f"{path} lacks column(s) {', '.join(missing)}")
    return table[columns]


def published_rates(name: str) -> pd.DataFrame:
    """The shipped table `name`: one row per test, source and model."""
    if name not in shipped():
        raise ValueError(f"no published rates named {name!r} ship with sentiflow ({', '.join(shipped())})")
    table = _read(PUBLISHED / f"{name}.csv", RATE_COLUMNS)
    bad = table[~table["failure_rate"].between(0, 1)]
    if len(bad):
        raise ValueError(f"{PUBLISHED / f'{name}.csv'} line {bad.index[0] + 2}: failure rate {bad['failure_rate'].iloc[0]!r} "
                         "is not a rate between 0 and 1")  # fmt: skip
    return table.assign(secondary=table["secondary"].astype(str).str.lower() == "true")


def counterparts(name: str) -> pd.DataFrame:
    """Our tests beside the published suite's test that probes the same thing; empty where none ship."""
    path = PUBLISHED / f"{name}_counterparts.csv"
    return _read(path, COUNTERPART_COLUMNS) if path.exists() else pd.DataFrame(columns=COUNTERPART_COLUMNS)


# Per shipped table, what its sources could not give, in words (the report says it where the numbers would be).
ABSENT = {
    "checklist_sentiment": (
        "The paper's RoBERTa-base column and its other rows of Table 1 are not shown: they could not be read from the "
        "paper where these numbers were gathered, and are not filled in from memory "
        "(src/sentiflow/behaviour/published/README.md)"
    ),
}
