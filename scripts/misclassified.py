from sentiflow.errors import analyse_errors
from sentiflow.logs import log_to

with log_to(snakemake.log[0]):
    analyse_errors(
        snakemake.input.metadata,
        snakemake.params.expected,
        snakemake.input.validation,
        snakemake.params.labels,
        snakemake.params.analysis,
        combined=snakemake.output.combined,
        cues=snakemake.output.cues,
        failure_modes_out=snakemake.output.failure_modes,
        overconfidence_out=snakemake.output.overconfidence,
    )
