from sentiflow.logs import log_to
from sentiflow.metrics import aggregate

with log_to(snakemake.log[0]):
    aggregate(
        snakemake.input.metadata,
        snakemake.params.expected,
        snakemake.params.labels,
        snakemake.params.analysis,
        **snakemake.output,
    )
