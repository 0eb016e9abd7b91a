from sentiflow.config import run_label
from sentiflow.report.figures import BEHAVIOUR, plot_file


# Its helpers, in a file of their own: Snakemake's linter keeps functions and rules apart.
include: "behaviour_helpers.smk"


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
        # Its max_length and segment ids: texts are tokenized as training tokenized them.
        tokens=rules.tokenize.output.stats,
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
        entry=llm_entry,
        prompt=llm_entry_prompt,
        cache=config["llm"]["cache"],
        labels=dataset_setting("labels"),
        selection={k: config["behaviour"][k] for k in ("llm_cases", "seed")},
    script:
        "../../scripts/behaviour_llm.py"


# Per dataset: every model's failure rates on the behavioural suite with intervals over seeds and clusters, paired
# comparisons, the cascade applied to the suite, the failure modes' association beside the tests, failing cases.
rule behaviour_summary:
    input:
        unpack(behaviour_summary_inputs),
        failure_modes=rules.misclassified.output.failure_modes,
        aggregate=rules.aggregate.output.summary_json,
    output:
        failure_rates=report(
            "results/{dataset}/behaviour/failure_rates.csv",
            caption="../report/behaviour_failure_rates.rst",
            category="Behaviour",
            subcategory="{dataset}",
            labels={"table": "failure rates"},
        ),
        comparisons=report(
            "results/{dataset}/behaviour/comparisons.csv",
            caption="../report/behaviour_comparisons.rst",
            category="Behaviour",
            subcategory="{dataset}",
            labels={"table": "comparisons"},
        ),
        association=report(
            "results/{dataset}/behaviour/association.csv",
            caption="../report/behaviour_association.rst",
            category="Behaviour",
            subcategory="{dataset}",
            labels={"table": "association"},
        ),
        failing_cases=report(
            "results/{dataset}/behaviour/failing_cases.csv",
            caption="../report/behaviour_failing_cases.rst",
            category="Behaviour",
            subcategory="{dataset}",
            labels={"table": "failing cases"},
        ),
        summary="results/{dataset}/behaviour/summary.json",
        png=report(
            plot_file("{dataset}", BEHAVIOUR, "png"),
            caption="../report/behaviour_figure.rst",
            category="Figures",
            subcategory="{dataset}",
            labels={"figure": "behaviour"},
        ),
        pdf=plot_file("{dataset}", BEHAVIOUR, "pdf"),
    log:
        "logs/{dataset}/behaviour_summary.log",
    conda:
        "../envs/sentiflow.yaml"
    params:
        labels=dataset_setting("labels"),
        # [backbone, variant, run label] per scored run group, in the order of input.encoders.
        encoders=lambda wildcards: [
            [backbone, variant, run_label(backbone, variant)]
            for backbone, variant in behaviour_groups(wildcards.dataset)
        ],
        llms=lambda wildcards: behaviour_llm_keys(wildcards.dataset),
        # How an MFT answer is read as a polarity: the labels' polarity and a binary model's neutral band.
        polarity=lambda wildcards: canonical(label_polarity(config, wildcards.dataset)),
        neutral_band=config["behaviour"]["neutral_band"],
        # The intervals' level; they are computed, not resampled (sentiflow.behaviour.statistics).
        confidence=config["analysis"]["bootstrap"]["confidence"],
    script:
        "../../scripts/behaviour_summary.py"


# Per peer's suite (behaviour.suites): its file read and checked line by line, and CheckList's seeded draw of cases
# per test (sentiflow.behaviour.peer_suite), shared by every dataset that answers it.
rule peer_suite:
    input:
        suite=peer_suite_file,
    output:
        cases="results/suites/{suite}/cases.jsonl",
        summary="results/suites/{suite}/draw.json",
    log:
        "logs/suites/{suite}.log",
    conda:
        "../envs/sentiflow.yaml"
    params:
        draw=peer_suite_draw,
    script:
        "../../scripts/peer_suite.py"


