from sentiflow.behaviour.peer_summary import run_peer_summary
from sentiflow.behaviour.summary import model_files
from sentiflow.logs import log_to

with log_to(snakemake.log[0]):
    params, inputs = snakemake.params, snakemake.input
    encoders, llms = model_files(params, inputs)
    run_peer_summary(
        inputs.cases,
        inputs.draw,
        encoders,
        llms,
        inputs.aggregate,
        params.labels,
        params.polarity,
        params.neutral_band,
        params.inv_tolerance,
        params.confidence,
        snakemake.output,
    )
