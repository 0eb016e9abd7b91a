from sentiflow.behaviour.summary import model_files, run_summary
from sentiflow.logs import log_to

with log_to(snakemake.log[0]):
    params, inputs = snakemake.params, snakemake.input
    encoders, llms = model_files(params, inputs)
    run_summary(
        inputs.suite,
        encoders,
        llms,
        inputs.failure_modes,
        inputs.aggregate,
        params.labels,
        params.confidence,
        snakemake.output,
        polarity=params.polarity,
        band=params.neutral_band,
    )
