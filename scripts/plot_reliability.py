from sentiflow.logs import log_to
from sentiflow.plots import plot_reliability

with log_to(snakemake.log[0]):
    plot_reliability(snakemake.input.bins, snakemake.input.table, **snakemake.output)
