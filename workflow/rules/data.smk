# Validate the configured splits and write them as canonical Parquet plus a data card.
rule prepare_data:
    input:
        unpack(dataset_files),
    output:
        train="results/data/train.parquet",
        validation="results/data/validation.parquet",
        holdout="results/data/holdout.parquet",
        card="results/data/data_card.json",
    log:
        "logs/prepare_data.log",
    conda:
        "../envs/sentiflow.yaml"
    params:
        dataset=config["dataset"],
    script:
        "../../scripts/prepare_data.py"


# Tokenize every split once per backbone; training reads only these token ids.
rule tokenize:
    input:
        train=rules.prepare_data.output.train,
        validation=rules.prepare_data.output.validation,
        holdout=rules.prepare_data.output.holdout,
    output:
        tokens="results/tokens/{backbone}.npz",
        stats="results/tokens/{backbone}.json",
    log:
        "logs/tokenize/{backbone}.log",
    conda:
        "../envs/sentiflow.yaml"
    params:
        model=backbone_model,
        max_length=config["training"]["max_length"],
    script:
        "../../scripts/tokenize.py"
