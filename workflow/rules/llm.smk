# Ask a local quantized instruction LLM (llama.cpp) about the encoders' errors and a matched control set.
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
            "results/llm/predictions.csv", caption="../report/llm.rst", category="LLM"
        ),
        summary="results/llm/summary.json",
    log:
        "logs/llm_compare.log",
    benchmark:
        "benchmarks/llm_compare.tsv"
    conda:
        "../envs/sentiflow.yaml"
    threads: config["llm"]["threads"]
    params:
        model=config["llm"]["model"],
        prompt=config["llm"]["prompt"],
        selection=config["llm"]["items"],
        labels=config["dataset"]["labels"],
        expected=EXPECTED_RUNS,
        analysis=config["analysis"],
    script:
        "../../scripts/llm_compare.py"
