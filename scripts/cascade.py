from sentiflow.analysis.runs import RunSet
from sentiflow.llm.cascade import run_cascade
from sentiflow.logs import log_to

with log_to(snakemake.log[0]):
    analysis = snakemake.params.analysis
    runs = RunSet.load(snakemake.input.metadata, snakemake.params.expected, analysis["allow_partial"])
    run_cascade(
        snakemake.wildcards.llm,
        snakemake.input.llm,
        runs,
        snakemake.params.labels,
        analysis["bootstrap"],
        snakemake.params.settings,
        snakemake.output,
    )
