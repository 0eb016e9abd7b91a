import pandas as pd

from sentiflow.behaviour.suite import make_suite
from sentiflow.data import read_split
from sentiflow.logs import log_to

with log_to(snakemake.log[0]):
    validation = read_split(snakemake.input.validation)
    shortcut_words = pd.read_csv(snakemake.input.shortcut_words)
    make_suite(snakemake.params.settings, validation, shortcut_words, snakemake.output.suite)
