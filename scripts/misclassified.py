from sentiflow.analysis.runs import RunSet
from sentiflow.errors.misclassified import ErrorSettings, analyse_errors
from sentiflow.logs import log_to

with log_to(snakemake.log[0]):
    params = snakemake.params
    runs = RunSet.load(snakemake.input.metadata, params.expected, params.allow_partial)
    data = {"validation": snakemake.input.validation, "train": snakemake.input.train}
    settings = ErrorSettings.from_params(params)
    analyse_errors(runs, data, params.labels, settings, snakemake.output)
