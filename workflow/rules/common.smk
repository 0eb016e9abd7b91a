import os
import re
import shutil

from sentiflow.config import (
    PLACEHOLDER,
    canonical,
    data_settings,
    dataset_backbones,
    dataset_label_witnesses,
    dataset_llm_models,
    dataset_llm_tags,
    dataset_seeds,
    dataset_tests,
    dataset_variants,
    label_polarity,
    llm_prompt,
    run_label,
    variant_training,
)
from sentiflow.report.figures import (
    BEHAVIOUR,
    FIGURE_NAMES,
    cascade_stem,
    latex_figure,
    plot_file,
)
from sentiflow.report.inputs import DatasetInputs

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
    """Input function for `unpack`: the metadata of the wildcard's dataset's `finished_runs`, and their `names`
    tables, which the job reads through the metadata's folder: listed so the DAG knows about them.
    """
    return lambda wildcards: {
        "metadata": finished_runs(wildcards.dataset, "metadata"),
        "tables": finished_runs(wildcards.dataset, *names),
    }


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


def slices_outputs():
    """The slices rule's outputs for every dataset (none when it is off)."""
    if not config["analysis"]["slices"]["enabled"]:
        return []
    return expand(rules.slices.output, dataset=DATASETS)


def slices_report_files(dataset):
    """The slices rule's files of `dataset` for the report, or None when the rule is off."""
    if not config["analysis"]["slices"]["enabled"]:
        return None
    return {
        key: getattr(rules.slices.output, key).format(dataset=dataset)
        for key in ("table", "summary")
    }


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


def llm_outputs():
    if not config["llm"]["enabled"]:
        return []
    wanted = []
    for dataset in DATASETS:
        for entry in dataset_llm_models(config, dataset):
            wanted += expand(rules.llm_compare.output, dataset=dataset, llm=entry)
            if entry in witness_keys(dataset):
                wanted += expand(rules.llm_witness.output, dataset=dataset, llm=entry)
            if config["llm"]["cascade"]["enabled"]:
                wanted += expand(rules.cascade.output, dataset=dataset, llm=entry)
    return wanted


def behaviour_on(dataset):
    """Whether `dataset` has a behavioural suite: the stage on, the dataset's part on, a test selected."""
    return bool(dataset_tests(config, dataset))


def behaviour_groups(dataset):
    """(backbone, variant) of every run group of `dataset`: each answers the suite."""
    return [
        (backbone, variant)
        for backbone in dataset_backbones(config, dataset)
        for variant in dataset_variants(config, dataset)
    ]


def behaviour_llm_keys(dataset):
    """The LLM entries whose answers the behavioural statistics read; with analysis.allow_partial, those whose
    answers (and cascade, when it is on) exist, so that an entry that failed leaves the rest to be reported.
    """
    entries = llm_entries(dataset)
    if not config["analysis"]["allow_partial"]:
        return entries
    wanted = [rules.behaviour_llm.output.table]
    if config["llm"]["cascade"]["enabled"]:
        wanted.append(rules.cascade.output.summary)
    return [
        e
        for e in entries
        if all(os.path.exists(p.format(dataset=dataset, llm=e)) for p in wanted)
    ]


def behaviour_summary_inputs(wildcards):
    """The suite, every run group's and LLM entry's scores, and each entry's cascade when the cascade is enabled."""
    dataset, entries = wildcards.dataset, behaviour_llm_keys(wildcards.dataset)
    cascades = config["llm"]["cascade"]["enabled"]
    return {
        "suite": rules.behaviour_suite.output.suite.format(dataset=dataset),
        "encoders": [
            rules.behaviour_encoder.output[0].format(
                dataset=dataset, backbone=backbone, variant=variant
            )
            for backbone, variant in behaviour_groups(dataset)
        ],
        "llm": [
            rules.behaviour_llm.output.table.format(dataset=dataset, llm=entry)
            for entry in entries
        ],
        "cascades": [
            rules.cascade.output.summary.format(dataset=dataset, llm=entry)
            for entry in entries
            if cascades
        ],
    }


