from sentiflow.analysis.calibration import analyse_calibration
from sentiflow.analysis.runs import RunSet
from sentiflow.logs import log_to

with log_to(snakemake.log[0]):
    analysis = snakemake.params.analysis
    runs = RunSet.load(snakemake.input.metadata, snakemake.params.expected, analysis["allow_partial"])
    analyse_calibration(runs, analysis, snakemake.params.holdout_rows, snakemake.output)
