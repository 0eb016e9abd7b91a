# The findings' helpers (workflow/rules/findings.smk includes them): the files the findings rule reads per dataset,
# the settings it judges them with, the outputs `all` asks for, the file the report reads.
from sentiflow.config import canonical


def findings_files(dataset):
    """The files of `dataset` the findings read, named by what they are (sentiflow.findings.study.FindingsFiles):
    the aggregate, misclassified, calibration and label_issues rules' outputs, the behavioural statistics where the
    suite ran, and every finished LLM entry's summary with its cascade when the cascade is on.
    """
    misclassified = rules.misclassified.output
    behaviour = None
    if behaviour_on(dataset):
        outputs = rules.behaviour_summary.output
        behaviour = {
            key: getattr(outputs, key).format(dataset=dataset)
            for key in ("failure_rates", "comparisons", "summary")
        }
    cascade = config["llm"]["cascade"]["enabled"]
    return {
        "summary": rules.aggregate.output.summary_json.format(dataset=dataset),
        "failure_modes": misclassified.failure_modes.format(dataset=dataset),
        "overconfidence": misclassified.overconfidence.format(dataset=dataset),
        "calibration": rules.calibration.output.table.format(dataset=dataset),
        "label_issues": rules.label_issues.output.summary.format(dataset=dataset),
        "behaviour": behaviour,
        "llm": {
            entry: {
                "summary": rules.llm_compare.output.summary.format(
                    dataset=dataset, llm=entry
                )
            }
            | (
                {
                    "cascade": rules.cascade.output.summary.format(
                        dataset=dataset, llm=entry
                    )
                }
                if cascade
                else {}
            )
            for entry in llm_keys(dataset)
        },
    }


def findings_inputs(wildcards):
    """Every path of `findings_files`, as the rule's inputs."""
    files = FindingsFiles.from_dict(findings_files(wildcards.dataset))
    return [str(path) for path in files.paths()]


def findings_files_of(wildcards):
    """Params function: `findings_files`, evaluated with the inputs (after finished LLM entries are known)."""
    return findings_files(wildcards.dataset)


def findings_absent(dataset):
    """Per part of the evidence a switch can leave out on `dataset`, the setting that does, or None where it is on:
    a finding whose evidence is missing says so."""
    behaviour = None
    if not behaviour_on(dataset):
        if not config["behaviour"]["enabled"]:
            behaviour = "behaviour.enabled: false"
        elif not (config["datasets"][dataset].get("behaviour") or {}).get(
            "enabled", True
        ):
            behaviour = f"datasets.{dataset}.behaviour.enabled: false"
        else:
            behaviour = f"no test selected: datasets.{dataset}.behaviour.tests"
    llm = None
    if not llm_entries(dataset):
        llm = (
            f"datasets.{dataset}.llm_models: []"
            if config["llm"]["enabled"]
            else "llm.enabled: false"
        )
    return {
        "llm": llm,
        "cascade": (
            None
            if config["llm"]["cascade"]["enabled"]
            else "llm.cascade.enabled: false"
        ),
        "behaviour": behaviour,
        "label_issues": (
            None
            if config["analysis"]["label_issues"]["enabled"]
            else "analysis.label_issues.enabled: false"
        ),
    }


def findings_settings(wildcards):
    """Params: the verdict rule's settings (`findings`), the dataset's published numbers, why evidence is absent."""
    dataset = wildcards.dataset
    return canonical(
        {
            "rule": config["findings"],
            "reference": config["datasets"][dataset].get("reference") or {},
            "absent": findings_absent(dataset),
        }
    )


@report_section("findings")
def findings_report_files(dataset):
    """The findings rule's outputs the report reads: its findings first, across datasets."""
    return {
        "summary": rules.findings.output.summary.format(dataset=dataset),
        "table": rules.findings.output.table.format(dataset=dataset),
    }


def findings_outputs():
    return expand(rules.findings.output, dataset=DATASETS)
