from sentiflow.logs import log_to
from sentiflow.train.tokens import tokenize_dataset

with log_to(snakemake.log[0]):
    tokenize_dataset(
        snakemake.params.model,
        dict(snakemake.input),
        snakemake.params.max_length,
        snakemake.output.tokens,
        snakemake.output.stats,
    )
