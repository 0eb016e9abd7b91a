# The data stage's helpers (workflow/rules/data.smk includes them): the local files a dataset reads.


def dataset_files(wildcards):
    """Local input files, so that editing them reruns data preparation; none for the hub."""
    dataset = config["datasets"][wildcards.dataset]
    if dataset["source"] != "files":
        return {}
    return {split: dataset["files"][split] for split in ("train", "validation")}
