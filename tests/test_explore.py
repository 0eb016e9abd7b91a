"""The report's explorable tables in a real browser (headless Chromium over the DevTools protocol, tests/browser.py):
a hand-made table rendered with the report's own macro, script and style sheet, sorted, filtered by a value,
searched, shown whole and downloaded as CSV; a sentence that holds a script stays text."""

from __future__ import annotations

import csv
import io
import json
import time

import pytest
from browser import Browser, chromium_binary

from sentiflow.report.explore import Column, table
from sentiflow.report.render import _environment

REPORT = __import__("conftest").REPO / "report"
HOSTILE = '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2"> & \'quotes\', "too"'
ROWS = [
    {"backbone": "minilm", "index": 3, "texts": ["a dull , lifeless film"], "gold": "negative", "conf": 0.91},
    {"backbone": "minilm", "index": 11, "texts": [HOSTILE], "gold": "positive", "conf": 0.55},
    {"backbone": "bert", "index": 7, "texts": ["not bad at all"], "gold": "positive", "conf": None},
    {"backbone": "bert", "index": 2, "texts": ["the first text", "the second text"], "gold": "negative", "conf": 0.72},
    {"backbone": "minilm", "index": 5, "texts": ['a film, "bad" and long'], "gold": "negative", "conf": 0.64},
]
COLUMNS = [Column("backbone", "backbone", "category"), Column("index", "index", "number", 0),
           Column("texts", "sentence", wide=True), Column("gold", "gold", "category"),
           Column("conf", "confidence", "number", 3)]  # fmt: skip


def page(path, shown: int = 3):
    """A page with one explorable table, as the report renders one."""
    env = _environment(REPORT, latex=False)
    template = env.from_string(
        '{% from "macros.html.j2" import explore %}<!DOCTYPE html><html><head><meta charset="utf-8">'
        '<style>{% include "report.css" %}</style></head><body>'
        "{% call explore(t) %}Table 1. Hand-made{% endcall %}"
        '<script>{% include "explore.js" %}</script></body></html>'
    )
    path.write_text(template.render(t=table("hand-made", COLUMNS, ROWS, shown)), encoding="utf-8")
    return path


def rows(browser) -> list[list[str]]:
    return browser.evaluate(
        "[...document.querySelectorAll('#hand-made tbody tr')].map(r => [...r.cells].map(c => c.textContent))"
    )


@pytest.fixture
def browser(tmp_path):
    if chromium_binary() is None:
        pytest.skip("needs Chromium (Debian package chromium; .ci/run installs it)")
    with Browser(tmp_path / "profile", downloads=tmp_path / "downloads") as opened:
        opened.open(page(tmp_path / "page.html").as_uri())
        yield opened


def test_an_explorable_table_sorts_filters_searches_and_shows_all(browser):
    # The first rows, in the table's own order, each cell built from its value.
    assert [r[1] for r in rows(browser)] == ["3", "11", "7"]
    assert browser.evaluate("document.querySelector('#hand-made .explore-status').textContent") == "3 of 5 rows shown"
    assert rows(browser)[2][4] == "–"  # an empty number
    # Sorted by a number column: ascending, then descending; empty cells last either way.
    browser.evaluate("document.querySelectorAll('#hand-made th')[4].click()")
    assert [r[4] for r in rows(browser)] == ["0.550", "0.640", "0.720"]
    browser.evaluate("document.querySelectorAll('#hand-made th')[4].click()")
    browser.evaluate("document.querySelector('#hand-made .explore-more').click()")
    assert [r[4] for r in rows(browser)] == ["0.910", "0.720", "0.640", "0.550", "–"]
    assert browser.evaluate("document.querySelectorAll('#hand-made th')[4].getAttribute('aria-sort')") == "descending"
    # Filtered by a category's value.
    browser.evaluate(
        "const s = document.querySelector('#hand-made select[data-column=backbone]');"
        "s.value = 'bert'; s.dispatchEvent(new Event('change'))"
    )
    assert [(r[0], r[1]) for r in rows(browser)] == [("bert", "2"), ("bert", "7")]
    # A sentence pair shows both texts, on lines of their own.
    assert rows(browser)[0][2] == "the first text⟶ the second text"
    assert browser.evaluate("document.querySelector('#hand-made tbody td.wide br') !== null")
    # Searched for a word, across the texts, with the filter on, then off.
    browser.evaluate(
        "const q = document.querySelector('#hand-made input[type=search]');"
        "q.value = 'NOT'; q.dispatchEvent(new Event('input'))"
    )
    assert [r[2] for r in rows(browser)] == ["not bad at all"]
    browser.evaluate(
        "const s2 = document.querySelector('#hand-made select[data-column=backbone]');"
        "s2.value = ''; s2.dispatchEvent(new Event('change'))"
    )
    browser.evaluate(
        "const q2 = document.querySelector('#hand-made input[type=search]');"
        "q2.value = 'film'; q2.dispatchEvent(new Event('input'))"
    )
    assert sorted(r[1] for r in rows(browser)) == ["3", "5"]
    assert browser.evaluate("document.querySelector('#hand-made .explore-status').textContent") == (
        "2 of 2 rows shown (5 in all)"
    )
    assert browser.errors == []


def test_an_explorable_table_downloads_what_is_shown_as_csv(browser, tmp_path):
    browser.evaluate(
        "const s = document.querySelector('#hand-made select[data-column=gold]');"
        "s.value = 'negative'; s.dispatchEvent(new Event('change'))"
    )
    browser.evaluate("document.querySelector('#hand-made .explore-download').click()")
    target = tmp_path / "downloads" / "hand-made.csv"
    deadline = time.monotonic() + 20
    while not target.exists():  # Chromium writes it under a temporary name, then renames it
        assert time.monotonic() < deadline, list((tmp_path / "downloads").glob("*"))
        time.sleep(0.1)
    files = list((tmp_path / "downloads").iterdir())
    assert [f.name for f in files] == ["hand-made.csv"]
    read = list(csv.reader(io.StringIO(files[0].read_text(encoding="utf-8"))))
    # Every matching row, not only those shown, with the values as they are (the quotes and commas kept).
    assert read == [
        ["backbone", "index", "sentence", "gold", "confidence"],
        ["minilm", "3", "a dull , lifeless film", "negative", "0.91"],
        ["bert", "2", "the first text ⟶ the second text", "negative", "0.72"],
        ["minilm", "5", 'a film, "bad" and long', "negative", "0.64"],
    ]
    assert browser.errors == []


def test_a_sentence_that_holds_a_script_stays_text(browser, tmp_path):
    html = (tmp_path / "page.html").read_text()
    assert "<script>window.pwned" not in html and "\\u003cscript\\u003e" in html  # escaped inside the JSON
    assert rows(browser)[1][2] == HOSTILE  # shown as it is written
    assert browser.evaluate("window.pwned === undefined")
    assert browser.evaluate("document.querySelectorAll('#hand-made tbody script, #hand-made tbody img').length") == 0
    assert browser.errors == []


def test_a_table_spec_is_json_with_its_rows_in_column_order():
    spec = table("t", COLUMNS, ROWS[:3], 25)
    assert spec["total"] == 3 and spec["shown"] == 25
    assert spec["rows"][2] == ["bert", 7, ["not bad at all"], "positive", None]
    assert json.loads(json.dumps(spec)) == spec
    with pytest.raises(ValueError, match="kind 'date'"):
        Column("when", "when", "date")
