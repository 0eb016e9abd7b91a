from sentiflow.analysis.runs import RunSet
from sentiflow.llm.compare import LLMJob, compare
from sentiflow.logs import log_to

with log_to(snakemake.log[0]):
    params = snakemake.params
    runs = RunSet.load(snakemake.input.metadata, params.expected, params.allow_partial)
    job = LLMJob(snakemake.wildcards.llm, params.entry, params.prompt, params.cache, snakemake.threads, params.tags)
    data = {name: snakemake.input[name] for name in ("validation", "train", "cues")}
    selection = {"items": params.selection, "sample": params.sample}
    compare(job, runs, params.labels, data, selection, params.bootstrap, snakemake.output)
