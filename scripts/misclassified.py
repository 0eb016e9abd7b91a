from sentiflow.analysis.runs import RunSet
from sentiflow.errors.misclassified import analyse_errors
from sentiflow.logs import log_to

with log_to(snakemake.log[0]):
    analysis = snakemake.params.analysis
    runs = RunSet.load(snakemake.input.metadata, snakemake.params.expected, analysis["allow_partial"])
    data = {"validation": snakemake.input.validation, "train": snakemake.input.train}
    analyse_errors(runs, data, snakemake.params.labels, analysis, snakemake.output)
