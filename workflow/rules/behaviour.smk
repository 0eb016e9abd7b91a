# Per dataset: every model's failure rates on the behavioural suite with hierarchical bootstrap intervals, paired
# comparisons, the cascade applied to the suite, the failure modes' association beside the tests, failing cases.
rule behaviour_summary:
    input:
        unpack(behaviour_summary_inputs),
        failure_modes=rules.misclassified.output.failure_modes,
        aggregate=rules.aggregate.output.summary_json,
    output:
        failure_rates=report(
            "results/{dataset}/behaviour/failure_rates.csv",
            caption="../report/behaviour_failure_rates.rst",
            category="Behaviour",
            subcategory="{dataset}",
            labels={"table": "failure rates"},
        ),
        comparisons=report(
            "results/{dataset}/behaviour/comparisons.csv",
            caption="../report/behaviour_comparisons.rst",
            category="Behaviour",
            subcategory="{dataset}",
            labels={"table": "comparisons"},
        ),
        association=report(
            "results/{dataset}/behaviour/association.csv",
            caption="../report/behaviour_association.rst",
            category="Behaviour",
            subcategory="{dataset}",
            labels={"table": "association"},
        ),
        failing_cases=report(
            "results/{dataset}/behaviour/failing_cases.csv",
            caption="../report/behaviour_failing_cases.rst",
            category="Behaviour",
            subcategory="{dataset}",
            labels={"table": "failing cases"},
        ),
        summary="results/{dataset}/behaviour/summary.json",
        png=report(
            plot_file("{dataset}", BEHAVIOUR, "png"),
            caption="../report/behaviour_figure.rst",
            category="Figures",
            subcategory="{dataset}",
            labels={"figure": "behaviour"},
        ),
        pdf=plot_file("{dataset}", BEHAVIOUR, "pdf"),
    log:
        "logs/{dataset}/behaviour_summary.log",
    conda:
        "../envs/sentiflow.yaml"
    params:
        labels=dataset_setting("labels"),
        # [backbone, variant, run label] per scored run group, in the order of input.encoders.
        encoders=lambda wildcards: [
            [backbone, variant, run_label(backbone, variant)]
            for backbone, variant in behaviour_groups(wildcards.dataset)
        ],
        llms=lambda wildcards: llm_entries(wildcards.dataset),
        # The intervals resample with the analysis' settings; always percentile (see sentiflow.behaviour.statistics).
        bootstrap=without(config["analysis"]["bootstrap"], "method"),
    script:
        "../../scripts/behaviour_summary.py"
