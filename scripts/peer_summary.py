from sentiflow.behaviour.peer_summary import run_peer_summary
from sentiflow.behaviour.summary import EncoderFiles, LLMFiles
from sentiflow.logs import log_to

with log_to(snakemake.log[0]):
    params, inputs = snakemake.params, snakemake.input
    encoders = [EncoderFiles(*names, path) for names, path in zip(params.encoders, inputs.encoders)]
    # One cascade summary per LLM entry, or none when the cascade is off.
    cascades = list(inputs.cascades) or [None] * len(params.llms)
    llms = [LLMFiles(name, path, cascade) for name, path, cascade in zip(params.llms, inputs.llm, cascades)]
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
