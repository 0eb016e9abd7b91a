from sentiflow.logs import log_to
from sentiflow.report import FIGURES, render

with log_to(snakemake.log[0]):
    render(
        {name: snakemake.input[name] for name in snakemake.input.keys()},
        snakemake.params.settings,
        snakemake.input.html_template,
        snakemake.input.tex_template,
        html=snakemake.output.html,
        tex=snakemake.output.tex,
        tex_figures=dict(zip([f[0] for f in FIGURES], snakemake.output.figures)),
    )