def behaviour_report_files(dataset):
    """The behaviour_summary outputs the report reads; None when the stage is off (the section is left out)."""
    if not behaviour_on(dataset):
        return None
    outputs = rules.behaviour_summary.output
    keys = ("failure_rates", "comparisons", "association", "failing_cases", "summary")
    return {key: getattr(outputs, key).format(dataset=dataset) for key in keys} | {
        "png": outputs.png.format(dataset=dataset),
        "pdf": outputs.pdf.format(dataset=dataset),
    }


# The report's LaTeX document; the figures it includes are copied beside it.
REPORT_LATEX = "results/report/latex"


def report_files():
    """Per dataset, in the order of `datasets:`, every file the report reads, named by what it is: the mapping
    that sentiflow.report.inputs.DatasetInputs takes. The report rule passes it whole and lists every path in
    it as an input, so that the DAG and reruns see them."""
    return [dataset_report_files(dataset) for dataset in DATASETS]


def dataset_report_files(dataset):
    """One dataset's files for the report: one each of the analysis, per backbone, per figure, per run, per
    attributed run group and per finished LLM entry."""
    one_each = {
        "summary": rules.aggregate.output.summary_json,
        "per_class": rules.aggregate.output.per_class,
        "data_card": rules.prepare_data.output.card,
        "calibration": rules.calibration.output.table,
        "misclassified": rules.misclassified.output.combined,
        "overconfidence": rules.misclassified.output.overconfidence,
        "failure_modes": rules.misclassified.output.failure_modes,
        "shortcut_words": rules.misclassified.output.shortcut_words,
        "word_groups": rules.misclassified.output.word_groups,
        "label_issues": rules.label_issues.output.table,
        "label_summary": rules.label_issues.output.summary,
        "why": rules.misclassified.output.why,
    }
    attribution = rules.attribute.output
    return (
        {"name": dataset}
        | {key: pattern.format(dataset=dataset) for key, pattern in one_each.items()}
        | {
            "token_stats": {
                backbone: rules.tokenize.output.stats.format(
                    dataset=dataset, backbone=backbone
                )
                for backbone in dataset_backbones(config, dataset)
            },
            # Written by the plot rules (plot_curves, plot_reliability, plot_confusion).
            "figures": {
                name: {kind: plot_file(dataset, name, kind) for kind in ("png", "pdf")}
                for name in FIGURE_NAMES
            },
            "runs": finished_runs(dataset, "metadata"),
            "attribution": [
                {
                    key: getattr(attribution, key).format(
                        dataset=dataset, backbone=backbone, variant=variant
                    )
                    for key in ("summary", "words", "sentences", "deletion")
                }
                for backbone, variant in attributed_groups(dataset)
            ],
            "llm": {
                entry: llm_report_files(dataset, entry) for entry in llm_keys(dataset)
            },
            "slices": slices_report_files(dataset),
            "behaviour": behaviour_report_files(dataset),
        }
    )


def llm_report_files(dataset, entry):
    """An LLM entry's comparison on `dataset`, and its cascade when the cascade is enabled."""
    files = {
        "summary": rules.llm_compare.output.summary,
        "table": rules.llm_compare.output.table,
    }
    if config["llm"]["cascade"]["enabled"]:
        files |= {
            "cascade_summary": rules.cascade.output.summary,
            "cascade_png": rules.cascade.output.png,
            "cascade_pdf": rules.cascade.output.pdf,
        }
    return {
        key: pattern.format(dataset=dataset, llm=entry)
        for key, pattern in files.items()
    }


def report_inputs(wildcards):
    """Every path of `report_files`, as the report rule's inputs."""
    return [
        str(path)
        for files in report_files()
        for path in DatasetInputs.from_dict(files).paths()
    ]


def report_files_of(wildcards):
    """Params function: `report_files`, evaluated with the inputs (after finished runs are known)."""
    return report_files()


def report_latex_figures():
    """The figure PDFs the LaTeX report includes, beside it: every dataset's plots, the cascade of every
    finished LLM entry when the cascade is enabled, and the behavioural tests' figure where they run.
    """
    cascade = config["llm"]["cascade"]["enabled"]
    return [
        f"{REPORT_LATEX}/{latex_figure(dataset, stem)}"
        for dataset in DATASETS
        for stem in [
            *FIGURE_NAMES,
            *(cascade_stem(entry) for entry in llm_keys(dataset) if cascade),
            *([BEHAVIOUR] if behaviour_on(dataset) else []),
        ]
    ]


