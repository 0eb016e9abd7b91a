# The MLflow export's helpers (workflow/rules/track.smk includes them): what it reads, whether it runs.


def tracking_inputs(wildcards):
    """What the export reads: every finished run's files, each dataset's seed statistics, its LLM entries and its
    findings, so that a run finished since reruns it."""
    return {
        "metadata": [p for d in DATASETS for p in finished_runs(d, "metadata")],
        "tables": [
            p
            for d in DATASETS
            for p in finished_runs(
                d, "history", "steps", "predictions", "holdout_predictions"
            )
        ],
        "summary": expand(rules.aggregate.output.summary_json, dataset=DATASETS),
        "llm": [
            rules.llm_compare.output.summary.format(dataset=d, llm=entry)
            for d in DATASETS
            for entry in llm_keys(d)
        ],
        "llm_tables": [
            rules.llm_compare.output.table.format(dataset=d, llm=entry)
            for d in DATASETS
            for entry in llm_keys(d)
        ],
        # The findings, and the table beside it (an artifact).
        "findings": expand(rules.findings.output.summary, dataset=DATASETS),
        "findings_tables": expand(rules.findings.output.table, dataset=DATASETS),
    }


def tracking_outputs():
    return rules.export_tracking.output if config["tracking"]["enabled"] else []
