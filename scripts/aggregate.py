from sentiflow.analysis.metrics import aggregate
from sentiflow.analysis.runs import RunSet
from sentiflow.logs import log_to

with log_to(snakemake.log[0]):
    params = snakemake.params
    runs = RunSet.load(snakemake.input.metadata, params.expected, params.allow_partial)
    aggregate(runs, params.labels, params.bootstrap, snakemake.output)