def report_settings():
    """What the report shows or reads of the configuration, and nothing else: another setting reruns the report
    only through the files it changes."""
    analysis = config["analysis"]
    return canonical(
        {
            key: config["report"][key]
            for key in ("title", "top_errors", "attributed_errors", "failing_cases")
        }
        | {
            "shortcut_words": analysis["shortcuts"]["top_words"],
            # The captions name the method, the resamples and the confidence level.
            "bootstrap": {
                key: analysis["bootstrap"][key]
                for key in ("method", "samples", "confidence")
            },
            # The setup tables show every training setting and what every variant changes, in the configured order.
            "training": config["training"],
            "variants": [
                [name, changes] for name, changes in config["variants"].items()
            ],
            "llm_enabled": config["llm"]["enabled"],
            # The switches that leave a part out: the report says which did.
            "stages": {
                "attribution": analysis["attribution"]["enabled"],
                "attribution_variants": analysis["attribution"]["variants"],
                "label_issues": analysis["label_issues"]["enabled"],
                "behaviour": config["behaviour"]["enabled"],
            },
            "datasets": {
                dataset: report_dataset_settings(dataset) for dataset in DATASETS
            },
        }
    )


def report_dataset_settings(dataset):
    """The study's reference numbers, the subsample and holdout sizes the section names, its LLM entries, and its
    witnesses and behavioural tests as configured (the report says why a part is absent).
    """
    settings = config["datasets"][dataset]
    shown = ("reference", "max_train_rows", "holdout_rows", "label_witnesses")
    return {key: settings[key] for key in shown if key in settings} | {
        "llm_models": llm_entries(dataset),
        "behaviour_enabled": (settings.get("behaviour") or {}).get("enabled", True),
        "behaviour_tests": list(dataset_tests(config, dataset)),
    }


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


def behaviour_datasets():
    """The datasets with a behavioural suite."""
    return [dataset for dataset in DATASETS if behaviour_on(dataset)]


def behaviour_slots(tests):
    """The lexicon slots `tests` read, so that editing another slot's words reruns nothing."""
    # The shortcut test also reads the lists that mark a word as polar (sentiflow.behaviour.sentiment_words).
    slots = (
        {"structural_words", "pos_adj", "neg_adj", "review_polar_words"}
        if any(t["generator"] == "shortcut_words" for t in tests)
        else set()
    )
    for test in tests:
        slots |= set(test["slots"])
        slots |= {
            slot
            for template in test["templates"]
            for slot, _ in PLACEHOLDER.findall(template)
        }
    return slots


def behaviour_settings(wildcards):
    """Params of behaviour_suite: the dataset's tests in suite order, its labels' polarity, the lexicons they read."""
    tests = dataset_tests(config, wildcards.dataset)
    behaviour = config["behaviour"]
    slots = behaviour_slots(list(tests.values()))
    return {
        "tests": [[name, canonical(spec)] for name, spec in tests.items()],
        "labels": config["datasets"][wildcards.dataset]["labels"],
        "polarity": canonical(label_polarity(config, wildcards.dataset)),
        "lexicons": canonical(
            {
                slot: words
                for slot, words in behaviour["lexicons"].items()
                if slot in slots
            }
        ),
        "seed": behaviour["seed"],
        "max_cases": behaviour["max_cases"],
    }


def behaviour_outputs():
    """The suite, every run group's and every LLM entry's answers and their statistics, for each dataset with a suite."""
    wanted = []
    for dataset in behaviour_datasets():
        wanted.append(rules.behaviour_suite.output.suite.format(dataset=dataset))
        wanted += [
            rules.behaviour_encoder.output[0].format(
                dataset=dataset, backbone=backbone, variant=variant
            )
            for backbone in dataset_backbones(config, dataset)
            for variant in dataset_variants(config, dataset)
        ]
        for entry in llm_entries(dataset):
            wanted += expand(rules.behaviour_llm.output, dataset=dataset, llm=entry)
        wanted += expand(rules.behaviour_summary.output, dataset=dataset)
    return wanted
