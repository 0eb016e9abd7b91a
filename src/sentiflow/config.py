"""The study's configuration: one schema holds every default, override files hold only what they change.

A file given with `snakemake --configfile` is laid over `config/config.yaml`: nested settings are merged
key by key, but the dimension maps (`datasets`, `backbones`, `variants`) are replaced whole, so an override
that names its own datasets, backbones or variants never inherits the study's; so are `llm.models`,
`behaviour.tests` (a suite of one's own) and `behaviour.suites` (`{}` leaves the peers' suites out).
"""

from __future__ import annotations

import copy
import re
from functools import cache
from pathlib import Path

import yaml

from sentiflow.sentiment_words import OWN_LISTS, evaluative

SCHEMA = Path(__file__).with_name("config.schema.yaml")
DIMENSIONS = ("datasets", "backbones", "variants")
BASE_VARIANT = "base"  # the study's recipe as configured; runs of other variants are compared with it
# The behaviour stage's shipped word lists (one SLOT.txt per lexicon slot) and generators, known here so that a test
# naming another is refused before anything runs. Per generator: whether it perturbs sentence pairs (both texts
# alike), the test types it makes, whether it draws words from `slots`. sentiflow.behaviour.generators implements
# exactly these (tests/test_behaviour_suite.py holds them together).
BEHAVIOUR_LEXICONS = Path(__file__).with_name("behaviour") / "lexicons"
BEHAVIOUR_GENERATORS = {
    "templates": {"pairs": False, "types": ("MFT",), "slots": False},
    "append_tail": {"pairs": False, "types": ("INV", "DIR"), "slots": True},
    "swap_words": {"pairs": True, "types": ("INV", "DIR"), "slots": True},
    "shortcut_words": {"pairs": True, "types": ("INV", "DIR"), "slots": True},
    "typos": {"pairs": True, "types": ("INV", "DIR"), "slots": False},
    "contractions": {"pairs": True, "types": ("INV", "DIR"), "slots": False},
}
POLARITIES = ("negative", "positive", "neutral")
# A template's placeholder: a lexicon slot, and a number for a second (third, ...) word drawn from the same slot.
PLACEHOLDER = re.compile(r"\{([a-z]+(?:_[a-z]+)*)(\d*)\}")


class ConfigError(ValueError):
    """A configuration that validates against the schema but cannot be run; the message names the key."""


@cache
def schema() -> dict:
    return yaml.safe_load(SCHEMA.read_text())


def _defaults_of(node: dict) -> dict:
    values = {}
    for key, sub in node.get("properties", {}).items():
        if "default" in sub:
            default = copy.deepcopy(sub["default"])
            values[key] = overlay(_defaults_of(sub), default) if isinstance(default, dict) else default
    return values


def defaults(*path: str) -> dict:
    """The schema's defaults below `path` (e.g. `defaults("training")`), nested objects filled in."""
    node = schema()
    for key in path:
        node = node["properties"][key]
    return _defaults_of(node)


def test_defaults() -> dict:
    """The defaults of a behavioural test's keys (the schema's `behaviour_test`)."""
    return _defaults_of(schema()["$defs"]["behaviour_test"])


def overlay(base: dict, override: dict, replace: tuple[str, ...] = ()) -> dict:
    """`override` laid over `base`: dictionaries merge key by key, everything else (and keys in `replace`, at any depth) is replaced."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if key not in replace and isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = overlay(merged[key], value, replace)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def study_config(base: str | Path, override: dict) -> dict:
    """`override` (the --configfile files and --config values) laid over the study's config file `base`."""
    if "dataset" in override:
        raise ConfigError(
            "the config key `dataset:` was replaced by `datasets:`, a map from a name to a dataset: write "
            "`datasets: {sst2: {...}}` with the old block's keys (less `name`) under the name"
        )
    model = override.get("llm", {}).get("model") if isinstance(override.get("llm"), dict) else None
    if model is not None:
        raise ConfigError(
            "the config key `llm.model` was replaced by `llm.models`, a map from a name to a model: write "
            f"`llm: {{models: {{my-model: {{...}}}}}}` with the old block's keys ({', '.join(sorted(model)) or 'path, n_ctx'}) under the name"
        )
    return overlay(yaml.safe_load(Path(base).read_text()), override, replace=DIMENSIONS + ("models", "tests", "suites"))


