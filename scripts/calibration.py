from sentiflow.analysis.calibration import analyse_calibration
from sentiflow.analysis.runs import RunSet
from sentiflow.logs import log_to

with log_to(snakemake.log[0]):
    params = snakemake.params
    runs = RunSet.load(snakemake.input.metadata, params.expected, params.allow_partial)
    analyse_calibration(runs, params.calibration, params.holdout_rows, snakemake.output)
