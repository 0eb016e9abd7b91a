# The report's helpers (workflow/rules/report.smk includes them): every file it reads per dataset, the settings
# it shows, the figures beside the LaTeX document, the outputs `all` asks for.
import shutil

from snakemake.exceptions import WorkflowError

from sentiflow.config import canonical, dataset_backbones, suite_exclusion
from sentiflow.report.figures import FIGURE_NAMES, latex_figure, plot_file
from sentiflow.report.sections import SECTIONS, dataset_inputs, figures

# Every section the library registers has its files named by a stage (REPORT_SECTIONS, common.smk), none other.
if set(REPORT_SECTIONS) != {section.key for section in SECTIONS}:
    raise WorkflowError(
        "the report sections the rule files name files for ("
        + ", ".join(sorted(REPORT_SECTIONS))
        + ") are not those sentiflow.report.sections registers ("
        + ", ".join(section.key for section in SECTIONS)
        + ")"
    )

# The report's LaTeX document; the figures it includes are copied beside it.
REPORT_LATEX = "results/report/latex"


def report_files():
    """Per dataset, in the order of `datasets:`, every file the report reads, named by what it is: the mapping
    that sentiflow.report.sections.dataset_inputs takes. The report rule passes it whole and lists every path in
    it as an input, so that the DAG and reruns see them."""
    return [dataset_report_files(dataset) for dataset in DATASETS]


def dataset_report_files(dataset):
    """One dataset's files for the report: one each of the analysis, per backbone, per figure and per run, and
    every registered section's (REPORT_SECTIONS)."""
    one_each = {
        "summary": rules.aggregate.output.summary_json,
        "per_class": rules.aggregate.output.per_class,
        "data_card": rules.prepare_data.output.card,
        "calibration": rules.calibration.output.table,
        "misclassified": rules.misclassified.output.combined,
        "overconfidence": rules.misclassified.output.overconfidence,
        "failure_modes": rules.misclassified.output.failure_modes,
        "label_issues": rules.label_issues.output.table,
        "label_summary": rules.label_issues.output.summary,
    }
    return (
        {"name": dataset}
        | {key: pattern.format(dataset=dataset) for key, pattern in one_each.items()}
        | {
            "token_stats": {
                backbone: rules.tokenize.output.stats.format(
                    dataset=dataset, backbone=backbone
                )
                for backbone in dataset_backbones(config, dataset)
            },
            # Written by the plot rules (plot_curves, plot_reliability, plot_confusion).
            "figures": {
                name: {kind: plot_file(dataset, name, kind) for kind in ("png", "pdf")}
                for name in FIGURE_NAMES
            },
            "runs": finished_runs(dataset, "metadata"),
        }
        | {key: files(dataset) for key, files in REPORT_SECTIONS.items()}
    )


def report_inputs(wildcards):
    """Every path of `report_files`, as the report rule's inputs."""
    return [
        str(path) for files in report_files() for path in dataset_inputs(files).paths()
    ]


def report_files_of(wildcards):
    """Params function: `report_files`, evaluated with the inputs (after finished runs are known)."""
    return report_files()


def report_latex_figures():
    """The figure PDFs the LaTeX report includes, beside it: every dataset's plots and its sections' figures
    (sentiflow.report.sections.figures: the finished LLM entries' cascades, the behavioural tests' figure).
    """
    return [
        f"{REPORT_LATEX}/{latex_figure(files['name'], stem)}"
        for files in report_files()
        for stem in figures(dataset_inputs(files))
    ]


def report_settings():
    """What the report shows or reads of the configuration, and nothing else: another setting reruns the report
    only through the files it changes."""
    analysis = config["analysis"]
    return canonical(
        {
            key: config["report"][key]
            for key in ("title", "top_errors", "attributed_errors", "failing_cases")
        }
        | {
            "shortcut_words": analysis["shortcuts"]["top_words"],
            # The captions name the method, the resamples and the confidence level.
            "bootstrap": {
                key: analysis["bootstrap"][key]
                for key in ("method", "samples", "confidence")
            },
            # The setup tables show every training setting and what every variant changes, in the configured order.
            "training": config["training"],
            "variants": [
                [name, changes] for name, changes in config["variants"].items()
            ],
            "llm_enabled": config["llm"]["enabled"],
            # The switches that leave a part out: the report says which did.
            "stages": {
                "attribution": analysis["attribution"]["enabled"],
                "attribution_variants": analysis["attribution"]["variants"],
                "label_issues": analysis["label_issues"]["enabled"],
                "behaviour": config["behaviour"]["enabled"],
            },
            "datasets": {
                dataset: report_dataset_settings(dataset) for dataset in DATASETS
            },
        }
    )


def report_dataset_settings(dataset):
    """The study's reference numbers, the subsample and holdout sizes the section names, its LLM entries, and its
    witnesses, behavioural tests and peers' suites as configured (the report says why a part is absent).
    """
    settings = config["datasets"][dataset]
    shown = ("reference", "max_train_rows", "holdout_rows", "label_witnesses")
    return {key: settings[key] for key in shown if key in settings} | {
        "llm_models": llm_entries(dataset),
        "behaviour_enabled": (settings.get("behaviour") or {}).get("enabled", True),
        "behaviour_tests": list(dataset_tests(config, dataset)),
        # Each peer's suite: how the report names it, its published rates, why the dataset does not answer it.
        "peer_suites": {
            suite: {
                "title": spec["title"] or suite,
                "published": spec["published"],
                "excluded": suite_exclusion(config, dataset, suite),
            }
            for suite, spec in config["behaviour"]["suites"].items()
        },
    }


def report_outputs():
    """The HTML and LaTeX report, and the PDF when report.pdf asks for it (auto: when pdflatex is installed)."""
    wanted = [rules.report.output.html, rules.report.output.tex]
    pdf = config["report"]["pdf"]
    if pdf is True or (pdf == "auto" and shutil.which("pdflatex")):
        wanted.append(rules.report_pdf.output[0])
    return wanted
