from sentiflow.logs import log_to
from sentiflow.plots import plot_confusion

with log_to(snakemake.log[0]):
    plot_confusion(
        snakemake.input.metadata,
        snakemake.params.expected,
        snakemake.params.labels,
        snakemake.params.analysis,
        **snakemake.output,
    )