def load_study(configfiles=(), base: str | Path | None = None) -> dict:
    """The study as Snakemake sees it: the --configfile files merged in order, laid over config/config.yaml,
    validated with defaults filled in, dimensions checked."""
    overrides = {}
    for path in configfiles:  # merged among themselves as Snakemake merges several --configfile files
        overrides = overlay(overrides, yaml.safe_load(Path(path).read_text()) or {})
    config = with_defaults(
        study_config(base or Path(__file__).resolve().parents[2] / "config" / "config.yaml", overrides)
    )
    check_dimensions(config)
    return config


def check_dimensions(config: dict) -> None:
    """What the schema cannot say: datasets name only configured backbones, prompts cover every label, a holdout
    exists where the epoch is to be chosen on it, every behavioural test a dataset runs can run there."""
    attributed = (config.get("analysis", {}).get("attribution") or {}).get("variants") or []
    unknown = sorted(set(attributed) - set(config.get("variants", {})))
    if unknown:
        raise ConfigError(f"analysis.attribution.variants names {unknown}, which are not keys of `variants:`")
    families = (config.get("analysis", {}).get("label_issues") or {}).get("families") or {}
    entries = sorted((config.get("llm") or {}).get("models") or {})
    unknown = sorted(set(families) - set(entries))
    if unknown:
        raise ConfigError(
            f"analysis.label_issues.families names {unknown}, which are not keys of `llm.models:` ({entries})"
        )
    for name, dataset in config["datasets"].items():
        check_text_columns(name, dataset)
        if config.get("analysis", {}).get("select_epoch") == "holdout" and not dataset.get("holdout_rows"):
            raise ConfigError(
                f"analysis.select_epoch is holdout but datasets.{name}.holdout_rows is 0: give the dataset a holdout "
                "(a few thousand training rows; see config/README.md) or use select_epoch: auto"
            )
        for dimension in ("backbones", "variants"):
            known = set(config[dimension])
            unknown = sorted(set(dataset.get(dimension) or []) - known)
            if unknown:
                raise ConfigError(
                    f"datasets.{name}.{dimension} names {unknown}, which are not keys of `{dimension}:` ({sorted(known)})"
                )
        if not config.get("llm", {}).get("enabled", False):
            continue
        unknown = sorted(set(dataset.get("llm_models") or []) - set(config["llm"]["models"]))
        if unknown:
            raise ConfigError(
                f"datasets.{name}.llm_models names {unknown}, which are not keys of `llm.models:` ({sorted(config['llm']['models'])})"
            )
        unknown = sorted(set(dataset.get("label_witnesses") or []) - set(dataset_llm_models(config, name)))
        if unknown:
            raise ConfigError(
                f"datasets.{name}.label_witnesses names {unknown}, which are not LLM entries asked on it "
                f"({dataset_llm_models(config, name)})"
            )
        unknown = sorted(set(dataset.get("llm_tags") or []) - set(config["llm"].get("tags", {})))
        if unknown:
            raise ConfigError(f"datasets.{name}.llm_tags names {unknown}, which are not keys of `llm.tags:`")
        for tag, question in dataset_llm_tags(config, name).items():
            check_instruction(name, dataset, question["instruction"], f"llm.tags.{tag}")
        for entry in dataset_llm_models(config, name):
            check_instruction(name, dataset, llm_prompt(config, name, entry)["instruction"], f"llm.models.{entry}")
            verbalizers = llm_prompt(config, name, entry)["verbalizers"]
            missing = [label for label in dataset["labels"] if label not in verbalizers]
            if missing:
                raise ConfigError(
                    f"datasets.{name} with llm.models.{entry}: no verbalizers for label(s) {missing}; set datasets.{name}.prompt.verbalizers "
                    "(a list of words per label) or llm.enabled: false"
                )
    check_neutral_band(config)
    for name in config["datasets"]:
        check_behaviour(config, name)
        check_suites(config, name)


def text_columns(dataset: dict) -> tuple[str, ...]:
    """A dataset's text columns: `text_columns` (a pair, or a list of one) or `text_column` (one text)."""
    return tuple(dataset.get("text_columns") or [dataset["text_column"]])


