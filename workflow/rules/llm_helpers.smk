# The LLM stage's helpers (workflow/rules/llm.smk includes them): an entry's model file and threads, the
# entries asked per dataset, the outputs `all` asks for, the files the report reads.
import os

from sentiflow.config import canonical, dataset_llm_models, llm_prompt


def llm_model_file(wildcards):
    """A local GGUF file is an input, so replacing it reruns the comparison; a hub file is fetched by the job."""
    path = config["llm"]["models"][wildcards.llm]["path"]
    return {"gguf": path} if path else {}


def llm_threads(wildcards):
    return config["llm"]["models"][wildcards.llm]["threads"] or config["llm"]["threads"]


def llm_entry(wildcards):
    """Params: the wildcard's LLM entry; its prompt keys arrive in `llm_entry_prompt`, its threads place the job."""
    return without(config["llm"]["models"][wildcards.llm], "prompt", "threads")


def llm_entry_prompt(wildcards):
    """Params: the entry's prompt on the wildcard's dataset (its keys over llm.prompt's, under the dataset's)."""
    return canonical(llm_prompt(config, wildcards.dataset, wildcards.llm))


def llm_entries(dataset):
    return dataset_llm_models(config, dataset) if config["llm"]["enabled"] else []


def llm_keys(dataset):
    """The LLM entries asked on `dataset`; with analysis.allow_partial, those whose comparison has finished."""
    entries = llm_entries(dataset)
    if not config["analysis"]["allow_partial"]:
        return entries
    return [
        entry
        for entry in entries
        if os.path.exists(
            rules.llm_compare.output.summary.format(dataset=dataset, llm=entry)
        )
    ]


def llm_outputs():
    if not config["llm"]["enabled"]:
        return []
    wanted = []
    for dataset in DATASETS:
        for entry in dataset_llm_models(config, dataset):
            wanted += expand(rules.llm_compare.output, dataset=dataset, llm=entry)
            if entry in witness_keys(dataset):
                wanted += expand(rules.llm_witness.output, dataset=dataset, llm=entry)
            if config["llm"]["cascade"]["enabled"]:
                wanted += expand(rules.cascade.output, dataset=dataset, llm=entry)
    return wanted


@report_section("llm")
def llm_section_files(dataset):
    """Every finished LLM entry's files on `dataset` for the report, by entry."""
    return {entry: llm_report_files(dataset, entry) for entry in llm_keys(dataset)}


def llm_report_files(dataset, entry):
    """An LLM entry's comparison on `dataset`, and its cascade when the cascade is enabled."""
    files = {
        "summary": rules.llm_compare.output.summary,
        "table": rules.llm_compare.output.table,
    }
    if config["llm"]["cascade"]["enabled"]:
        files |= {
            "cascade_summary": rules.cascade.output.summary,
            "cascade_png": rules.cascade.output.png,
            "cascade_pdf": rules.cascade.output.pdf,
        }
    return {
        key: pattern.format(dataset=dataset, llm=entry)
        for key, pattern in files.items()
    }
