import pandas as pd

from sentiflow.analysis.runs import RunSet
from sentiflow.data import read_split
from sentiflow.errors.explain import explain_group
from sentiflow.logs import log_to
from sentiflow.train.gpus import claim_job_device
from sentiflow.train.tokens import Tokenization

with log_to(snakemake.log[0]):
    params = snakemake.params
    runs = RunSet.load(snakemake.input.metadata, params.expected, params.allow_partial)
    # Placed by the config, not params (the note on placement in workflow/rules/common.smk); the slot (a file
    # lock) is held while the name is bound: for the whole job.
    device, _slot = claim_job_device(snakemake.config["training"], snakemake.threads)
    shortcuts = pd.read_csv(snakemake.input.shortcut_words)
    (group,) = runs.groups.values()
    validation = read_split(snakemake.input.validation)
    # Attribute what the model was scored on: the texts as the tokenize rule tokenized them for this backbone.
    tokenization = Tokenization.read(snakemake.input.tokens)
    settings = (params.labels, params.settings, params.bootstrap)
    explain_group(group, validation, shortcuts, *settings, device, snakemake.output, tokenization)
