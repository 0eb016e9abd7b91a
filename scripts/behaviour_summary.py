from sentiflow.behaviour.summary import EncoderFiles, LLMFiles, run_summary
from sentiflow.logs import log_to

with log_to(snakemake.log[0]):
    params, inputs = snakemake.params, snakemake.input
    encoders = [EncoderFiles(*names, path) for names, path in zip(params.encoders, inputs.encoders)]
    # One cascade summary per LLM entry, or none when the cascade is off.
    cascades = list(inputs.cascades) or [None] * len(params.llms)
    llms = [LLMFiles(name, path, cascade) for name, path, cascade in zip(params.llms, inputs.llm, cascades)]
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
