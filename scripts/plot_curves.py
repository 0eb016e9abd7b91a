from sentiflow.logs import log_to
from sentiflow.plots import plot_curves

with log_to(snakemake.log[0]):
    plot_curves(snakemake.input.metadata, snakemake.params.expected, snakemake.params.analysis, **snakemake.output)
