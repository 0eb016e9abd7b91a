"""The report's behavioural tests section on hand-made behaviour_summary outputs: what it shows, escaped in both
documents, and nothing read where the tests did not run."""

from __future__ import annotations

import shutil

import pytest
from behaviour_files import SST2, compile_with_report_preamble, study_files, summary_outputs
from conftest import REPO

from sentiflow.behaviour.summary import run_summary
from sentiflow.report import behaviour
from sentiflow.report.behaviour import BehaviourFiles
from sentiflow.report.render import _template

TEMPLATES = REPO / "report"
CONFIDENCE = 0.95


@pytest.fixture
def section(tmp_path) -> dict:
    outputs = summary_outputs(tmp_path / "out")
    run_summary(**study_files(tmp_path / "in"), labels=SST2, confidence=CONFIDENCE, outputs=outputs)
    return behaviour.collect(BehaviourFiles(**outputs), failing_cases=2)


def test_the_section_shows_rates_and_each_tests_failing_cases_best_encoder_first(section):
    assert [(r["test"], r["model"]) for r in section["rates"]][:2] == [
        ("negation", "minilm"),
        ("negation", "minilm+lr-1e-4"),
    ]
    assert all(r["seed"] == "all" for r in section["rates"])
    negation, names = section["failing"]
    # neg/0 fails for minilm (the best encoder) and the cascade; neg/2 for the variant and the LLM: both shown, the
    # best encoder's first, each with every model that fails it.
    assert [c["case"] for c in negation["cases"]] == ["neg/0", "neg/2"]
    assert negation["cases"][0]["failed_by"] == ["minilm", "cascade minilm / smollm2"]
    assert (
        negation["cases"][0]["original_texts"] == ["The acting was not <b>good</b> & 100% $dull_."]
        and not negation["cases"][0]["perturbed_texts"]
    )
    assert names["cases"][0]["perturbed_texts"] == ["<script>x</script> is great."]
    assert behaviour.collect(None, failing_cases=2) is None  # the stage did not run: no section, nothing read
    # The words each perturbation test changed, and how many (case, seed) pairs could fail at all.
    assert section["edits"] == [{"test": "names", "type": "INV", "before": [["ann", 1]], "after": [["bo", 1]]}]
    assert [r["can_fail"] for r in section["rates"] if r["model"] == "minilm"] == [6, 4]


def test_suite_text_is_escaped_in_html_and_latex(section, tmp_path):
    notes = {"behaviour": None, "behaviour_comparisons": None}  # the suite has cases, and comparisons
    context = {"d": {"name": "sst2", "behaviour": section, "absent": notes}, "s": 3,
               "images": {"sst2": {"behaviour": "data:,"}}}  # fmt: skip
    html = _template(TEMPLATES / "behaviour.html.j2", latex=False).render(context)
    # The failing cases travel as JSON for the page's script, which shows them as text: escaped inside it.
    assert "<script>x</script>" not in html and "\\u003cscript\\u003ex\\u003c/script\\u003e is great." in html
    assert "not \\u003cb\\u003egood\\u003c/b\\u003e \\u0026 100% $dull_." in html and "3.9 Behavioural tests" in html
    assert "<td>6 of 6</td>" in html and '<td class="text">ann (1)</td><td class="text">bo (1)</td>' in html
    tex = _template(TEMPLATES / "behaviour.tex.j2", latex=True).render(context)
    assert r"100\% \$dull\_\allowbreak{}." in tex and r"\textless{}script\textgreater{}x" in tex
    (tmp_path / "figures" / "sst2").mkdir(parents=True)
    shutil.copy(tmp_path / "out" / "behaviour.pdf", tmp_path / "figures" / "sst2" / "behaviour.pdf")
    compile_with_report_preamble(tex, tmp_path)
