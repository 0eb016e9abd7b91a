# The behavioural tests' helpers (workflow/rules/behaviour.smk includes them): which datasets and run groups
# answer the suite, the suite's settings, the summary's inputs, the outputs `all` asks for, the files the report reads;
# the same for the peers' suites (behaviour.suites).
import os

from sentiflow.config import (
    PLACEHOLDER,
    canonical,
    dataset_backbones,
    dataset_suites,
    dataset_tests,
    dataset_variants,
    label_polarity,
)


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


@report_section("behaviour")
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
    return wanted + peer_outputs()


def suite_spec(wildcards):
    """The wildcard's peer's suite, as `behaviour.suites` configures it."""
    return config["behaviour"]["suites"][wildcards.suite]


def peer_suite_file(wildcards):
    return suite_spec(wildcards)["path"]


def peer_suite_draw(wildcards):
    """Params of peer_suite: the file and the draw (cases per test, seed)."""
    return {key: suite_spec(wildcards)[key] for key in ("path", "cases", "seed")}


def peer_llm_selection(wildcards):
    """Params of peer_llm: how many drawn cases an LLM entry answers, drawn with the suite's seed."""
    return {key: suite_spec(wildcards)[key] for key in ("llm_cases", "seed")}


def peer_llm_keys(dataset, suite):
    """The LLM entries whose answers to `suite` the statistics read; with analysis.allow_partial, those whose answers
    (and cascade, when it is on) exist, as for our own suite."""
    entries = llm_entries(dataset)
    if not config["analysis"]["allow_partial"]:
        return entries
    wanted = [rules.peer_llm.output.table]
    if config["llm"]["cascade"]["enabled"]:
        wanted.append(rules.cascade.output.summary)
    return [
        e
        for e in entries
        if all(
            os.path.exists(p.format(dataset=dataset, suite=suite, llm=e))
            for p in wanted
        )
    ]


def peer_summary_inputs(wildcards):
    """The draw, every run group's and LLM entry's answers, and each entry's cascade when the cascade is enabled."""
    dataset, suite = wildcards.dataset, wildcards.suite
    entries = peer_llm_keys(dataset, suite)
    return {
        "cases": rules.peer_suite.output.cases.format(suite=suite),
        "draw": rules.peer_suite.output.summary.format(suite=suite),
        "encoders": [
            rules.peer_encoder.output[0].format(
                dataset=dataset, suite=suite, backbone=backbone, variant=variant
            )
            for backbone, variant in behaviour_groups(dataset)
        ],
        "llm": [
            rules.peer_llm.output.table.format(dataset=dataset, suite=suite, llm=entry)
            for entry in entries
        ],
        "cascades": [
            rules.cascade.output.summary.format(dataset=dataset, llm=entry)
            for entry in entries
            if config["llm"]["cascade"]["enabled"]
        ],
    }


@report_section("peer_suites")
def peer_suite_report_files(dataset):
    """Per peer's suite the dataset answers, the peer_summary outputs the report reads."""
    outputs = rules.peer_summary.output
    return {
        suite: {
            key: getattr(outputs, key).format(dataset=dataset, suite=suite)
            for key in ("failure_rates", "summary")
        }
        for suite in dataset_suites(config, dataset)
    }


def peer_outputs():
    """Every peer's suite drawn, and each dataset's answers to it and their statistics."""
    wanted = []
    for dataset in DATASETS:
        for suite in dataset_suites(config, dataset):
            wanted += expand(rules.peer_suite.output, suite=suite)
            wanted += [
                rules.peer_encoder.output[0].format(
                    dataset=dataset, suite=suite, backbone=backbone, variant=variant
                )
                for backbone, variant in behaviour_groups(dataset)
            ]
            for entry in llm_entries(dataset):
                wanted += expand(
                    rules.peer_llm.output, dataset=dataset, suite=suite, llm=entry
                )
            wanted += expand(rules.peer_summary.output, dataset=dataset, suite=suite)
    return wanted
