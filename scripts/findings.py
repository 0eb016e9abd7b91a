from sentiflow.findings.build import write_findings
from sentiflow.logs import log_to

with log_to(snakemake.log[0]):
    write_findings(
        snakemake.wildcards.dataset,
        snakemake.params.files,
        snakemake.params.settings,
        {"table": snakemake.output.table, "summary": snakemake.output.summary},
    )
