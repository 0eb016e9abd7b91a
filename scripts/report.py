from sentiflow.logs import log_to
from sentiflow.report.render import ReportOutputs, Templates, render
from sentiflow.report.sections import dataset_inputs
from sentiflow.report.settings import ReportSettings

with log_to(snakemake.log[0]):
    # The files per dataset, as report_helpers.smk's report_files names them; the same files are the rule's inputs.
    datasets = [dataset_inputs(files) for files in snakemake.params.files]
    render(
        datasets,
        ReportSettings.from_dict(snakemake.params.settings),
        Templates(html=snakemake.input.html_template, tex=snakemake.input.tex_template),
        ReportOutputs(
            html=snakemake.output.html,
            tex=snakemake.output.tex,
            datasets_table=snakemake.output.datasets,
        ),
    )
