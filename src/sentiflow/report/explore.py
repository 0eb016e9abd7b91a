"""Tables a reader can explore in the HTML report: sorted by any column, filtered by a column's values and by words,
shown a page at a time and downloaded as CSV, all offline, by the page's own script (report/explore.js).

A table travels as JSON inside the page (the template's `tojson`, which escapes `<`, `>`, `&` and `'`), its rows as
lists in its columns' order; the script builds every cell with `textContent`, so a text from the data is shown as
text whatever it holds. Only the first rows are built when the page opens; the rest are one click away. The LaTeX
report shows the same tables' first rows, static.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

KINDS = ("text", "number", "category")


@dataclass(frozen=True)
class Column:
    key: str  # the row's key
    label: str  # the header
    kind: str = "text"  # text: searched; number: sorted by value, shown with `digits`; category: a filter of its values
    digits: int | None = None
    wide: bool = False  # a text column that holds sentences: kept readable, never squeezed to a few words a line

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"column {self.key}: kind {self.kind!r} is none of {', '.join(KINDS)}")


def value(cell):
    """A cell as JSON: numbers as numbers (NaN as null), a list of texts (a sentence pair) as a list, else text."""
    if cell is None:
        return None
    if isinstance(cell, (bool, np.bool_)):
        return "yes" if cell else "no"
    if isinstance(cell, (int, np.integer)):
        return int(cell)
    if isinstance(cell, (float, np.floating)):
        return None if math.isnan(cell) else float(cell)
    if isinstance(cell, (list, tuple)):
        return [str(item) for item in cell if item is not None and item == item]
    return str(cell)


def table(id: str, columns: Sequence[Column], rows: Sequence[dict], shown: int, empty: str = "No row.") -> dict:
    """What the template's `explore` macro takes: the table's id, its columns, its rows, how many the page shows
    before the reader asks for all, and what it says in their place when it has none."""
    return {
        "id": id,
        "columns": [asdict(column) for column in columns],
        "rows": [[value(row.get(column.key)) for column in columns] for row in rows],
        "shown": shown,
        "total": len(rows),
        "empty": empty,
    }
