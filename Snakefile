import sys
from pathlib import Path

from snakemake.utils import min_version, validate

min_version("9.19")

sys.path.insert(0, str(Path(workflow.basedir) / "src"))
from sentiflow.config import check_dimensions, study_config

# A --configfile carries only what it changes: it is laid over config/config.yaml, with the dimension maps
# (datasets, backbones) replaced whole.
overrides = dict(config)
config.clear()
config.update(
    study_config(Path(workflow.basedir) / "config" / "config.yaml", overrides)
)
validate(config, "workflow/schemas/config.schema.yaml")
check_dimensions(config)


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/errors.smk"
include: "workflow/rules/llm.smk"
include: "workflow/rules/behaviour.smk"
include: "workflow/rules/findings.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/track.smk"


# Everything the configured study produces.
rule all:
    default_target: True
    input:
        expand(rules.prepare_data.output.card, dataset=DATASETS),
        run_outputs("metadata"),
        expand(rules.aggregate.output, dataset=DATASETS),
        expand(rules.misclassified.output, dataset=DATASETS),
        expand(rules.label_issues.output, dataset=DATASETS),
        attribution_outputs("summary"),
        slices_outputs(),
        expand(rules.plot_curves.output, dataset=DATASETS),
        expand(rules.plot_reliability.output, dataset=DATASETS),
        expand(rules.plot_confusion.output, dataset=DATASETS),
        llm_outputs(),
        behaviour_outputs(),
        findings_outputs(),
        report_outputs(),
        tracking_outputs(),
