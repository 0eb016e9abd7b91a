import os
import re

# Jobs import the library from this checkout (local, --use-conda or cluster jobs alike), never from a
# stale copy installed elsewhere.
os.environ.update(
    PYTHONPATH=os.pathsep.join(
        filter(
            None, [str(Path(workflow.basedir) / "src"), os.environ.get("PYTHONPATH")]
        )
    )
)

BACKBONES = list(config["backbones"])
SEEDS = [int(seed) for seed in config["seeds"]]


wildcard_constraints:
    backbone="|".join(re.escape(name) for name in BACKBONES),
    seed=r"\d+",


def run_outputs(name):
    """One output of the train rule for every configured backbone and seed."""
    return expand(getattr(rules.train.output, name), backbone=BACKBONES, seed=SEEDS)


def dataset_files(wildcards):
    """Local input files, so that editing them reruns data preparation; none for the hub."""
    dataset = config["dataset"]
    if dataset["source"] != "files":
        return {}
    return {split: dataset["files"][split] for split in ("train", "validation")}


def backbone_model(wildcards):
    return config["backbones"][wildcards.backbone]["model"]


EXPECTED_RUNS = [[backbone, seed] for backbone in BACKBONES for seed in SEEDS]


def analysed_runs(*names):
    """Input function: the named outputs of every run; with analysis.allow_partial, of the finished runs only."""

    def paths(wildcards):
        wanted = [path for name in names for path in run_outputs(name)]
        if not config["analysis"]["allow_partial"]:
            return wanted
        finished = {
            os.path.dirname(p) for p in run_outputs("metadata") if os.path.exists(p)
        }
        return [path for path in wanted if os.path.dirname(path) in finished]

    return paths
