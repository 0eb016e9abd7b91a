from sentiflow.findings.study import FindingsFiles


# Its helpers, in a file of their own: Snakemake's linter keeps functions and rules apart.
include: "findings_helpers.smk"


# The study's answers on one dataset: a finding per question, each with the estimate and interval its stage wrote,
# the evidence it rests on and a verdict from the stated rule (findings:); no interval is computed here.
rule findings:
    input:
        # Every file of params.files, listed for the DAG.
        findings_inputs,
    output:
        table=report(
            "results/{dataset}/findings.csv",
            caption="../report/findings.rst",
            category="Findings",
            subcategory="{dataset}",
        ),
        summary="results/{dataset}/findings.json",
    log:
        "logs/{dataset}/findings.log",
    conda:
        "../envs/sentiflow.yaml"
    params:
        files=findings_files_of,
        settings=findings_settings,
    script:
        "../../scripts/findings.py"
