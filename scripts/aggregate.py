from sentiflow.logs import log_to
from sentiflow.metrics import aggregate
from sentiflow.runs import RunSet

with log_to(snakemake.log[0]):
    analysis = snakemake.params.analysis
    runs = RunSet.load(snakemake.input.metadata, snakemake.params.expected, analysis["allow_partial"])
    aggregate(runs, snakemake.params.labels, analysis, snakemake.output)
