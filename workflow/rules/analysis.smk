from sentiflow.config import canonical
from sentiflow.report.figures import (
    CONFUSION,
    RELIABILITY,
    TRAINING_LOSS,
    VALIDATION_CURVES,
    plot_file,
)


# Per-run and per-backbone accuracy over seeds, bootstrap intervals, backbones and variants compared in pairs.
rule aggregate:
    input:
        unpack(scored_runs),
    output:
        runs="results/{dataset}/analysis/runs.csv",
        summary=report(
            "results/{dataset}/analysis/summary.csv",
            caption="../report/summary.rst",
            category="Tables",
            subcategory="{dataset}",
        ),
        summary_json="results/{dataset}/analysis/summary.json",
        per_class=report(
            "results/{dataset}/analysis/per_class.csv",
            caption="../report/per_class.rst",
            category="Tables",
            subcategory="{dataset}",
        ),
        mcnemar=report(
            "results/{dataset}/analysis/mcnemar.csv",
            caption="../report/mcnemar.rst",
            category="Tables",
            subcategory="{dataset}",
        ),
        variants=report(
            "results/{dataset}/analysis/variants.csv",
            caption="../report/variants.rst",
            category="Tables",
            subcategory="{dataset}",
        ),
        backbone_pairs=report(
            "results/{dataset}/analysis/backbone_pairs.csv",
            caption="../report/backbone_pairs.rst",
            category="Tables",
            subcategory="{dataset}",
        ),
    log:
        "logs/{dataset}/aggregate.log",
    conda:
        "../envs/sentiflow.yaml"
    params:
        expected=expected_runs_of_dataset,
        labels=dataset_setting("labels"),
        allow_partial=config["analysis"]["allow_partial"],
        bootstrap=canonical(config["analysis"]["bootstrap"]),
    script:
        "../../scripts/aggregate.py"


# Calibration metrics before and after temperature scaling (fitted on the holdout or cross-fitted).
rule calibration:
    input:
        unpack(analysed_runs("history", "predictions", "holdout_predictions")),
    output:
        table=report(
            "results/{dataset}/analysis/calibration.csv",
            caption="../report/calibration.rst",
            category="Calibration",
            subcategory="{dataset}",
        ),
        bins="results/{dataset}/analysis/reliability_bins.csv",
    log:
        "logs/{dataset}/calibration.log",
    conda:
        "../envs/sentiflow.yaml"
    params:
        expected=expected_runs_of_dataset,
        allow_partial=config["analysis"]["allow_partial"],
        calibration=canonical(config["analysis"]["calibration"]),
        holdout_rows=dataset_setting("holdout_rows"),
    script:
        "../../scripts/calibration.py"


# Figure 1 (training loss) and Figure 2 (validation accuracy and loss) over seeds.
rule plot_curves:
    input:
        unpack(analysed_runs("history", "steps")),
    output:
        loss_png=report(
            plot_file("{dataset}", TRAINING_LOSS, "png"),
            caption="../report/training_loss.rst",
            category="Figures",
            subcategory="{dataset}",
        ),
        loss_pdf=plot_file("{dataset}", TRAINING_LOSS, "pdf"),
        curves_png=report(
            plot_file("{dataset}", VALIDATION_CURVES, "png"),
            caption="../report/validation_curves.rst",
            category="Figures",
            subcategory="{dataset}",
        ),
        curves_pdf=plot_file("{dataset}", VALIDATION_CURVES, "pdf"),
    log:
        "logs/{dataset}/plot_curves.log",
    conda:
        "../envs/sentiflow.yaml"
    params:
        expected=expected_runs_of_dataset,
        allow_partial=config["analysis"]["allow_partial"],
        loss_smoothing=config["analysis"]["loss_smoothing"],
    script:
        "../../scripts/plot_curves.py"


# Reliability diagrams, one panel per backbone, before and after temperature scaling.
rule plot_reliability:
    input:
        bins=rules.calibration.output.bins,
        table=rules.calibration.output.table,
    output:
        png=report(
            plot_file("{dataset}", RELIABILITY, "png"),
            caption="../report/reliability.rst",
            category="Calibration",
            subcategory="{dataset}",
        ),
        pdf=plot_file("{dataset}", RELIABILITY, "pdf"),
    log:
        "logs/{dataset}/plot_reliability.log",
    conda:
        "../envs/sentiflow.yaml"
    script:
        "../../scripts/plot_reliability.py"


# Confusion matrices, one panel per backbone, pooled over seeds and normalised per gold class.
rule plot_confusion:
    input:
        unpack(analysed_runs("predictions")),
    output:
        png=report(
            plot_file("{dataset}", CONFUSION, "png"),
            caption="../report/confusion.rst",
            category="Figures",
            subcategory="{dataset}",
        ),
        pdf=plot_file("{dataset}", CONFUSION, "pdf"),
    log:
        "logs/{dataset}/plot_confusion.log",
    conda:
        "../envs/sentiflow.yaml"
    params:
        expected=expected_runs_of_dataset,
        labels=dataset_setting("labels"),
        allow_partial=config["analysis"]["allow_partial"],
    script:
        "../../scripts/plot_confusion.py"
