# Per dataset: ask a local quantized instruction LLM (llama.cpp) about the encoders' errors and a matched control set.
rule llm_compare:
    input:
        unpack(llm_model_file),
        metadata=analysed_runs("metadata"),
        # Read through the metadata's folder; listed so the DAG knows about them.
        tables=analysed_runs("history", "predictions"),
        validation=rules.prepare_data.output.validation,
        train=rules.prepare_data.output.train,
        cues=rules.misclassified.output.cues,
    output:
        table=report(
            "results/{dataset}/llm/predictions.csv",
            caption="../report/llm.rst",
            category="LLM",
            subcategory="{dataset}",
        ),
        summary="results/{dataset}/llm/summary.json",
    log:
        "logs/{dataset}/llm_compare.log",
    benchmark:
        "benchmarks/{dataset}/llm_compare.tsv"
    conda:
        "../envs/sentiflow.yaml"
    threads: config["llm"]["threads"]
    params:
        model=canonical(config["llm"]["model"]),
        prompt=lambda wildcards: canonical(dataset_prompt(config, wildcards.dataset)),
        selection=canonical(config["llm"]["items"]),
        labels=dataset_setting("labels"),
        expected=expected_runs_of_dataset,
        analysis=canonical(config["analysis"]),
    script:
        "../../scripts/llm_compare.py"
