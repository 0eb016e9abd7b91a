"""Every setting reruns the rules that read it and what they feed, nothing else: the finished smoke study is dry-run
with one leaf of the schema's `training`, `analysis`, `llm`, `behaviour`, `findings` and `report` sections changed at a
time.

The ~110 dry runs go through Snakemake's API in two worker processes (this file run as a script), each building
the DAG once per setting: a `snakemake` process per setting spends most of its time importing (about 3 s a run on
2 cores against about 1 s through the API). One setting is also dry-run through the command line and must plan
the same jobs."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from conftest import snakemake

from sentiflow.config import dataset_label_witnesses, schema

SECTIONS = ("training", "analysis", "llm", "behaviour", "findings", "report")
WORKERS = 2
# Rules a plan may hold whatever changed: the report reads every setting (another rule file's business), and `all`
# is the default target, planned whenever anything is.
ALWAYS_ALLOWED = {"report", "report_pdf", "all"}
ANALYSED_RUNS = {
    "aggregate",
    "calibration",
    "plot_curves",
    "plot_confusion",
    "misclassified",
    "attribute",
    "label_issues",
    "slices",
}


def each(prefix: str, names: str, rules: set[str]) -> dict[str, set[str]]:
    return {f"{prefix}.{name}": rules for name in names.split()}


# Leaf (`*` for the name of a user-named entry: an LLM entry, a tag, a cue family) -> the rules whose params hold it.
# What they feed comes from the rule graph. A leaf missing here fails the test: a new key needs its line.
READERS = {
    **each(
        "training",
        "epochs train_batch_size eval_batch_size learning_rate weight_decay warmup_ratio max_grad_norm "
        "classifier_dropout early_stopping_patience loop",
        {"train"},
    ),
    **each(
        "training.fast", "precision bucket_multiple sync_every eval_batch_size cuda_graphs group_by_length", {"train"}
    ),
    "training.max_length": {"tokenize"},
    # Where a job runs, not what it computes (workflow/rules/common.smk): nothing reruns.
    **each("training", "device threads gpus_per_run runs_per_gpu", set()),
    "analysis.select_epoch": {"train"},
    "analysis.allow_partial": ANALYSED_RUNS | {"llm_compare", "cascade", "behaviour_encoder", "peer_encoder"},
    **each("analysis.bootstrap", "samples seed method", {"aggregate", "attribute", "llm_compare", "cascade"}),
    # The failure modes' and the behavioural tests' intervals (computed, not resampled), the Wilson intervals of the
    # label-issue detection and the slices' Jeffreys intervals take the confidence level alone.
    "analysis.bootstrap.confidence": {
        "aggregate",
        "misclassified",
        "attribute",
        "llm_compare",
        "cascade",
        "label_issues",
        "slices",
        "behaviour_summary",
        "peer_summary",
    },
    "analysis.overconfidence_threshold": {"misclassified"},
    "analysis.loss_smoothing": {"plot_curves"},
    **each("analysis.calibration", "method bins folds seed", {"calibration"}),
    "analysis.cues.*": {"misclassified", "slices"},  # slices reads the families' names
    **each(
        "analysis.attribution", "enabled steps max_steps tolerance sentences variants deletion_k seed", {"attribute"}
    ),
    **each("analysis.shortcuts", "min_count alpha min_share groups.*", {"misclassified"}),
    "analysis.shortcuts.top_words": set(),  # how many the report lists
    **each("analysis.mixed_polarity", "positive negative ignore", {"misclassified"}),
    # The slices read the witnesses' answers only where label issues are judged.
    "analysis.label_issues.enabled": {"label_issues", "slices", "findings"},
    # The judged sentences are scored by llm_witness; confirming and flipping is label_issues' alone.
    **each("analysis.label_issues", "witness_sentences seed", {"llm_witness", "label_issues"}),
    **each(
        "analysis.label_issues",
        "confirm_probability min_precision families min_witness_accuracy flip_share",
        {"label_issues"},
    ),
    **each("analysis.slices", "enabled max_depth min_leaf folds seed top", {"slices"}),
    # Without the LLM stage label issues lose their witnesses and are judged again without them, the slices lose the
    # witnesses' answers as features, and the behavioural statistics lose their LLM entries and cascades.
    "llm.enabled": {"label_issues", "slices", "behaviour_summary", "peer_summary", "findings"},
    **each(
        "llm.models.*",
        "path hub_repo hub_file revision n_ctx n_gpu_layers",
        {"llm_compare", "behaviour_llm", "peer_llm"},
    ),
    **each(
        "llm.models.*.prompt",
        "system instruction answer_prefix plain_template verbalizers shots",
        {"llm_compare", "behaviour_llm", "peer_llm"},
    ),
    "llm.models.*.threads": set(),
    "llm.threads": set(),
    **each("llm.items", "errors errors_of max_errors control all_validation", {"llm_compare"}),
    # The cascade's sentences are scored by llm_compare; its folds are fitted by the cascade alone.
    **each("llm.cascade", "sentences seed", {"llm_compare", "cascade"}),
    # The findings say why the cascade's findings are not measured when it is off.
    "llm.cascade.enabled": {"llm_compare", "cascade", "findings"},
    "llm.cascade.folds": {"cascade"},
    "llm.cache": {"llm_compare", "llm_witness", "behaviour_llm", "peer_llm"},
    **each("llm.tags.*", "instruction verbalizers.yes verbalizers.no", {"llm_compare"}),
    **each(
        "llm.prompt",
        "system instruction answer_prefix plain_template verbalizers.* shots seed reuse_prefix",
        {"llm_compare", "llm_witness", "behaviour_llm", "peer_llm"},
    ),
    # The suite is made by behaviour_suite; the LLM's draw of cases by behaviour_llm. A test's settings are one leaf.
    # Only the findings read the switch itself (to say why a failure mode's intervention is not measured).
    "behaviour.enabled": {"findings"},
    "behaviour.seed": {"behaviour_suite", "behaviour_llm"},
    **each("behaviour", "max_cases lexicons tests", {"behaviour_suite"}),
    # The labels' polarity makes the suite and reads an MFT answer as a polarity, like the neutral band; both read
    # every answer to a peer's suite.
    "behaviour.polarity": {"behaviour_suite", "behaviour_summary", "peer_summary"},
    "behaviour.neutral_band": {"behaviour_summary", "peer_summary"},
    # Checked at validation only: a test with too few templates or a polar word where a neutral one is needed is
    # refused before anything runs.
    **each("behaviour", "min_templates polar_slots", set()),
    "behaviour.llm_cases": {"behaviour_llm"},
    # A peer's suite: drawn by peer_suite (its seed also draws the LLM entries' cases), scored by CheckList's INV rule
    # in peer_summary; how the report names it and the published rates beside it are the report's.
    **each("behaviour.suites.*", "path cases", {"peer_suite"}),
    "behaviour.suites.*.seed": {"peer_suite", "peer_llm"},
    "behaviour.suites.*.llm_cases": {"peer_llm"},
    "behaviour.suites.*.inv_tolerance": {"peer_summary"},
    **each("behaviour.suites.*", "title published", set()),
    # The verdict rule.
    **each("findings", "min_difference min_failure_rate", {"findings"}),
    **each("report", "title top_errors attributed_errors failing_cases pdf", set()),
}
# Switches whose changed value (off) takes rules out of the plan altogether.
SWITCHED_OFF = {
    "llm.enabled": {"llm_compare", "cascade", "llm_witness", "behaviour_llm", "peer_llm"},
    "behaviour.enabled": {
        "behaviour_suite",
        "behaviour_encoder",
        "behaviour_llm",
        "peer_suite",
        "peer_encoder",
        "peer_llm",
    },
    "llm.cascade.enabled": {"cascade"},
    "analysis.attribution.enabled": {"attribute"},
    "analysis.slices.enabled": {"slices"},
}
# The few leaves whose changed value the schema alone cannot give: (current value, a scratch folder) -> new value.
VALUES = {
    "training.device": lambda value, tmp: "cpu",
    "llm.items.errors_of": lambda value, tmp: ["minilm"],  # the smoke study's backbone
    "analysis.attribution.variants": lambda value, tmp: ["base", "lr-1e-4"],  # its variants
    "llm.prompt.plain_template": lambda value, tmp: "{system}\n\n{prompt}",
    "llm.models.*.prompt.plain_template": lambda value, tmp: "{system}\n\n{prompt}",
    "llm.models.*.path": lambda value, tmp: str(linked(Path(value), tmp)),  # the same model, another path
    "behaviour.suites.*.path": lambda value, tmp: str(linked(Path(value), tmp)),  # the same suite, another path
    "behaviour.polarity": lambda value, tmp: {"neutral": "negative"},  # SST-5's neutral label read as negative
    "analysis.label_issues.families": lambda value, tmp: {"smollm2": "smollm"},  # the smoke study's LLM entry
    "behaviour.lexicons": lambda value, tmp: {"pos_adj": ["good", "great"]},
    "behaviour.tests": lambda value, tmp: value | {"typos": value["typos"] | {"perturbations": 3}},
    "behaviour.neutral_band": lambda value, tmp: [0.4, 0.6],
    "behaviour.min_templates": lambda value, tmp: value - 1,  # more would refuse the shipped suite
}
# Maps whose entries are changed as a whole, one leaf: a test's keys only make sense together.
WHOLE = {"behaviour.tests"}
# Leaves an entry may leave out: their value is then the one named here.
INHERITED = {"llm.models.*.prompt": ("llm", "prompt")}


def witness_readers(name: str, config: dict) -> set[str]:
    """An LLM entry's own settings also rerun its llm_witness jobs when it witnesses some dataset's label issues."""
    parts = name.split(".")
    if parts[:2] != ["llm", "models"]:
        return set()
    witnessing = {entry for dataset in config["datasets"] for entry in dataset_label_witnesses(config, dataset)}
    return {"llm_witness"} if parts[2] in witnessing and parts[-1] != "threads" else set()


def linked(path: Path, folder: Path) -> Path:
    link = folder / path.name
    if not link.exists():
        link.symlink_to(path)
    return link


def resolved(node: dict) -> dict:
    """A schema node with its `$ref` (into `$defs`) followed."""
    while "$ref" in node:
        node = schema()["$defs"][node["$ref"].rsplit("/", 1)[1]]
    return node


def leaves(node: dict, value, path: tuple[str, ...], pattern: tuple[str, ...]):
    """(path, pattern, schema node) of every leaf below `node`; a map of user-named entries is walked through the
    entries `value` (the config's) has, the pattern naming each `*`."""
    node = resolved(node)
    if ".".join(pattern) in WHOLE:
        yield path, ".".join(pattern), node
    elif "properties" in node:
        for key, sub in node["properties"].items():
            yield from leaves(sub, (value or {}).get(key), (*path, key), (*pattern, key))
    elif isinstance(node.get("additionalProperties"), dict) and isinstance(value, dict) and value:
        for key, sub_value in value.items():
            yield from leaves(node["additionalProperties"], sub_value, (*path, key), (*pattern, "*"))
    else:
        yield path, ".".join(pattern), node


def lookup(config: dict, path: tuple[str, ...], pattern: str):
    """The setting's value; for a leaf an entry leaves out, the value it inherits."""
    node = config
    for key in path:
        if not isinstance(node, dict) or key not in node:
            parent = next((p for p in INHERITED if pattern.startswith(p + ".")), None)
            assert parent, f"{'.'.join(path)} is not in the config: name the value it inherits in INHERITED"
            return lookup(config, (*INHERITED[parent], path[-1]), "")
        node = node[key]
    return node


def changed(node: dict, value):
    """A valid value other than `value`, from the schema: another enum member, the boolean flipped, a number moved
    within its bounds, a string edited, a list with one more item."""
    node = resolved(node)
    types = node.get("type", [])
    types = [types] if isinstance(types, str) else [t for t in types if t != "null"]
    if "enum" in node:
        return node["enum"][(node["enum"].index(value) + 1) % len(node["enum"])]
    if "boolean" in types:
        return not value
    if "integer" in types:
        return node.get("minimum", 1) if value is None else value + 1
    if "number" in types:
        low, high = (
            node.get("minimum", node.get("exclusiveMinimum", 0)),
            node.get("maximum", node.get("exclusiveMaximum")),
        )
        start = low if value is None else value
        return (start + high) / 2 if high is not None else (start * 2 or 1.0)
    if "string" in types:
        return "changed" if value is None else value + " (changed)"
    if "array" in types:
        item = resolved(node["items"])
        return [*value, "changed"] if item.get("type") == "string" else [*value, max(value) + 1]
    if isinstance(value, dict):  # a map of lists of words (verbalizers): a word more for each
        return {key: changed(node["additionalProperties"], words) for key, words in value.items()}
    raise AssertionError(f"no changed value for schema node {node}: add one to VALUES")


def with_leaf(config: dict, path: tuple[str, ...], value) -> dict:
    changed_config = copy.deepcopy(config)
    node = changed_config
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value
    return changed_config


def rule_graph(dot: str) -> dict[str, set[str]]:
    """Rule -> the rules that read its outputs, from `snakemake --rulegraph`."""
    names = dict(re.findall(r"^\s*(\d+)\[label = \"(\w+)\"", dot, flags=re.M))
    feeds = {name: set() for name in names.values()}
    for source, target in re.findall(r"^\s*(\d+) -> (\d+)$", dot, flags=re.M):
        feeds[names[source]].add(names[target])
    return feeds


def downstream(feeds: dict[str, set[str]], rules: set[str]) -> set[str]:
    found, todo = set(), list(rules)
    while todo:
        rule = todo.pop()
        if rule not in found:
            found.add(rule)
            todo += feeds[rule]
    return found


def planned_jobs(log: str) -> dict[str, str]:
    """Rule -> planned jobs, from a dry run's job table (the total left out)."""
    return {rule: n for rule, n in re.findall(r"^(\w+)\s+(\d+)$", log, flags=re.M) if rule != "total"}


def dry_run(workdir: Path, configfile: Path) -> dict:
    """The jobs a dry run of the study in `workdir` plans with `configfile`, through Snakemake's API."""
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings

    log = io.StringIO()
    try:
        with contextlib.redirect_stderr(log), contextlib.redirect_stdout(log), SnakemakeApi(OutputSettings()) as api:
            workflow = api.workflow(
                resource_settings=ResourceSettings(cores=2),
                config_settings=ConfigSettings(configfiles=[configfile]),
                snakefile=Path(__file__).resolve().parents[1] / "Snakefile",
                workdir=workdir,
            )
            workflow.dag().execute_workflow(executor="dryrun")
    except Exception as err:  # reported with its setting by the test
        return {"error": f"{type(err).__name__}: {err}\n{log.getvalue()[-3000:]}"}
    return planned_jobs(log.getvalue())


def dry_runs(workdir: Path, configfiles: list[Path]) -> dict[str, dict]:
    """`dry_run` of each config file, in WORKERS processes (this file run as a script)."""
    shares = [configfiles[i::WORKERS] for i in range(WORKERS)]

    def work(share):
        command = [sys.executable, __file__, str(workdir), *map(str, share)]
        result = subprocess.run(command, capture_output=True, text=True, check=True)
        return json.loads(result.stdout)

    with ThreadPoolExecutor(WORKERS) as pool:
        return {path: plan for found in pool.map(work, shares) for path, plan in found.items()}


@pytest.mark.e2e
def test_each_setting_reruns_only_the_rules_that_read_it(smoke_run, tmp_path):
    workdir, config = smoke_run
    cases = []
    for section in SECTIONS:
        for path, pattern, node in leaves(schema()["properties"][section], config[section], (section,), (section,)):
            assert pattern in READERS, f"{'.'.join(path)}: no entry for {pattern} in READERS, say which rules read it"
            fix = VALUES.get(pattern)
            current = lookup(config, path, pattern)
            value = fix(current, tmp_path) if fix else changed(node, current)
            assert value != current, f"{'.'.join(path)}: the changed value is the current one, {value!r}"
            configfile = tmp_path / f"{len(cases)}.yaml"
            configfile.write_text(yaml.safe_dump(with_leaf(config, path, value), sort_keys=False))
            cases.append((".".join(path), pattern, configfile))
    assert not set(READERS) - {pattern for _, pattern, _ in cases}, "READERS names settings the schema has not"
    assert len(cases) > 90, len(cases)

    # The headline case through the command line: a GPU attribution setting plans the attribute jobs alone.
    tolerance = next(file for name, _, file in cases if name == "analysis.attribution.tolerance")
    by_command_line = planned_jobs(
        snakemake(workdir, yaml.safe_load(tolerance.read_text()), "--dry-run", "--cores", "2").stdout
    )
    assert set(by_command_line) - ALWAYS_ALLOWED == {"attribute"}, by_command_line
    plans = dry_runs(workdir, [file for _, _, file in cases])
    assert plans[str(tolerance)] == by_command_line

    feeds = rule_graph(snakemake(workdir, config, "--rulegraph").stdout)  # also puts the study's config back
    wrong = []
    for name, pattern, configfile in cases:
        plan = plans[str(configfile)]
        expected = (
            downstream(feeds, READERS[pattern] | witness_readers(name, config))
            - SWITCHED_OFF.get(pattern, set())
            - ALWAYS_ALLOWED
        )
        if "error" in plan or set(plan) - ALWAYS_ALLOWED != expected:
            wrong.append(f"{name}: expected {sorted(expected)}, planned {plan}")
    assert not wrong, "\n".join(wrong)


if __name__ == "__main__":  # a worker of `dry_runs`: the study's folder, then the config files
    print(json.dumps({path: dry_run(Path(sys.argv[1]), Path(path)) for path in sys.argv[2:]}))
