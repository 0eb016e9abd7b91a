import os
import re
import shutil

from sentiflow.config import (
    cascade_stem,
    canonical,
    data_settings,
    dataset_backbones,
    dataset_llm_models,
    dataset_llm_tags,
    dataset_seeds,
    dataset_variants,
    llm_prompt,
    run_label,
    variant_training,
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


wildcard_constraints:
    dataset="|".join(re.escape(name) for name in DATASETS),
    backbone="|".join(re.escape(name) for name in BACKBONES),
    variant="|".join(re.escape(name) for name in VARIANTS),
    seed=r"\d+",
    llm="|".join(re.escape(name) for name in LLMS),


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


def dataset_setting(key):
    """Params function: one key of the wildcard's dataset, so that other datasets' settings never rerun it."""
    return lambda wildcards: config["datasets"][wildcards.dataset][key]


def dataset_files(wildcards):
    """Local input files, so that editing them reruns data preparation; none for the hub."""
    dataset = config["datasets"][wildcards.dataset]
    if dataset["source"] != "files":
        return {}
    return {split: dataset["files"][split] for split in ("train", "validation")}


def backbone_model(wildcards):
    return config["backbones"][wildcards.backbone]["model"]


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
    """Input function: `finished_runs` of the wildcard's dataset."""
    return lambda wildcards: finished_runs(wildcards.dataset, *names)


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


def attribution_outputs(name):
    """One output of the attribute rule per run group of every dataset (none when attribution is off)."""
    settings = config["analysis"]["attribution"]
    if not settings["enabled"]:
        return []
    pattern = getattr(rules.attribute.output, name)
    return [
        pattern.format(dataset=dataset, backbone=backbone, variant=variant)
        for dataset in DATASETS
        for backbone in dataset_backbones(config, dataset)
        for variant in dataset_variants(config, dataset)
        if settings["variants"] is None or variant in settings["variants"]
    ]


def llm_model_file(wildcards):
    """A local GGUF file is an input, so replacing it reruns the comparison; a hub file is fetched by the job."""
    path = config["llm"]["models"][wildcards.llm]["path"]
    return {"gguf": path} if path else {}


def llm_threads(wildcards):
    return config["llm"]["models"][wildcards.llm]["threads"] or config["llm"]["threads"]


def llm_keys(dataset):
    """The LLM entries asked on `dataset`; with analysis.allow_partial, those whose comparison has finished."""
    entries = llm_entries(dataset)
    if not config["analysis"]["allow_partial"]:
        return entries
    return [
        entry
        for entry in entries
        if os.path.exists(
            rules.llm_compare.output.summary.format(dataset=dataset, llm=entry)
        )
    ]


def llm_entries(dataset):
    return dataset_llm_models(config, dataset) if config["llm"]["enabled"] else []


def cascade_figures():
    """The cascade figures the LaTeX report includes, one per dataset and finished LLM entry."""
    if not config["llm"]["cascade"]["enabled"]:
        return []
    return [
        f"results/report/latex/figures/{d}/{cascade_stem(entry)}.pdf"
        for d in DATASETS
        for entry in llm_keys(d)
    ]


def llm_outputs():
    if not config["llm"]["enabled"]:
        return []
    wanted = []
    for dataset in DATASETS:
        for entry in dataset_llm_models(config, dataset):
            wanted += expand(rules.llm_compare.output, dataset=dataset, llm=entry)
            if config["llm"]["cascade"]["enabled"]:
                wanted += expand(rules.cascade.output, dataset=dataset, llm=entry)
    return wanted


def report_inputs(wildcards):
    """Every stage output the report renders, per kind a list in the order of `datasets:`."""
    per_dataset = {
        "summary": rules.aggregate.output.summary_json,
        "per_class": rules.aggregate.output.per_class,
        "data_card": rules.prepare_data.output.card,
        "token_stats": rules.tokenize.output.stats,
        "calibration": rules.calibration.output.table,
        "misclassified": rules.misclassified.output.combined,
        "overconfidence": rules.misclassified.output.overconfidence,
        "failure_modes": rules.misclassified.output.failure_modes,
        "shortcut_words": rules.misclassified.output.shortcut_words,
        "word_groups": rules.misclassified.output.word_groups,
        "label_issues": rules.misclassified.output.label_issues,
        "why": rules.misclassified.output.why,
        "training_loss_png": rules.plot_curves.output.loss_png,
        "training_loss_pdf": rules.plot_curves.output.loss_pdf,
        "validation_curves_png": rules.plot_curves.output.curves_png,
        "validation_curves_pdf": rules.plot_curves.output.curves_pdf,
        "reliability_png": rules.plot_reliability.output.png,
        "reliability_pdf": rules.plot_reliability.output.pdf,
        "confusion_png": rules.plot_confusion.output.png,
        "confusion_pdf": rules.plot_confusion.output.pdf,
    }
    per_entry = {
        "llm_summary": rules.llm_compare.output.summary,
        "llm_table": rules.llm_compare.output.table,
    }
    if config["llm"]["cascade"]["enabled"]:
        per_entry |= {
            "cascade_points": rules.cascade.output.points,
            "cascade_summary": rules.cascade.output.summary,
            "cascade_png": rules.cascade.output.png,
            "cascade_pdf": rules.cascade.output.pdf,
        }
    inputs = {}
    for name, pattern in per_dataset.items():
        if (
            name == "token_stats"
        ):  # one per backbone: the report reads each dataset's truncation counts
            inputs[name] = [
                pattern.format(dataset=d, backbone=b)
                for d in DATASETS
                for b in dataset_backbones(config, d)
            ]
        else:
            inputs[name] = expand(pattern, dataset=DATASETS)
    inputs["metadata"] = [
        path for dataset in DATASETS for path in finished_runs(dataset, "metadata")
    ]
    # Every run group's attribution; the report assigns them by folder, results/{dataset}/analysis/attribution/.
    inputs["attribution"] = [
        path
        for name in ("words", "sentences", "deletion", "summary")
        for path in attribution_outputs(name)
    ]
    # One per dataset and LLM entry; the report assigns them by folder, results/{dataset}/llm/{entry}/.
    for name, pattern in per_entry.items():
        inputs[name] = [
            pattern.format(dataset=d, llm=entry)
            for d in DATASETS
            for entry in llm_keys(d)
        ]
    return inputs


def report_outputs():
    """The HTML and LaTeX report, and the PDF when report.pdf asks for it (auto: when pdflatex is installed)."""
    wanted = [rules.report.output.html, rules.report.output.tex]
    pdf = config["report"]["pdf"]
    if pdf is True or (pdf == "auto" and shutil.which("pdflatex")):
        wanted.append(rules.report_pdf.output[0])
    return wanted


def tracking_inputs(wildcards):
    """What the export reads: every finished run's files, each dataset's seed statistics and its LLM entries, so
    that a run finished since reruns it."""
    return {
        "metadata": [p for d in DATASETS for p in finished_runs(d, "metadata")],
        "tables": [
            p
            for d in DATASETS
            for p in finished_runs(
                d, "history", "steps", "predictions", "holdout_predictions"
            )
        ],
        "summary": expand(rules.aggregate.output.summary_json, dataset=DATASETS),
        "llm": [
            rules.llm_compare.output.summary.format(dataset=d, llm=entry)
            for d in DATASETS
            for entry in llm_keys(d)
        ],
        "llm_tables": [
            rules.llm_compare.output.table.format(dataset=d, llm=entry)
            for d in DATASETS
            for entry in llm_keys(d)
        ],
    }


def tracking_outputs():
    return rules.export_tracking.output if config["tracking"]["enabled"] else []
