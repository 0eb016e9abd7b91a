from sentiflow.calibration import analyse_calibration
from sentiflow.logs import log_to
from sentiflow.runs import RunSet

with log_to(snakemake.log[0]):
    analysis = snakemake.params.analysis
    runs = RunSet.load(snakemake.input.metadata, snakemake.params.expected, analysis["allow_partial"])
    analyse_calibration(runs, analysis, snakemake.params.holdout_rows, snakemake.output)
