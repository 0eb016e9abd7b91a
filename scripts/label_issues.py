from sentiflow.analysis.runs import RunSet
from sentiflow.errors.label_check import study
from sentiflow.logs import log_to

with log_to(snakemake.log[0]):
    params = snakemake.params
    runs = RunSet.load(snakemake.input.metadata, params.expected, params.allow_partial)
    data = {
        "validation": snakemake.input.validation,
        "witnesses": dict(zip(params.witnesses, snakemake.input.witnesses)),
    }
    summary = study(runs, data, params.labels, params.settings, params.confidence, snakemake.output)
    print(
        f"{summary['candidates']} candidates, {summary['confirmed']} confirmed, {summary['disputed']} disputed; "
        f"{summary['note'] or ''}"
    )
