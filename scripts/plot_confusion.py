from sentiflow.analysis.plots import plot_confusion
from sentiflow.analysis.runs import RunSet
from sentiflow.logs import log_to

with log_to(snakemake.log[0]):
    analysis = snakemake.params.analysis
    runs = RunSet.load(snakemake.input.metadata, snakemake.params.expected, analysis["allow_partial"])
    plot_confusion(runs, snakemake.params.labels, snakemake.output)
