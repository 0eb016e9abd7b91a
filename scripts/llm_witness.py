from sentiflow.llm.compare import LLMJob
from sentiflow.llm.witness import witness
from sentiflow.logs import log_to

with log_to(snakemake.log[0]):
    params = snakemake.params
    job = LLMJob(snakemake.wildcards.llm, params.entry, params.prompt, params.cache, snakemake.threads)
    data = {name: snakemake.input[name] for name in ("validation", "train")}
    session = witness(job, params.labels, data, params.sample, snakemake.output.table)
    print(f"scored {session['scored_now']} sentences, {session['from_cache']} from the cache")
