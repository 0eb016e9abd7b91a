from sentiflow.behaviour.peer_suite import make_draw
from sentiflow.logs import log_to

with log_to(snakemake.log[0]):
    draw = snakemake.params.draw
    make_draw(snakemake.input.suite, draw["cases"], draw["seed"], snakemake.output)
