from sentiflow.config import canonical


# Its helpers, in a file of their own: Snakemake's linter keeps functions and rules apart.
include: "errors_helpers.smk"


# Misclassified validation sentences, rule-based cue tags, lexical shortcuts, mixed tone, label issues,
# failure-mode rates and over-confidence.
rule misclassified:
    input:
        unpack(scored_runs),
        validation=rules.prepare_data.output.validation,
        # Lexical shortcuts are words of the training split alone.
        train=rules.prepare_data.output.train,
    output:
        combined=report(
            "results/{dataset}/analysis/misclassified.csv",
            caption="../report/misclassified.rst",
            category="Errors",
            subcategory="{dataset}",
        ),
        cues="results/{dataset}/analysis/cues.csv",
        failure_modes=report(
            "results/{dataset}/analysis/failure_modes.csv",
            caption="../report/failure_modes.rst",
            category="Errors",
            subcategory="{dataset}",
        ),
        overconfidence="results/{dataset}/analysis/overconfidence.json",
        shortcut_words=report(
            "results/{dataset}/analysis/shortcut_words.csv",
            caption="../report/shortcut_words.rst",
            category="Errors",
            subcategory="{dataset}",
        ),
        word_groups="results/{dataset}/analysis/word_groups.csv",
        why="results/{dataset}/analysis/why.json",
    log:
        "logs/{dataset}/misclassified.log",
    conda:
        "../envs/sentiflow.yaml"
    params:
        expected=expected_runs_of_dataset,
        labels=dataset_setting("labels"),
        allow_partial=config["analysis"]["allow_partial"],
        # The failure modes' intervals are computed, not resampled: the level alone.
        confidence=config["analysis"]["bootstrap"]["confidence"],
        cues=canonical(config["analysis"]["cues"]),
        overconfidence_threshold=config["analysis"]["overconfidence_threshold"],
        # top_words is how many the report lists.
        shortcuts=without(config["analysis"]["shortcuts"], "top_words"),
        mixed_polarity=canonical(config["analysis"]["mixed_polarity"]),
    script:
        "../../scripts/misclassified.py"


# Label issues: cleanlab's candidates on the encoders' seed-mean probabilities, judged by the dataset's good-enough LLM
# witnesses: confirmed where the estimated probability that the gold label is wrong, from the witnesses' measured
# rates and the candidates' base rate, reaches min_precision, disputed below; the detection measured on injected flips.
rule label_issues:
    input:
        unpack(scored_runs),
        validation=rules.prepare_data.output.validation,
        witnesses=witness_tables,
    output:
        table=report(
            "results/{dataset}/analysis/label_issues.csv",
            caption="../report/label_issues.rst",
            category="Errors",
            subcategory="{dataset}",
        ),
        summary="results/{dataset}/analysis/label_issues.json",
    log:
        "logs/{dataset}/label_issues.log",
    conda:
        "../envs/sentiflow.yaml"
    params:
        expected=expected_runs_of_dataset,
        labels=dataset_setting("labels"),
        allow_partial=config["analysis"]["allow_partial"],
        # The entries whose tables arrive, in the order of `witnesses`.
        witnesses=lambda wildcards: witness_keys(wildcards.dataset),
        settings=canonical(config["analysis"]["label_issues"]),
        confidence=config["analysis"]["bootstrap"]["confidence"],
    script:
        "../../scripts/label_issues.py"


# Where errors concentrate, found rather than guessed: per run group, a shallow decision tree over the sentences'
# features (cues.csv, lengths) predicts the seed-majority error, cross-fitted so that every slice's error rate is
# measured on sentences its tree never saw.
rule slices:
    input:
        unpack(scored_runs),
        cues=rules.misclassified.output.cues,
        # One more feature: each witness LLM's answer where it read every sentence. No confirmed label issue: its
        # candidates are the encoders' confident errors, the outcome itself (src/sentiflow/errors/slices.py).
        witnesses=witness_tables,
    output:
        table=report(
            "results/{dataset}/analysis/slices.csv",
            caption="../report/slices.rst",
            category="Errors",
            subcategory="{dataset}",
        ),
        summary="results/{dataset}/analysis/slices.json",
    log:
        "logs/{dataset}/slices.log",
    conda:
        "../envs/sentiflow.yaml"
    params:
        expected=expected_runs_of_dataset,
        allow_partial=config["analysis"]["allow_partial"],
        # enabled chooses whether the rule runs (slices_outputs), not what it computes.
        settings=without(config["analysis"]["slices"], "enabled"),
        confidence=config["analysis"]["bootstrap"]["confidence"],
        # The cue families' names: cues.csv's columns to read.
        families=list(config["analysis"]["cues"]),
        witnesses=lambda wildcards: witness_keys(wildcards.dataset),
    script:
        "../../scripts/slices.py"


# The words behind one run group's errors: Integrated Gradients with each seed's published checkpoint, a deletion
# test of the attributions, and how often an error's top word is a lexical shortcut. Holds the gpu like training.
rule attribute:
    input:
        metadata=group_runs("metadata"),
        # Read through the metadata's folder; listed so the DAG knows about them.
        models=group_runs("model", "predictions"),
        validation=rules.prepare_data.output.validation,
        shortcut_words=rules.misclassified.output.shortcut_words,
        # Its max_length and segment ids: texts are tokenized as training tokenized them.
        tokens=rules.tokenize.output.stats,
    output:
        words="results/{dataset}/analysis/attribution/{backbone}/{variant}/attributions.parquet",
        sentences="results/{dataset}/analysis/attribution/{backbone}/{variant}/sentences.csv",
        deletion=report(
            "results/{dataset}/analysis/attribution/{backbone}/{variant}/deletion.csv",
            caption="../report/deletion.rst",
            category="Errors",
            subcategory="{dataset}",
            labels={"run group": "{backbone} {variant}", "table": "deletion test"},
        ),
        summary="results/{dataset}/analysis/attribution/{backbone}/{variant}/attribution.json",
    log:
        "logs/{dataset}/attribute/{backbone}/{variant}.log",
    benchmark:
        "benchmarks/{dataset}/attribute/{backbone}/{variant}.tsv"
    conda:
        "../envs/sentiflow.yaml"
    threads: config["training"]["threads"]
    resources:
        gpu=config["training"]["gpus_per_run"],
    params:
        expected=expected_runs_of_group,
        labels=dataset_setting("labels"),
        # enabled and variants choose which run groups have a job (attribution_outputs), not what a job computes.
        settings=without(config["analysis"]["attribution"], "enabled", "variants"),
        bootstrap=canonical(config["analysis"]["bootstrap"]),
        allow_partial=config["analysis"]["allow_partial"],
    script:
        "../../scripts/attribute.py"
