from sentiflow.config import PLACEHOLDER, dataset_tests, label_polarity


def behaviour_datasets():
    """The datasets with a behavioural suite: the stage on, the dataset's part on, at least one test selected."""
    return [dataset for dataset in DATASETS if dataset_tests(config, dataset)]


def behaviour_slots(tests):
    """The lexicon slots `tests` read, so that editing another slot's words reruns nothing."""
    slots = (
        {"structural_words"}
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
    """The suite, every run group's and every LLM entry's answers, for each dataset with a suite."""
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
    return wanted


# Per dataset: the behavioural tests (CheckList's MFT, INV, DIR) as cases, from templates, the validation split and
# the training split's shortcut words; seeded, so the same config and data give the same file.
rule behaviour_suite:
    input:
        validation=rules.prepare_data.output.validation,
        shortcut_words=rules.misclassified.output.shortcut_words,
    output:
        suite=report(
            "results/{dataset}/behaviour/suite.jsonl",
            caption="../report/behaviour_suite.rst",
            category="Behaviour",
            subcategory="{dataset}",
        ),
    log:
        "logs/{dataset}/behaviour_suite.log",
    conda:
        "../envs/sentiflow.yaml"
    params:
        settings=behaviour_settings,
    script:
        "../../scripts/behaviour_suite.py"


# One run group's answers: every seed's published checkpoint on every text of the suite. Holds the gpu like training.
rule behaviour_encoder:
    input:
        metadata=group_runs("metadata"),
        # Read through the metadata's folder; listed so the DAG knows about them.
        models=group_runs("model"),
        suite=rules.behaviour_suite.output.suite,
    output:
        "results/{dataset}/behaviour/encoders/{backbone}/{variant}.parquet",
    log:
        "logs/{dataset}/behaviour_encoder/{backbone}/{variant}.log",
    benchmark:
        "benchmarks/{dataset}/behaviour_encoder/{backbone}/{variant}.tsv"
    conda:
        "../envs/sentiflow.yaml"
    threads: config["training"]["threads"]
    resources:
        gpu=config["training"]["gpus_per_run"],
    params:
        expected=expected_runs_of_group,
        labels=dataset_setting("labels"),
        max_length=config["training"]["max_length"],
        allow_partial=config["analysis"]["allow_partial"],
    script:
        "../../scripts/behaviour_encoder.py"


# One LLM entry's answers on a bounded, stratified draw of the suite's cases, through the shared score cache.
rule behaviour_llm:
    input:
        unpack(llm_model_file),
        suite=rules.behaviour_suite.output.suite,
        # The prompt's few-shot examples come from train, as in llm_compare.
        train=rules.prepare_data.output.train,
    output:
        table="results/{dataset}/behaviour/llm/{llm}.parquet",
        summary="results/{dataset}/behaviour/llm/{llm}.json",
    log:
        "logs/{dataset}/behaviour_llm/{llm}.log",
    benchmark:
        "benchmarks/{dataset}/behaviour_llm/{llm}.tsv"
    conda:
        "../envs/sentiflow.yaml"
    threads: llm_threads
    params:
        # The same prompt as llm_compare; the entry's threads place the job.
        entry=lambda wildcards: without(
            config["llm"]["models"][wildcards.llm], "prompt", "threads"
        ),
        prompt=lambda wildcards: canonical(
            llm_prompt(config, wildcards.dataset, wildcards.llm)
        ),
        cache=config["llm"]["cache"],
        labels=dataset_setting("labels"),
        selection={k: config["behaviour"][k] for k in ("llm_cases", "seed")},
    script:
        "../../scripts/behaviour_llm.py"