# One run group's answers to a peer's suite, as behaviour_encoder answers our own. Holds the gpu like training.
rule peer_encoder:
    input:
        metadata=group_runs("metadata"),
        # Read through the metadata's folder; listed so the DAG knows about them.
        models=group_runs("model"),
        suite=rules.peer_suite.output.cases,
        # Its max_length and segment ids: texts are tokenized as training tokenized them.
        tokens=rules.tokenize.output.stats,
    output:
        "results/{dataset}/suites/{suite}/encoders/{backbone}/{variant}.parquet",
    log:
        "logs/{dataset}/peer_encoder/{suite}/{backbone}/{variant}.log",
    benchmark:
        "benchmarks/{dataset}/peer_encoder/{suite}/{backbone}/{variant}.tsv"
    conda:
        "../envs/sentiflow.yaml"
    threads: config["training"]["threads"]
    resources:
        gpu=config["training"]["gpus_per_run"],
    params:
        expected=expected_runs_of_group,
        labels=dataset_setting("labels"),
        allow_partial=config["analysis"]["allow_partial"],
    script:
        "../../scripts/behaviour_encoder.py"


# One LLM entry's answers on a bounded draw of a peer's suite, stratified over its tests, through the score cache.
rule peer_llm:
    input:
        unpack(llm_model_file),
        suite=rules.peer_suite.output.cases,
        # The prompt's few-shot examples come from train, as in llm_compare.
        train=rules.prepare_data.output.train,
    output:
        table="results/{dataset}/suites/{suite}/llm/{llm}.parquet",
        summary="results/{dataset}/suites/{suite}/llm/{llm}.json",
    log:
        "logs/{dataset}/peer_llm/{suite}/{llm}.log",
    benchmark:
        "benchmarks/{dataset}/peer_llm/{suite}/{llm}.tsv"
    conda:
        "../envs/sentiflow.yaml"
    threads: llm_threads
    params:
        # The same prompt as llm_compare; the entry's threads place the job.
        entry=llm_entry,
        prompt=llm_entry_prompt,
        cache=config["llm"]["cache"],
        labels=dataset_setting("labels"),
        selection=peer_llm_selection,
    script:
        "../../scripts/behaviour_llm.py"


# Per dataset and peer's suite: every model's failure rate per test by CheckList's rules, with intervals over seeds
# and cases; the failing cases; the draw and the reading of answers the report states.
rule peer_summary:
    input:
        unpack(peer_summary_inputs),
        aggregate=rules.aggregate.output.summary_json,
    output:
        failure_rates=report(
            "results/{dataset}/suites/{suite}/failure_rates.csv",
            caption="../report/peer_failure_rates.rst",
            category="Behaviour",
            subcategory="{dataset}",
            labels={"table": "{suite} failure rates"},
        ),
        failing_cases=report(
            "results/{dataset}/suites/{suite}/failing_cases.csv",
            caption="../report/peer_failing_cases.rst",
            category="Behaviour",
            subcategory="{dataset}",
            labels={"table": "{suite} failing cases"},
        ),
        summary="results/{dataset}/suites/{suite}/summary.json",
    log:
        "logs/{dataset}/peer_summary/{suite}.log",
    conda:
        "../envs/sentiflow.yaml"
    params:
        labels=dataset_setting("labels"),
        # [backbone, variant, run label] per scored run group, in the order of input.encoders.
        encoders=lambda wildcards: [
            [backbone, variant, run_label(backbone, variant)]
            for backbone, variant in behaviour_groups(wildcards.dataset)
        ],
        llms=lambda wildcards: peer_llm_keys(wildcards.dataset, wildcards.suite),
        # How an answer is read as negative, neutral or positive: the labels' polarity, a binary model's band.
        polarity=lambda wildcards: canonical(label_polarity(config, wildcards.dataset)),
        neutral_band=config["behaviour"]["neutral_band"],
        inv_tolerance=lambda wildcards: suite_spec(wildcards)["inv_tolerance"],
        # The intervals' level; they are computed, not resampled (sentiflow.behaviour.statistics).
        confidence=config["analysis"]["bootstrap"]["confidence"],
    script:
        "../../scripts/peer_summary.py"
