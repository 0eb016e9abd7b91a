from sentiflow.analysis.runs import RunSet
from sentiflow.behaviour.score import score_encoders
from sentiflow.behaviour.suite import read_suite
from sentiflow.logs import log_to
from sentiflow.train.gpus import claim_job_device
from sentiflow.train.tokens import Tokenization

with log_to(snakemake.log[0]):
    params = snakemake.params
    runs = RunSet.load(snakemake.input.metadata, params.expected, params.allow_partial)
    # Placed by the config, not params (the note on placement in workflow/rules/common.smk); the slot (a file
    # lock) is held while the name is bound: for the whole job.
    device, _slot = claim_job_device(snakemake.config["training"], snakemake.threads)
    (group,) = runs.groups.values()
    checkpoints = {run.seed: run.folder / "model" for run in group.runs}
    cases = read_suite(snakemake.input.suite)
    # The texts as the tokenize rule tokenized them for this backbone, as training saw them.
    tokenization = Tokenization.read(snakemake.input.tokens)
    score_encoders(cases, checkpoints, len(params.labels), tokenization, device, snakemake.output[0])
