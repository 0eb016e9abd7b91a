from sentiflow.analysis.plots import plot_reliability
from sentiflow.logs import log_to

with log_to(snakemake.log[0]):
    plot_reliability(snakemake.input.bins, snakemake.input.table, **snakemake.output)
