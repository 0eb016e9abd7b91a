"""Reading the earlier stages' tables and summaries into the records the templates show."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from sentiflow.data import PAIR


def read_json(path) -> dict:
    return json.loads(Path(path).read_text())


def records(path) -> list[dict]:
    """A CSV file's rows as records, empty cells as None (the templates show them as a dash)."""
    return pd.read_csv(path).replace({np.nan: None}).to_dict("records")


def with_texts(table: pd.DataFrame) -> list[dict]:
    """The rows as records, each with `texts`: its sentence, or both texts of a pair, for the templates to show."""
    fields = [field for field in ("sentence", PAIR) if field in table]
    return [record | {"texts": [record[field] for field in fields]} for record in table.to_dict("records")]
