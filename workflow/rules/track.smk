from sentiflow.config import canonical, data_settings


# Its helpers, in a file of their own: Snakemake's linter keeps functions and rules apart.
include: "track_helpers.smk"


# The finished study written into an MLflow tracking store (tracking.enabled). A local rule: the one writer of the
# store, so no two cluster jobs ever write one SQLite file (and none from a compute node on a network file system).
rule export_tracking:
    input:
        unpack(tracking_inputs),
    output:
        "results/tracking/export.json",
    log:
        "logs/export_tracking.log",
    localrule: True
    conda:
        "../envs/tracking.yaml"
    params:
        tracking=canonical(config["tracking"]),
        datasets=lambda wildcards: {
            d: {
                "expected": expected_runs(d),
                "data": data_settings(config["datasets"][d]),
            }
            for d in DATASETS
        },
        allow_partial=config["analysis"]["allow_partial"],
    script:
        "../../scripts/export_tracking.py"
