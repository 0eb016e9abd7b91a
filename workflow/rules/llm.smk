from sentiflow.config import canonical, dataset_llm_tags


# Its helpers, in a file of their own: Snakemake's linter keeps functions and rules apart.
include: "llm_helpers.smk"


# Per dataset and LLM entry: ask a local quantized instruction LLM (llama.cpp) about the encoders' errors, a matched
# control set and the cascade's validation sentences; scores come from a cache shared by every job.
rule llm_compare:
    input:
        unpack(llm_model_file),
        unpack(scored_runs),
        validation=rules.prepare_data.output.validation,
        train=rules.prepare_data.output.train,
        cues=rules.misclassified.output.cues,
    output:
        table=report(
            "results/{dataset}/llm/{llm}/predictions.csv",
            caption="../report/llm.rst",
            category="LLM",
            subcategory="{dataset}",
            labels={"model": "{llm}", "table": "predictions"},
        ),
        summary="results/{dataset}/llm/{llm}/summary.json",
    log:
        "logs/{dataset}/llm_compare/{llm}.log",
    benchmark:
        "benchmarks/{dataset}/llm_compare/{llm}.tsv"
    conda:
        "../envs/sentiflow.yaml"
    threads: llm_threads
    params:
        # The entry less its prompt keys (in `prompt`) and threads (they place the job).
        entry=llm_entry,
        prompt=llm_entry_prompt,
        selection=canonical(config["llm"]["items"]),
        # Which sentences the cascade studies; its folds are the cascade rule's business.
        sample={
            k: config["llm"]["cascade"][k] for k in ("enabled", "sentences", "seed")
        },
        cache=config["llm"]["cache"],
        # Yes/no questions (sarcasm, ...) asked about the errors and the control set, as the dataset selects them.
        tags=lambda wildcards: canonical(dataset_llm_tags(config, wildcards.dataset)),
        labels=dataset_setting("labels"),
        expected=expected_runs_of_dataset,
        allow_partial=config["analysis"]["allow_partial"],
        # The intervals of the tag rates.
        bootstrap=canonical(config["analysis"]["bootstrap"]),
    script:
        "../../scripts/llm_compare.py"


# Per dataset and witness entry: the LLM's label probabilities on the validation sentences whose labels the
# label_issues rule judges, through llm_compare's prompt and score cache.
rule llm_witness:
    input:
        unpack(llm_model_file),
        validation=rules.prepare_data.output.validation,
        train=rules.prepare_data.output.train,
    output:
        table="results/{dataset}/llm/{llm}/witness.csv",
    log:
        "logs/{dataset}/llm_witness/{llm}.log",
    benchmark:
        "benchmarks/{dataset}/llm_witness/{llm}.tsv"
    conda:
        "../envs/sentiflow.yaml"
    threads: llm_threads
    params:
        entry=llm_entry,
        prompt=llm_entry_prompt,
        sample={
            k: config["analysis"]["label_issues"][k]
            for k in ("witness_sentences", "seed")
        },
        cache=config["llm"]["cache"],
        labels=dataset_setting("labels"),
    script:
        "../../scripts/llm_witness.py"


# Per dataset and LLM entry: accuracy against the share of sentences sent to the LLM, and fitted operating points.
rule cascade:
    input:
        unpack(scored_runs),
        llm=rules.llm_compare.output.table,
    output:
        curves="results/{dataset}/llm/{llm}/cascade_curves.csv",
        points=report(
            "results/{dataset}/llm/{llm}/cascade.csv",
            caption="../report/cascade.rst",
            category="LLM",
            subcategory="{dataset}",
            labels={"model": "{llm}", "table": "cascade"},
        ),
        summary="results/{dataset}/llm/{llm}/cascade.json",
        png=report(
            "results/{dataset}/llm/{llm}/cascade.png",
            caption="../report/cascade_figure.rst",
            category="Figures",
            subcategory="{dataset}",
            labels={"figure": "cascade", "model": "{llm}"},
        ),
        pdf="results/{dataset}/llm/{llm}/cascade.pdf",
    log:
        "logs/{dataset}/cascade/{llm}.log",
    conda:
        "../envs/sentiflow.yaml"
    params:
        settings=canonical(config["llm"]["cascade"]),
        labels=dataset_setting("labels"),
        expected=expected_runs_of_dataset,
        allow_partial=config["analysis"]["allow_partial"],
        bootstrap=canonical(config["analysis"]["bootstrap"]),
    script:
        "../../scripts/cascade.py"
