from sentiflow.logs import log_to
from sentiflow.train.run import RunOutputs, TrainConfig, train_from_tokens

with log_to(snakemake.log[0]):
    # Where the run trains is read from the config, not params: see the note on placement in workflow/rules/common.smk.
    placement = snakemake.config["training"]
    train_from_tokens(
        snakemake.input.tokens,
        snakemake.params.model,
        snakemake.params.labels,
        TrainConfig.from_dict(
            snakemake.params.training,
            seed=int(snakemake.wildcards.seed),
            threads=snakemake.threads,
            device=placement["device"],
            runs_per_gpu=placement["runs_per_gpu"],
        ),
        RunOutputs(**snakemake.output, resume=snakemake.params.resume_dir),
        run_name=snakemake.params.run_name,
        dataset=snakemake.wildcards.dataset,
        variant=snakemake.wildcards.variant,
        backbone_key=snakemake.wildcards.backbone,
    )
