import os
import re
import shutil

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


def llm_model_file(wildcards):
    """A local GGUF file is an input, so replacing it reruns the comparison; a hub file is fetched by the job."""
    path = config["llm"]["model"]["path"]
    return {"gguf": path} if path else {}


def llm_outputs():
    return rules.llm_compare.output if config["llm"]["enabled"] else []


def report_inputs(wildcards):
    """Every stage output the report renders; the LLM's only when that stage is enabled."""
    inputs = {
        "summary": rules.aggregate.output.summary_json,
        "runs": rules.aggregate.output.runs,
        "data_card": rules.prepare_data.output.card,
        "metadata": analysed_runs("metadata")(wildcards),
        "calibration": rules.calibration.output.table,
        "misclassified": rules.misclassified.output.combined,
        "overconfidence": rules.misclassified.output.overconfidence,
        "failure_modes": rules.misclassified.output.failure_modes,
        "training_loss_png": rules.plot_curves.output.loss_png,
        "training_loss_pdf": rules.plot_curves.output.loss_pdf,
        "validation_curves_png": rules.plot_curves.output.curves_png,
        "validation_curves_pdf": rules.plot_curves.output.curves_pdf,
        "reliability_png": rules.plot_reliability.output.png,
        "reliability_pdf": rules.plot_reliability.output.pdf,
    }
    if config["llm"]["enabled"]:
        inputs |= {
            "llm_summary": rules.llm_compare.output.summary,
            "llm_table": rules.llm_compare.output.table,
        }
    return inputs


def report_outputs():
    """The HTML and LaTeX report, and the PDF when report.pdf asks for it (auto: when pdflatex is installed)."""
    wanted = [rules.report.output.html, rules.report.output.tex]
    pdf = config["report"]["pdf"]
    if pdf is True or (pdf == "auto" and shutil.which("pdflatex")):
        wanted.append(rules.report_pdf.output[0])
    return wanted
