from sentiflow.analysis.runs import RunSet
from sentiflow.llm.cascade import run_cascade
from sentiflow.logs import log_to

with log_to(snakemake.log[0]):
    params = snakemake.params
    runs = RunSet.load(snakemake.input.metadata, params.expected, params.allow_partial)
    run_cascade(
        snakemake.wildcards.llm,
        snakemake.input.llm,
        runs,
        params.labels,
        params.bootstrap,
        params.settings,
        snakemake.output,
    )
