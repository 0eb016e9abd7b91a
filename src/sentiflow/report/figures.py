"""The figures a dataset's section shows: their names, captions and where the LaTeX document finds their PDFs.

The one list of names and the one place their paths are written: the plot rules' outputs
(workflow/rules/analysis.smk, behaviour.smk), the report rule's inputs and outputs (report_helpers.smk), the render
and, through the context, the templates all take them from here. Each is `results/{dataset}/figures/{name}.png` and
`.pdf` (docs/outputs.md).
"""

from __future__ import annotations

import re

# The plot rules' figures (plot_curves writes the first two, plot_reliability and plot_confusion one each).
TRAINING_LOSS, VALIDATION_CURVES, RELIABILITY, CONFUSION = (
    "training_loss",
    "validation_curves",
    "reliability",
    "confusion",
)
FIGURES = (
    (TRAINING_LOSS, "Training loss per step (rolling mean) and per epoch; the band spans the seeds."),
    (VALIDATION_CURVES, "Validation accuracy (a) and validation loss (b) per epoch, mean and range over seeds."),
    (RELIABILITY, "Reliability diagrams before and after temperature scaling, pooled over seeds."),
    (
        CONFUSION,
        "Confusion matrices of the selected epoch, summed over seeds; rows are gold classes, normalised to 100%.",
    ),
)
FIGURE_NAMES = tuple(name for name, _ in FIGURES)
# The cascade rule's figure of an LLM entry, one per dataset and entry.
CASCADE = "cascade"
# The behaviour_summary rule's figure, one per dataset where the behavioural tests run (written like the plots).
BEHAVIOUR = "behaviour"


def plot_file(dataset: str, name: str, kind: str) -> str:
    """Where the plot rules write figure `name` of `dataset` as `kind` (png or pdf)."""
    return f"results/{dataset}/figures/{name}.{kind}"


def cascade_stem(entry: str) -> str:
    """The LaTeX figure's file name of an LLM entry's cascade: no dots, which \\includegraphics takes for an extension."""
    return f"{CASCADE}-" + re.sub(r"[^A-Za-z0-9-]", "-", entry)


def latex_figure(dataset: str, stem: str) -> str:
    """A figure's PDF relative to the .tex file, where the template's \\includegraphics looks for it."""
    return f"figures/{dataset}/{stem}.pdf"
