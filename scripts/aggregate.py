from sentiflow.analysis.metrics import aggregate
from sentiflow.analysis.runs import RunSet
from sentiflow.logs import log_to

with log_to(snakemake.log[0]):
    analysis = snakemake.params.analysis
    runs = RunSet.load(snakemake.input.metadata, snakemake.params.expected, analysis["allow_partial"])
    aggregate(runs, snakemake.params.labels, analysis, snakemake.output)
