from sentiflow.config import data_settings


# Its helpers, in a file of their own: Snakemake's linter keeps functions and rules apart.
include: "data_helpers.smk"


# Validate (and, when asked, clean) a dataset's splits and write them as canonical Parquet plus a data card.
rule prepare_data:
    input:
        unpack(dataset_files),
    output:
        train="results/{dataset}/data/train.parquet",
        validation="results/{dataset}/data/validation.parquet",
        holdout="results/{dataset}/data/holdout.parquet",
        card="results/{dataset}/data/data_card.json",
    log:
        "logs/{dataset}/prepare_data.log",
    conda:
        "../envs/sentiflow.yaml"
    params:
        dataset=lambda wildcards: data_settings(config["datasets"][wildcards.dataset]),
    script:
        "../../scripts/prepare_data.py"
