from sentiflow.cascade import run_cascade
from sentiflow.logs import log_to

with log_to(snakemake.log[0]):
    run_cascade(
        snakemake.wildcards.llm,
        snakemake.input.llm,
        snakemake.input.metadata,
        snakemake.params.expected,
        snakemake.params.labels,
        snakemake.params.analysis,
        snakemake.params.settings,
        **snakemake.output,
    )
