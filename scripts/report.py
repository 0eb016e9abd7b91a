from sentiflow.logs import log_to
from sentiflow.report.render import render

with log_to(snakemake.log[0]):
    render(
        {name: snakemake.input[name] for name in snakemake.input.keys()},  # noqa: SIM118 (iterating gives the files)
        snakemake.params.datasets,
        snakemake.params.settings,
        snakemake.input.html_template,
        snakemake.input.tex_template,
        html=snakemake.output.html,
        datasets_table=snakemake.output.datasets,
        tex=snakemake.output.tex,
        tex_figures=list(snakemake.output.figures),
    )
