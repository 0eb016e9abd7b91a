import pandas as pd

from sentiflow.analysis.runs import RunSet
from sentiflow.errors.slices import SliceSettings, find_slices
from sentiflow.logs import log_to

with log_to(snakemake.log[0]):
    params = snakemake.params
    runs = RunSet.load(snakemake.input.metadata, params.expected, params.allow_partial)
    settings = SliceSettings.from_dict(params.settings, params.confidence)
    # A text such as "NA" stays a text.
    cues = pd.read_csv(snakemake.input.cues, keep_default_na=False, dtype={"text": str, "text_pair": str})
    witnesses = {
        name: pd.read_csv(path, keep_default_na=False, dtype={"gold": str, "llm_predicted": str})
        for name, path in zip(params.witnesses, snakemake.input.witnesses, strict=True)
    }
    find_slices(runs, cues, params.families, settings, snakemake.output, witnesses)
