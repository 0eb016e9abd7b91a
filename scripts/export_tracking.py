from sentiflow.logs import log_to
from sentiflow.track.export import export_study
from sentiflow.track.records import study_records

with log_to(snakemake.log[0]):
    records = study_records(
        snakemake.params.datasets,
        snakemake.input.metadata,
        snakemake.input.summary,
        snakemake.input.llm,
        snakemake.params.allow_partial,
        snakemake.input.findings,
    )
    export_study(records, snakemake.params.tracking, snakemake.output[0])
