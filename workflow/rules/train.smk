from sentiflow.config import run_label, variant_training


# Its helpers, in a file of their own: Snakemake's linter keeps functions and rules apart.
include: "train_helpers.smk"


# Tokenize every split once per backbone; training reads only these token ids.
rule tokenize:
    input:
        train=rules.prepare_data.output.train,
        validation=rules.prepare_data.output.validation,
        holdout=rules.prepare_data.output.holdout,
    output:
        tokens="results/{dataset}/tokens/{backbone}.npz",
        stats="results/{dataset}/tokens/{backbone}.json",
    log:
        "logs/{dataset}/tokenize/{backbone}.log",
    conda:
        "../envs/sentiflow.yaml"
    params:
        model=backbone_model,
        max_length=config["training"]["max_length"],
    script:
        "../../scripts/tokenize.py"


# Fine-tune one backbone with one variant of the recipe and one seed on one dataset, resumable after every epoch.
rule train:
    input:
        tokens=rules.tokenize.output.tokens,
    output:
        history="results/{dataset}/runs/{backbone}/{variant}/seed{seed}/history.csv",
        steps="results/{dataset}/runs/{backbone}/{variant}/seed{seed}/steps.csv",
        predictions="results/{dataset}/runs/{backbone}/{variant}/seed{seed}/predictions.csv",
        holdout_predictions="results/{dataset}/runs/{backbone}/{variant}/seed{seed}/holdout_predictions.csv",
        model=directory("results/{dataset}/runs/{backbone}/{variant}/seed{seed}/model"),
        metadata="results/{dataset}/runs/{backbone}/{variant}/seed{seed}/metadata.json",
    log:
        "logs/{dataset}/train/{backbone}/{variant}/seed{seed}.log",
    benchmark:
        "benchmarks/{dataset}/train/{backbone}/{variant}/seed{seed}.tsv"
    conda:
        "../envs/sentiflow.yaml"
    threads: config["training"]["threads"]
    resources:
        gpu=config["training"]["gpus_per_run"],
    params:
        model=backbone_model,
        labels=dataset_setting("labels"),
        # The epoch the published checkpoint holds is chosen as analysis.select_epoch says; max_length is the
        # tokenize rule's, and the settings that place a job are no params (common.smk).
        training=lambda wildcards: without(
            variant_training(config, wildcards.variant)
            | {"select_epoch": config["analysis"]["select_epoch"]},
            *PLACEMENT,
            "max_length",
        ),
        run_name=lambda wildcards: run_label(wildcards.backbone, wildcards.variant),
        # Outside the outputs on purpose: Snakemake deletes a failed job's outputs, not this.
        resume_dir=lambda wildcards: f"results/{wildcards.dataset}/resume/{wildcards.backbone}/{wildcards.variant}/seed{wildcards.seed}",
    script:
        "../../scripts/train.py"
