# Fine-tune one backbone with one seed on one dataset (the study's recipe), resumable after every epoch.
rule train:
    input:
        tokens=rules.tokenize.output.tokens,
    output:
        history="results/{dataset}/runs/{backbone}/seed{seed}/history.csv",
        steps="results/{dataset}/runs/{backbone}/seed{seed}/steps.csv",
        predictions="results/{dataset}/runs/{backbone}/seed{seed}/predictions.csv",
        holdout_predictions="results/{dataset}/runs/{backbone}/seed{seed}/holdout_predictions.csv",
        model=directory("results/{dataset}/runs/{backbone}/seed{seed}/model"),
        metadata="results/{dataset}/runs/{backbone}/seed{seed}/metadata.json",
    log:
        "logs/{dataset}/train/{backbone}/seed{seed}.log",
    benchmark:
        "benchmarks/{dataset}/train/{backbone}/seed{seed}.tsv"
    conda:
        "../envs/sentiflow.yaml"
    threads: config["training"]["threads"]
    resources:
        gpu=config["training"]["gpus_per_run"],
    params:
        model=backbone_model,
        labels=dataset_setting("labels"),
        training=config["training"],
        # Outside the outputs on purpose: Snakemake deletes a failed job's outputs, not this.
        resume_dir=lambda wildcards: f"results/{wildcards.dataset}/resume/{wildcards.backbone}/seed{wildcards.seed}",
    script:
        "../../scripts/train.py"
