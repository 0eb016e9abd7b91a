from sentiflow.logs import log_to
from sentiflow.report.render import compile_pdf

with log_to(snakemake.log[0]):
    compile_pdf(snakemake.input.tex, snakemake.output[0])
