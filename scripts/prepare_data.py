from sentiflow.data import prepare
from sentiflow.logs import log_to

with log_to(snakemake.log[0]):
    prepare(snakemake.params.dataset, snakemake.wildcards.dataset, **snakemake.output)
