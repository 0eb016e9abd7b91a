from sentiflow.calibration import analyse_calibration
from sentiflow.logs import log_to

with log_to(snakemake.log[0]):
    analyse_calibration(
        snakemake.input.metadata,
        snakemake.params.expected,
        snakemake.params.analysis,
        snakemake.params.holdout_rows,
        **snakemake.output,
    )