def check_text_columns(name: str, dataset: dict) -> None:
    """One text (`text_column`) or a pair (`text_columns`, two names), never both, never neither."""
    single, pair = dataset.get("text_column"), dataset.get("text_columns")
    if single is not None and pair is not None:
        raise ConfigError(f"datasets.{name} sets both text_column and text_columns: keep text_column for one text, "
                          "or text_columns for the two texts of a sentence pair")  # fmt: skip
    if single is None and pair is None:
        raise ConfigError(f"datasets.{name} names no text: set text_column (the column of the text) or text_columns "
                          "(the two columns of a sentence pair, e.g. [sentence1, sentence2])")  # fmt: skip
    if pair is not None and len(pair) > 2:
        raise ConfigError(f"datasets.{name}.text_columns names {len(pair)} columns, {pair}: a sentence pair has two")


def check_instruction(name: str, dataset: dict, instruction: str, where: str) -> None:
    """An LLM instruction (of `where`: an entry's prompt, or a tag question) must show every text of the dataset:
    {sentence}, or {sentence1} and {sentence2}."""
    pair = len(text_columns(dataset)) == 2
    wanted = ["{sentence1}", "{sentence2}"] if pair else ["{sentence}"]
    missing = [field for field in wanted if field not in instruction]
    if missing:
        kind = "a sentence pair" if pair else "one text"
        fix = f"set {where}.instruction" if where.startswith("llm.tags") else f"set datasets.{name}.prompt.instruction"
        also = f" (or leave the tag out with datasets.{name}.llm_tags)" if where.startswith("llm.tags") else ""
        raise ConfigError(f"datasets.{name} with {where}: the instruction has no {', '.join(missing)}; this dataset has "
                          f"{kind}, so {fix} with {' and '.join(wanted)}{also}")  # fmt: skip


def dataset_keys(config: dict, name: str, dimension: str) -> list[str]:
    """The keys of `dimension` (`backbones` or `variants`) trained on dataset `name`, in their configured order."""
    chosen = config["datasets"][name].get(dimension)
    return [key for key in config[dimension] if chosen is None or key in chosen]


def dataset_backbones(config: dict, name: str) -> list[str]:
    return dataset_keys(config, name, "backbones")


def dataset_variants(config: dict, name: str) -> list[str]:
    return dataset_keys(config, name, "variants")


def run_label(backbone: str, variant: str) -> str:
    """How a run group is named in tables and figures: the backbone, plus `+variant` unless it is the base recipe."""
    return backbone if variant == BASE_VARIANT else f"{backbone}+{variant}"


def variant_training(config: dict, variant: str) -> dict:
    """`training:` with the variant's keys replacing the study's."""
    return config["training"] | config["variants"][variant]


def dataset_seeds(config: dict, name: str) -> list[int]:
    return [int(s) for s in (config["datasets"][name].get("seeds") or config["seeds"])]


def dataset_llm_models(config: dict, name: str) -> list[str]:
    """The keys of `llm.models` asked on dataset `name`, in their configured order."""
    chosen = config["datasets"][name].get("llm_models")
    return [key for key in config["llm"]["models"] if chosen is None or key in chosen]


def dataset_label_witnesses(config: dict, name: str) -> list[str]:
    """The LLM entries that witness dataset `name`'s label issues: its `label_witnesses`, or every entry it asks."""
    chosen = config["datasets"][name].get("label_witnesses")
    return [key for key in dataset_llm_models(config, name) if chosen is None or key in chosen]


def dataset_llm_tags(config: dict, name: str) -> dict:
    """The `llm.tags` asked on dataset `name` (its `llm_tags`, or all of them), with their questions."""
    chosen = config["datasets"][name].get("llm_tags")
    return {tag: question for tag, question in config["llm"].get("tags", {}).items() if chosen is None or tag in chosen}


def llm_prompt(config: dict, name: str, entry: str) -> dict:
    """`llm.prompt`, then the model entry's `prompt:` keys, then the dataset's: a dataset's keys describe its labels
    (their words, the question), so they win over an entry's."""
    return (
        config["llm"]["prompt"]
        | (config["llm"]["models"][entry].get("prompt") or {})
        | (config["datasets"][name].get("prompt") or {})
    )


