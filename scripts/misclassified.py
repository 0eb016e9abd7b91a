from sentiflow.logs import log_to
from sentiflow.misclassified import analyse_errors
from sentiflow.runs import RunSet

with log_to(snakemake.log[0]):
    analysis = snakemake.params.analysis
    runs = RunSet.load(snakemake.input.metadata, snakemake.params.expected, analysis["allow_partial"])
    analyse_errors(runs, snakemake.input.validation, snakemake.params.labels, analysis, snakemake.output)
