"""The report's sections, registered once: what a part of a dataset's section reads, how, and which templates show it.

A section is a module of this package with the dataclass of its files per dataset, a `read` that turns them into
its part of the dataset's context, and (optionally) the figures it shows, plus a pair of templates in the top-level
`report/`, `{key}.html.j2` and `{key}.tex.j2`. Registered here, it is part of everything that follows from the
registry: the report rule's inputs (the workflow names a section's files per dataset with the function a stage
registers under its key, `report_section` in workflow/rules/common.smk, and checks the keys against these), the
templates the rule lists, the typed inputs (`dataset_inputs`), the context (`collect`), the figures embedded in the
HTML page and copied beside the LaTeX document, and where the two documents include it (`place`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sentiflow.report import behaviour, findings, llm, peer_suites, slices, why
from sentiflow.report.inputs import DatasetInputs, FigureFiles
from sentiflow.report.settings import ReportSettings

# Where a section may be included: first, before the setup, across datasets (its template loops over them); after
# the failure-mode table of the error analysis, after the error analysis, after calibration, in each dataset's
# section. Each is a loop over the registered sections in both documents' templates.
PLACES = ("top", "failure_modes", "errors", "calibration")


def _no_figures(files) -> dict[str, FigureFiles]:
    return {}


@dataclass(frozen=True)
class Section:
    key: str  # the files' key in the report rule's mapping per dataset, the context key, the templates' stem
    files: object  # their type: a dataclass, `X | None` (None where it did not run), list[X] or dict[str, X]
    read: Callable[..., dict]  # (files, DatasetInputs, ReportSettings) -> the keys it adds to the dataset's context
    place: str  # one of PLACES; the section is included where the context's `key` is not None
    heading: str | None = None  # its entry in the HTML contents (None: part of another subsection)
    figures: Callable[..., dict[str, FigureFiles]] = _no_figures  # files -> its figures by stem

    def __post_init__(self):
        if self.place not in PLACES:
            raise ValueError(f"report section {self.key}: place {self.place!r} is none of {', '.join(PLACES)}")

    @property
    def templates(self) -> tuple[str, str]:
        """Its HTML and LaTeX templates, in the top-level report/."""
        return f"{self.key}.html.j2", f"{self.key}.tex.j2"


SECTIONS = (
    Section("findings", findings.FindingsFiles, findings.read, place="top", heading="Findings"),
    Section("slices", slices.SliceFiles | None, slices.read, place="failure_modes"),
    Section("why", why.WhyFiles, why.read, place="errors", heading="Why errors happen"),
    Section(
        "llm",
        dict[str, llm.LLMFiles],
        llm.read,
        place="calibration",
        heading="Comparison with instruction LLMs",
        figures=llm.figures,
    ),
    Section(
        "behaviour",
        behaviour.BehaviourFiles | None,
        behaviour.read,
        place="calibration",
        heading="Behavioural tests",
        figures=behaviour.figures,
    ),
    Section(
        "peer_suites",
        dict[str, peer_suites.PeerSuiteFiles],
        peer_suites.read,
        place="calibration",
        heading="A peer's suite",
    ),
)
# What the templates include besides the sections: their macros (the attribution's convergence sentence, which the
# why section imports, among them), and the HTML page's style sheet and the script of its explorable tables.
SHARED_TEMPLATES = ("macros.html.j2", "macros.tex.j2", "attribution.html.j2", "attribution.tex.j2", "report.css",
                    "explore.js")  # fmt: skip


def dataset_inputs(given: dict) -> DatasetInputs:
    """One dataset's mapping from the report rule, checked and typed, with every registered section's files."""
    return DatasetInputs.from_dict(given, {section.key: section.files for section in SECTIONS})


def template_parts() -> list[str]:
    """Every template the two documents include: the sections' pairs and the shared ones (the rule's inputs)."""
    return [name for section in SECTIONS for name in section.templates] + list(SHARED_TEMPLATES)


def figures(inputs: DatasetInputs) -> dict[str, FigureFiles]:
    """Every figure a dataset's section shows, by its stem: the plots, then each section's."""
    shown = dict(inputs.figures)
    for section in SECTIONS:
        shown |= section.figures(inputs.sections[section.key])
    return shown


def read(inputs: DatasetInputs, settings: ReportSettings) -> dict:
    """Every section's part of a dataset's context, in the order registered."""
    context = {}
    for section in SECTIONS:
        context |= section.read(inputs.sections[section.key], inputs, settings)
    return context


def contents() -> list[dict]:
    """The sections as the templates include them: key, templates, place, heading."""
    return [
        {"key": s.key, "html": s.templates[0], "tex": s.templates[1], "place": s.place, "heading": s.heading}
        for s in SECTIONS
    ]