# The keys of a dataset that choose what is done with its prepared data, not what the data are: editing them must
# not prepare it again, and with it tokenize and train every run of the dataset again. Every other key (and any
# key added to the schema later) is data preparation's, so a change to it reruns preparation.
NOT_DATA_KEYS = frozenset(
    {"backbones", "variants", "seeds", "reference", "prompt", "llm_models", "llm_tags", "label_witnesses", "behaviour"}
)


def data_settings(dataset: dict) -> dict:
    """What of a dataset's settings data preparation depends on, in canonical order."""
    return canonical({key: value for key, value in dataset.items() if key not in NOT_DATA_KEYS})


def canonical(value):
    """`value` with every mapping's keys in sorted order: how a rule's settings are compared between runs, so that
    reordering keys in a config file reruns nothing (dimension order is passed as lists where it matters)."""
    if isinstance(value, dict):
        return {key: canonical(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [canonical(item) for item in value]
    return value


def with_defaults(config: dict) -> dict:
    """`config` validated against the schema with its defaults filled in, as Snakemake's `validate` does."""
    import jsonschema

    def set_defaults(validator, properties, instance, node):
        for key, sub in properties.items():
            if isinstance(instance, dict) and "default" in sub:
                instance.setdefault(key, copy.deepcopy(sub["default"]))
        yield from jsonschema.Draft202012Validator.VALIDATORS["properties"](validator, properties, instance, node)

    filled = copy.deepcopy(config)
    jsonschema.validators.extend(jsonschema.Draft202012Validator, {"properties": set_defaults})(schema()).validate(
        filled
    )
    return filled


@cache
def shipped_words(slot: str) -> tuple[str, ...]:
    """The words of a shipped lexicon slot, `lexicons/SLOT.txt` (one entry a line; lines starting with `#` say where
    the words come from)."""
    text = (BEHAVIOUR_LEXICONS / f"{slot}.txt").read_text(encoding="utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#"))


def lexicon_words(slot: str, overrides: dict) -> list[str]:
    """The words of lexicon slot `slot`: `behaviour.lexicons`' list (`overrides`), else the shipped one."""
    return list(overrides[slot]) if slot in overrides else list(shipped_words(slot))


def own_lists(overrides: dict) -> dict[str, set[str]]:
    """Our own lists of polar words (`sentiment_words.OWN_LISTS`), lower-cased, as the config gives them."""
    return {slot: {w.lower() for w in lexicon_words(slot, overrides)} for slot in OWN_LISTS}


def lexicon_slots(config: dict) -> set[str]:
    """The lexicon slots a test may name: the shipped word lists and those of `behaviour.lexicons`."""
    shipped = {path.stem for path in BEHAVIOUR_LEXICONS.glob("*.txt")}
    return shipped | set(config.get("behaviour", {}).get("lexicons") or {})


def label_polarity(config: dict, name: str) -> dict[str, str | None]:
    """Each label of dataset `name` -> its polarity: the dataset's `behaviour.polarity`, then the study's, then the
    polarity its name contains ("very negative" is negative); None for a label without one (RTE's)."""
    dataset = config["datasets"][name]
    given = (config.get("behaviour", {}).get("polarity") or {}) | (
        (dataset.get("behaviour") or {}).get("polarity") or {}
    )
    return {
        label: given.get(label) or next((p for p in POLARITIES if p in label.lower()), None)
        for label in dataset["labels"]
    }


def dataset_tests(config: dict, name: str) -> dict[str, dict]:
    """The behavioural tests run on dataset `name`, in the suite's order: its `behaviour.tests`, or by default every
    test (a sentence-pair dataset: those marked `pairs`); none when the stage or the dataset's part is off."""
    behaviour, dataset = config.get("behaviour") or {}, config["datasets"][name]
    settings = dataset.get("behaviour") or {}
    if not behaviour.get("enabled", False) or not settings.get("enabled", True):
        return {}
    chosen, pair = settings.get("tests"), len(text_columns(dataset)) == 2
    return {
        test: spec
        for test, spec in behaviour["tests"].items()
        if (test in chosen if chosen is not None else spec.get("pairs", False) or not pair)
    }


def suite_exclusion(config: dict, name: str, suite: str) -> str | None:
    """Why dataset `name` does not answer the peer's suite `suite` (`behaviour.suites`), in words; None where it does.
    A suite file holds single texts in the three sentiment polarities, so a dataset answers it when the stage and the
    dataset's part are on, its `behaviour.suites` selects it (null: every suite that applies), its texts are single
    and one of its labels has a negative or positive polarity."""
    behaviour, dataset = config.get("behaviour") or {}, config["datasets"][name]
    settings = dataset.get("behaviour") or {}
    if not behaviour.get("enabled", False):
        return "behavioural tests are off in this configuration"
    if not settings.get("enabled", True):
        return f"behavioural tests are off on this dataset (datasets.{name}.behaviour.enabled: false)"
    chosen = settings.get("suites")
    if chosen is not None and suite not in chosen:
        return f"datasets.{name}.behaviour.suites does not select it"
    polarity = label_polarity(config, name)
    if not {"negative", "positive"} & {p for p in polarity.values() if p}:
        labels = ", ".join(dataset["labels"])
        return (f"it tests sentiment, and no label of this dataset ({labels}) has a negative or positive polarity "
                "(behaviour.polarity)")  # fmt: skip
    if len(text_columns(dataset)) == 2:
        return "its cases are single texts, and this dataset's are sentence pairs"
    return None


def dataset_suites(config: dict, name: str) -> dict[str, dict]:
    """The peers' suites (`behaviour.suites`) dataset `name` answers, in the configured order."""
    suites = (config.get("behaviour") or {}).get("suites") or {}
    return {suite: spec for suite, spec in suites.items() if suite_exclusion(config, name, suite) is None}


def check_suites(config: dict, name: str) -> None:
    """A suite file is JSON Lines; where the stage runs on dataset `name`, its selection names configured suites that
    apply to it, and a suite it answers can read its answers as polarities."""
    behaviour = config.get("behaviour") or {}
    suites = behaviour.get("suites") or {}
    for suite, spec in suites.items():
        if not spec["path"].endswith((".jsonl", ".jsonl.gz")):
            raise ConfigError(f"behaviour.suites.{suite}.path {spec['path']!r}: a suite file is JSON Lines, "
                              "named .jsonl (or .jsonl.gz, gzip-compressed)")  # fmt: skip
    settings = config["datasets"][name].get("behaviour") or {}
    if not behaviour.get("enabled", False) or not settings.get("enabled", True):
        return
    chosen = settings.get("suites") or []
    unknown = sorted(set(chosen) - set(suites))
    if unknown:
        raise ConfigError(f"datasets.{name}.behaviour.suites names {unknown}, which are not keys of "
                          f"`behaviour.suites:` ({sorted(suites)})")  # fmt: skip
    for suite in chosen:
        reason = suite_exclusion(config, name, suite)
        if reason:
            raise ConfigError(f"datasets.{name}.behaviour.suites selects {suite}, which does not apply to it: "
                              f"{reason}")  # fmt: skip
    answered = sorted(dataset_suites(config, name))
    lacking = [label for label, p in label_polarity(config, name).items() if p is None]
    if answered and lacking:
        raise ConfigError(f"datasets.{name} answers the suite(s) {answered}, read as negative, neutral or positive, "
                          f"but its label(s) {lacking} have no polarity: set datasets.{name}.behaviour.polarity, or "
                          f"datasets.{name}.behaviour.suites: []")  # fmt: skip


def watched_labels(spec: dict, labels: list[str], polarity: dict[str, str | None]) -> list[str]:
    """The labels a test names outright, or those whose polarity it names, in the dataset's label order: an MFT
    test's passing labels, a DIR test's watched ones."""
    if spec.get("labels"):
        return [label for label in labels if label in spec["labels"]]
    return [label for label in labels if polarity.get(label) in (spec.get("polarity") or [])]


def check_neutral_band(config: dict) -> None:
    band = (config.get("behaviour") or {}).get("neutral_band")
    if band and band[0] > band[1]:
        raise ConfigError(f"behaviour.neutral_band {band}: the low end (P(positive) below it is negative) must not "
                          "exceed the high end (above it is positive)")  # fmt: skip


def check_behaviour(config: dict, name: str) -> None:
    """Every test dataset `name` runs can run, and can fail: a known generator making its type, known lexicon
    slots, labels of the dataset, a direction for DIR, a polarity for every label where a test reads labels by
    polarity, enough templates, neutral words where a test needs them and an outcome the model can change."""
    chosen = (config["datasets"][name].get("behaviour") or {}).get("tests")
    if config.get("behaviour", {}).get("enabled", False) and chosen is not None:
        unknown = sorted(set(chosen) - set(config["behaviour"]["tests"]))
        if unknown:
            raise ConfigError(f"datasets.{name}.behaviour.tests names {unknown}, which are not keys of `behaviour.tests:` "
                              f"({sorted(config['behaviour']['tests'])})")  # fmt: skip
    for test, spec in dataset_tests(config, name).items():
        check_test_generator(config, name, test, spec)
        check_test_labels(config, name, test, spec)
        check_test_can_fail(config, name, test, spec)
        check_test_templates(config, test, spec)
        check_test_words(config, test, spec)


def check_test_generator(config: dict, name: str, test: str, spec: dict) -> None:
    where = f"behaviour.tests.{test}"
    generator = BEHAVIOUR_GENERATORS.get(spec["generator"])
    if generator is None:
        raise ConfigError(
            f"{where}.generator: {spec['generator']!r} is not a generator ({sorted(BEHAVIOUR_GENERATORS)})"
        )
    if spec["type"] not in generator["types"]:
        raise ConfigError(f"{where}.type: the {spec['generator']} generator makes {'/'.join(generator['types'])} "
                          f"tests, not {spec['type']}")  # fmt: skip
    if len(text_columns(config["datasets"][name])) == 2 and not generator["pairs"]:
        raise ConfigError(f"datasets.{name}.behaviour.tests selects {test}, whose generator {spec['generator']} "
                          "makes single texts, but the dataset has sentence pairs")  # fmt: skip
    known = lexicon_slots(config)
    placeholders = [slot for template in spec.get("templates") or [] for slot, _ in PLACEHOLDER.findall(template)]
    for key, slots in (("slots", spec.get("slots") or []), ("templates", placeholders)):
        unknown = sorted(set(slots) - known)
        if unknown:
            raise ConfigError(f"{where}.{key} names lexicon slot(s) {unknown}, which are neither shipped nor in "
                              f"behaviour.lexicons ({sorted(known)})")  # fmt: skip
    if generator["slots"] and not spec.get("slots"):
        raise ConfigError(
            f"{where}.slots: the {spec['generator']} generator draws its words from lexicon slots; name one"
        )
    if spec["generator"] == "templates" and not spec.get("templates"):
        raise ConfigError(f"{where}.templates: the templates generator needs at least one template")


def check_test_labels(config: dict, name: str, test: str, spec: dict) -> None:
    where, labels = f"behaviour.tests.{test}", config["datasets"][name]["labels"]
    unknown = sorted(set(spec.get("labels") or []) - set(labels))
    if unknown:
        raise ConfigError(f"{where}.labels names {unknown}, which are not labels of datasets.{name} ({labels})")
    if spec["type"] in ("MFT", "DIR") and not (spec.get("labels") or spec.get("polarity")):
        what = "expected labels" if spec["type"] == "MFT" else "labels whose probability it watches"
        raise ConfigError(f"{where} is {spec['type']} but names no {what}: set {where}.polarity or {where}.labels")
    if spec["type"] == "DIR" and not spec.get("must_not"):
        raise ConfigError(f"{where} is DIR but has no direction: set {where}.must_not (increase or decrease)")
    polarity = label_polarity(config, name)
    for key in ("sources", "polarity"):
        if key == "polarity" and spec.get("labels"):
            continue  # labels named outright win over a polarity
        wanted = spec.get(key) or []
        lacking = [label for label, p in polarity.items() if p is None]
        if wanted and lacking:
            raise ConfigError(f"{where}.{key} reads labels by polarity, but datasets.{name} label(s) {lacking} have "
                              f"none: set datasets.{name}.behaviour.polarity (label: negative, positive or neutral)")  # fmt: skip
        if wanted and not set(wanted) & set(polarity.values()):
            raise ConfigError(f"{where}.{key}: no label of datasets.{name} has polarity {wanted} "
                              f"({polarity}); set datasets.{name}.behaviour.polarity")  # fmt: skip


def check_test_can_fail(config: dict, name: str, test: str, spec: dict) -> None:
    """A test whose outcome no answer can change is refused: an MFT test every label passes, a DIR test watching
    every label (their summed probability is always 1) or allowing a probability change of 1 or more."""
    where, labels = f"behaviour.tests.{test}", config["datasets"][name]["labels"]
    watched = watched_labels(spec, labels, label_polarity(config, name))
    if spec["type"] in ("MFT", "DIR") and set(watched) == set(labels):
        what = (
            "passes every label"
            if spec["type"] == "MFT"
            else "watches every label, whose summed probability is always 1"
        )
        raise ConfigError(f"{where} on datasets.{name} {what} ({watched}), so no answer can fail it: set "
                          f"{where}.polarity or {where}.labels to fewer labels")  # fmt: skip
    if spec["type"] == "DIR" and spec.get("scale") == "probability" and spec.get("tolerance", 0) >= 1:
        raise ConfigError(f"{where}.tolerance is {spec['tolerance']}: on the probability scale no change exceeds 1, "
                          f"so the test cannot fail; use a tolerance below 1 (CheckList's is 0.1) or scale: logit")  # fmt: skip


def check_test_templates(config: dict, test: str, spec: dict) -> None:
    """An MFT test's templates are its clusters: with a handful, its failure rate says more about the templates
    than about the model, so fewer than `behaviour.min_templates` are refused."""
    least = (config.get("behaviour") or {}).get("min_templates", 1)
    if spec["generator"] == "templates" and len(spec.get("templates") or []) < least:
        raise ConfigError(f"behaviour.tests.{test}.templates has {len(spec.get('templates') or [])} template(s), "
                          f"fewer than behaviour.min_templates ({least}): write more (each is a cluster of the "
                          "test's interval) or lower behaviour.min_templates")  # fmt: skip


def test_slots(spec: dict) -> list[str]:
    """The lexicon slots a test reads: its `slots` and its templates' placeholders, in order."""
    placeholders = [slot for template in spec.get("templates") or [] for slot, _ in PLACEHOLDER.findall(template)]
    return list(dict.fromkeys([*(spec.get("slots") or []), *placeholders]))


def check_test_words(config: dict, test: str, spec: dict) -> None:
    """The words a test puts in or swaps must not change the sentiment: every slot it reads outside
    `behaviour.polar_slots` may hold only words no sentiment resource gives a polarity
    (`behaviour.sentiment_words`) and no film-industry name (`analysis.shortcuts.groups.names`); a swap's slots
    may not share a word (which slot would it be swapped within?)."""
    behaviour = config.get("behaviour") or {}
    overrides, polar = behaviour.get("lexicons") or {}, set(behaviour.get("polar_slots") or [])
    own = own_lists(overrides)
    film_names = {
        w.lower() for w in ((config.get("analysis") or {}).get("shortcuts") or {}).get("groups", {}).get("names", [])
    }
    seen: dict[str, str] = {}
    for slot in test_slots(spec):
        words = lexicon_words(slot, overrides)
        where = (
            f"behaviour.lexicons.{slot}"
            if slot in overrides
            else f"the shipped lexicon {slot} (src/sentiflow/behaviour/lexicons/{slot}.txt)"
        )
        if slot not in polar:
            found = evaluative(words, own)
            if found:
                word, sources = next(iter(found.items()))
                raise ConfigError(f"{where}, read by behaviour.tests.{test}, holds {word!r}, which carries sentiment "
                                  f"({', '.join(sources)}); a word this test puts in must be neutral: remove it, or "
                                  f"list {slot} in behaviour.polar_slots if its words are meant to be polar")  # fmt: skip
            named = sorted({w.lower() for w in words} & film_names)
            if named:
                raise ConfigError(f"{where}, read by behaviour.tests.{test}, holds {named}, film-industry names "
                                  "(analysis.shortcuts.groups.names) that bring their maker's reputation in: use "
                                  "ordinary names")  # fmt: skip
        if spec["generator"] == "swap_words":
            for word in (w.lower() for w in words):
                if seen.setdefault(word, slot) != slot:
                    raise ConfigError(f"behaviour.tests.{test}.slots: {word!r} is in both {seen[word]} and {slot}; a "
                                      "swapped word must belong to one slot")  # fmt: skip
