from sentiflow.llm import compare
from sentiflow.logs import log_to

with log_to(snakemake.log[0]):
    compare(
        snakemake.wildcards.llm,
        snakemake.params.entry,
        snakemake.params.prompt,
        snakemake.params.selection,
        snakemake.params.sample,
        snakemake.params.cache,
        snakemake.params.labels,
        snakemake.input.metadata,
        snakemake.params.expected,
        snakemake.params.analysis,
        snakemake.input.validation,
        snakemake.input.train,
        snakemake.input.cues,
        snakemake.threads,
        **snakemake.output,
    )
