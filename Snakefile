from snakemake.utils import min_version, validate

min_version("9.19")


# A --configfile replaces the study's defaults instead of being merged into them.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/llm.smk"
include: "workflow/rules/report.smk"


# Everything the configured study produces.
rule all:
    default_target: True
    input:
        rules.prepare_data.output.card,
        run_outputs("metadata"),
        rules.aggregate.output,
        rules.misclassified.output,
        rules.plot_curves.output,
        rules.plot_reliability.output,
        llm_outputs(),
        report_outputs(),
