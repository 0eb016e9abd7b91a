import os
import re

from sentiflow.config import (
    canonical,
    dataset_backbones,
    dataset_seeds,
    dataset_variants,
    run_label,
)

# Jobs import the library from this checkout (local, --use-conda or cluster jobs alike), never from a
# stale copy installed elsewhere.
os.environ.update(
    PYTHONPATH=os.pathsep.join(
        filter(
            None, [str(Path(workflow.basedir) / "src"), os.environ.get("PYTHONPATH")]
        )
    )
)

DATASETS = list(config["datasets"])
BACKBONES = list(config["backbones"])
VARIANTS = list(config["variants"])
LLMS = list(config["llm"]["models"])
SUITES = list(config["behaviour"]["suites"])


wildcard_constraints:
    dataset="|".join(re.escape(name) for name in DATASETS),
    backbone="|".join(re.escape(name) for name in BACKBONES),
    variant="|".join(re.escape(name) for name in VARIANTS),
    seed=r"\d+",
    llm="|".join(re.escape(name) for name in LLMS),
    suite="|".join(re.escape(name) for name in SUITES),


def run_keys(dataset):
    """(backbone, variant, seed) of every run configured for `dataset`."""
    return [
        (backbone, variant, seed)
        for backbone in dataset_backbones(config, dataset)
        for variant in dataset_variants(config, dataset)
        for seed in dataset_seeds(config, dataset)
    ]


def expected_runs(dataset):
    """[run label, seed] of every run of `dataset`, as the analysis names them."""
    return [
        [run_label(backbone, variant), seed]
        for backbone, variant, seed in run_keys(dataset)
    ]


def expected_runs_of_dataset(wildcards):
    return expected_runs(wildcards.dataset)


def run_outputs(name, datasets=None):
    """One output of training for every configured run of `datasets` (by default of every dataset)."""
    pattern = getattr(rules.train.output, name)
    return [
        pattern.format(dataset=dataset, backbone=backbone, variant=variant, seed=seed)
        for dataset in datasets or DATASETS
        for backbone, variant, seed in run_keys(dataset)
    ]


# Settings that only place a job (training.threads, device, gpus_per_run and runs_per_gpu; llm.threads and an LLM
# entry's threads) are no rule's params: they say where a job runs, not what it computes, so moving a finished study
# to another machine, GPU count or thread count reruns nothing (a resumed training run ignores them likewise). They
# reach a job as its `threads:` and `resources:`, and scripts read the device settings from the config.
PLACEMENT = ("threads", "device", "gpus_per_run", "runs_per_gpu")


def without(settings, *keys):
    """Params: `settings` in canonical order less `keys`, which other rules (or only the DAG) read."""
    return canonical({key: value for key, value in settings.items() if key not in keys})


def dataset_setting(key):
    """Params function: one key of the wildcard's dataset, so that other datasets' settings never rerun it."""
    return lambda wildcards: config["datasets"][wildcards.dataset][key]


def finished_runs(dataset, *names):
    """The named outputs of every run of `dataset`; with analysis.allow_partial, of its finished runs only."""
    wanted = [path for name in names for path in run_outputs(name, [dataset])]
    if not config["analysis"]["allow_partial"]:
        return wanted
    finished = {
        os.path.dirname(p)
        for p in run_outputs("metadata", [dataset])
        if os.path.exists(p)
    }
    return [path for path in wanted if os.path.dirname(path) in finished]


def analysed_runs(*names):
    """Input function for `unpack`: the metadata of the wildcard's dataset's `finished_runs`, and their `names`
    tables, which the job reads through the metadata's folder: listed so the DAG knows about them.
    """
    return lambda wildcards: {
        "metadata": finished_runs(wildcards.dataset, "metadata"),
        "tables": finished_runs(wildcards.dataset, *names),
    }


def scored_runs(wildcards):
    """Input function for `unpack`, what most analyses of a dataset's runs read (aggregate, misclassified,
    label_issues, slices, llm_compare, cascade): `analysed_runs` with their histories and validation predictions.
    """
    return analysed_runs("history", "predictions")(wildcards)


def group_runs(*names):
    """Input function: `finished_runs` of the wildcard's run group (its backbone and variant, every seed)."""

    def paths(wildcards):
        group = ("runs", wildcards.backbone, wildcards.variant)
        return [
            p
            for p in finished_runs(wildcards.dataset, *names)
            if Path(p).parts[2:5] == group
        ]

    return paths


def expected_runs_of_group(wildcards):
    label = run_label(wildcards.backbone, wildcards.variant)
    return [run for run in expected_runs(wildcards.dataset) if run[0] == label]


# Per report section (sentiflow.report.sections), the function that names one dataset's files of it: each stage
# registers its sections beside its rules, and the report rule (report_helpers.smk) reads every one registered.
REPORT_SECTIONS = {}


def report_section(key):
    """Decorator: registers a function of a dataset as the files of report section `key`."""

    def register(files_of_dataset):
        REPORT_SECTIONS[key] = files_of_dataset
        return files_of_dataset

    return register
