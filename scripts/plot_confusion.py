from sentiflow.analysis.plots import plot_confusion
from sentiflow.analysis.runs import RunSet
from sentiflow.logs import log_to

with log_to(snakemake.log[0]):
    params = snakemake.params
    runs = RunSet.load(snakemake.input.metadata, params.expected, params.allow_partial)
    plot_confusion(runs, params.labels, snakemake.output)
