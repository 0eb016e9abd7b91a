# Per-run and per-backbone accuracy over seeds, bootstrap intervals, McNemar tests between backbones.
rule aggregate:
    input:
        metadata=analysed_runs("metadata"),
        # Read through the metadata's folder; listed so the DAG knows about them.
        tables=analysed_runs("history", "predictions"),
    output:
        runs="results/analysis/runs.csv",
        summary=report(
            "results/analysis/summary.csv",
            caption="../report/summary.rst",
            category="Tables",
        ),
        summary_json="results/analysis/summary.json",
        mcnemar=report(
            "results/analysis/mcnemar.csv",
            caption="../report/mcnemar.rst",
            category="Tables",
        ),
    log:
        "logs/aggregate.log",
    conda:
        "../envs/sentiflow.yaml"
    params:
        expected=EXPECTED_RUNS,
        analysis=config["analysis"],
    script:
        "../../scripts/aggregate.py"


# Misclassified validation sentences, rule-based cue tags, failure-mode rates and over-confidence.
rule misclassified:
    input:
        metadata=analysed_runs("metadata"),
        # Read through the metadata's folder; listed so the DAG knows about them.
        tables=analysed_runs("history", "predictions"),
        validation=rules.prepare_data.output.validation,
    output:
        per_backbone=expand(
            "results/analysis/misclassified/{backbone}.csv", backbone=BACKBONES
        ),
        combined=report(
            "results/analysis/misclassified/all.csv",
            caption="../report/misclassified.rst",
            category="Errors",
        ),
        cues="results/analysis/cues.csv",
        failure_modes=report(
            "results/analysis/failure_modes.csv",
            caption="../report/failure_modes.rst",
            category="Errors",
        ),
        overconfidence="results/analysis/overconfidence.json",
    log:
        "logs/misclassified.log",
    conda:
        "../envs/sentiflow.yaml"
    params:
        expected=EXPECTED_RUNS,
        backbones=BACKBONES,
        labels=config["dataset"]["labels"],
        analysis=config["analysis"],
    script:
        "../../scripts/misclassified.py"


# Calibration metrics before and after temperature scaling (fitted on the holdout or cross-fitted).
rule calibration:
    input:
        metadata=analysed_runs("metadata"),
        # Read through the metadata's folder; listed so the DAG knows about them.
        tables=analysed_runs("history", "predictions", "holdout_predictions"),
    output:
        table=report(
            "results/analysis/calibration.csv",
            caption="../report/calibration.rst",
            category="Calibration",
        ),
        bins="results/analysis/reliability_bins.csv",
    log:
        "logs/calibration.log",
    conda:
        "../envs/sentiflow.yaml"
    params:
        expected=EXPECTED_RUNS,
        analysis=config["analysis"],
        holdout_rows=config["dataset"]["holdout_rows"],
    script:
        "../../scripts/calibration.py"


# Figure 1 (training loss) and Figure 2 (validation accuracy and loss) over seeds.
rule plot_curves:
    input:
        metadata=analysed_runs("metadata"),
        # Read through the metadata's folder; listed so the DAG knows about them.
        tables=analysed_runs("history", "steps"),
    output:
        loss_png=report(
            "results/figures/training_loss.png",
            caption="../report/training_loss.rst",
            category="Figures",
        ),
        loss_pdf="results/figures/training_loss.pdf",
        curves_png=report(
            "results/figures/validation_curves.png",
            caption="../report/validation_curves.rst",
            category="Figures",
        ),
        curves_pdf="results/figures/validation_curves.pdf",
    log:
        "logs/plot_curves.log",
    conda:
        "../envs/sentiflow.yaml"
    params:
        expected=EXPECTED_RUNS,
        analysis=config["analysis"],
    script:
        "../../scripts/plot_curves.py"


# Reliability diagrams, one panel per backbone, before and after temperature scaling.
rule plot_reliability:
    input:
        bins=rules.calibration.output.bins,
        table=rules.calibration.output.table,
    output:
        png=report(
            "results/figures/reliability.png",
            caption="../report/reliability.rst",
            category="Calibration",
        ),
        pdf="results/figures/reliability.pdf",
    log:
        "logs/plot_reliability.log",
    conda:
        "../envs/sentiflow.yaml"
    script:
        "../../scripts/plot_reliability.py"
