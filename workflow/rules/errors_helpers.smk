# The errors stage's helpers (workflow/rules/errors.smk includes them): which run groups are explained,
# the label issues' witnesses, the outputs `all` asks for, the files the report reads.
import os

from sentiflow.config import (
    dataset_backbones,
    dataset_label_witnesses,
    dataset_variants,
)


def attributed_groups(dataset):
    """(backbone, variant) of every run group of `dataset` that the attribute rule explains (none when it is off)."""
    settings = config["analysis"]["attribution"]
    if not settings["enabled"]:
        return []
    return [
        (backbone, variant)
        for backbone in dataset_backbones(config, dataset)
        for variant in dataset_variants(config, dataset)
        if settings["variants"] is None or variant in settings["variants"]
    ]


def attribution_outputs(name):
    """One output of the attribute rule per run group of every dataset (none when attribution is off)."""
    pattern = getattr(rules.attribute.output, name)
    return [
        pattern.format(dataset=dataset, backbone=backbone, variant=variant)
        for dataset in DATASETS
        for backbone, variant in attributed_groups(dataset)
    ]


def witness_keys(dataset):
    """The LLM entries that witness `dataset`'s label issues; with analysis.allow_partial, those that finished."""
    if not (config["llm"]["enabled"] and config["analysis"]["label_issues"]["enabled"]):
        return []
    entries = dataset_label_witnesses(config, dataset)
    if not config["analysis"]["allow_partial"]:
        return entries
    table = rules.llm_witness.output.table
    return [e for e in entries if os.path.exists(table.format(dataset=dataset, llm=e))]


def witness_tables(wildcards):
    """Input function: the witness tables of the wildcard's dataset, in the order of `witness_keys`."""
    table = rules.llm_witness.output.table
    return [
        table.format(dataset=wildcards.dataset, llm=e)
        for e in witness_keys(wildcards.dataset)
    ]


def slices_outputs():
    """The slices rule's outputs for every dataset (none when it is off)."""
    if not config["analysis"]["slices"]["enabled"]:
        return []
    return expand(rules.slices.output, dataset=DATASETS)


@report_section("slices")
def slices_report_files(dataset):
    """The slices rule's files of `dataset` for the report, or None when the rule is off."""
    if not config["analysis"]["slices"]["enabled"]:
        return None
    return {
        key: getattr(rules.slices.output, key).format(dataset=dataset)
        for key in ("table", "summary")
    }


@report_section("why")
def why_report_files(dataset):
    """The misclassified rule's files the "why errors happen" section reads, and the attribute rule's per
    attributed run group."""
    misclassified = rules.misclassified.output
    attribution = rules.attribute.output
    return {
        "summary": misclassified.why.format(dataset=dataset),
        "shortcut_words": misclassified.shortcut_words.format(dataset=dataset),
        "word_groups": misclassified.word_groups.format(dataset=dataset),
        "attribution": [
            {
                key: getattr(attribution, key).format(
                    dataset=dataset, backbone=backbone, variant=variant
                )
                for key in ("summary", "words", "sentences", "deletion")
            }
            for backbone, variant in attributed_groups(dataset)
        ],
    }
