# Fine-tune one backbone with one seed (the study's recipe), resumable after every epoch.
rule train:
    input:
        tokens=rules.tokenize.output.tokens,
    output:
        history="results/runs/{backbone}/seed{seed}/history.csv",
        steps="results/runs/{backbone}/seed{seed}/steps.csv",
        predictions="results/runs/{backbone}/seed{seed}/predictions.csv",
        holdout_predictions="results/runs/{backbone}/seed{seed}/holdout_predictions.csv",
        model=directory("results/runs/{backbone}/seed{seed}/model"),
        metadata="results/runs/{backbone}/seed{seed}/metadata.json",
    log:
        "logs/train/{backbone}/seed{seed}.log",
    benchmark:
        "benchmarks/train/{backbone}/seed{seed}.tsv"
    conda:
        "../envs/sentiflow.yaml"
    threads: config["training"]["threads"]
    resources:
        gpu=config["training"]["gpus_per_run"],
    params:
        model=backbone_model,
        labels=config["dataset"]["labels"],
        training=config["training"],
        # Outside the outputs on purpose: Snakemake deletes a failed job's outputs, not this.
        resume_dir=lambda wildcards: f"results/resume/{wildcards.backbone}/seed{wildcards.seed}",
    script:
        "../../scripts/train.py"
