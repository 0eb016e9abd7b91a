from sentiflow.behaviour.score import score_llm
from sentiflow.behaviour.suite import read_suite
from sentiflow.llm.compare import LLMJob
from sentiflow.logs import log_to

with log_to(snakemake.log[0]):
    params = snakemake.params
    job = LLMJob(snakemake.wildcards.llm, params.entry, params.prompt, params.cache, snakemake.threads)
    cases = read_suite(snakemake.input.suite)
    score_llm(cases, job, params.labels, snakemake.input.train, params.selection, snakemake.output)
