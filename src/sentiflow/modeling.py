"""Load a backbone (hub id or local folder) as a tokenizer and a fresh sequence-classification model."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence


class BackboneUnavailable(RuntimeError):
    """The configured backbone cannot be loaded; the message says what to configure instead."""


def _looks_like_path(spec: str) -> bool:
    return spec.startswith(("/", "./", "../", "~")) or Path(spec).expanduser().exists()


def _check_local(spec: str) -> Path:
    folder = Path(spec).expanduser()
    if not folder.is_dir():
        raise BackboneUnavailable(f"backbone folder {spec!r} does not exist")
    if not (folder / "config.json").is_file():
        raise BackboneUnavailable(f"backbone folder {spec!r} has no config.json: not a Hugging Face model folder")
    return folder


def _hub_error(spec: str, what: str, err: Exception) -> BackboneUnavailable:
    return BackboneUnavailable(
        f"could not load the {what} of {spec!r} from the Hugging Face hub ({type(err).__name__}: {' '.join(str(err).split())}) "
        "If this machine is offline, download it where the hub is reachable "
        f"(`hf download {spec} --local-dir models/{spec.split('/')[-1]}`), copy the folder here, and set the "
        "backbone's `model:` in the config to that folder."
    )


def load_config(spec: str):
    """The backbone's transformers config. A model type the installed transformers does not know, and a hub id
    that cannot be loaded, each fail with a message saying what to do."""
    import transformers
    from transformers import AutoConfig

    where = _check_local(spec) if _looks_like_path(spec) else spec
    try:
        return AutoConfig.from_pretrained(where)
    except (KeyError, ValueError) as err:
        model_type = _declared_model_type(where)
        if model_type is None:
            if where is spec:
                raise _hub_error(spec, "config", err) from err
            raise
        raise BackboneUnavailable(
            f"backbone {spec!r}: model type {model_type!r} is one the installed transformers {transformers.__version__} "
            "cannot build; upgrade transformers (pip install -U transformers) or choose another backbone"
        ) from err
    except OSError as err:
        raise _hub_error(spec, "config", err) from err


def check_backbone(spec: str) -> str:
    """The backbone's model type, once it is known that the installed transformers can build it with a
    sequence-classification head; else a message saying so (raised before any training starts)."""
    import transformers
    from transformers.models.auto.modeling_auto import MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES

    config = load_config(spec)
    if config.model_type not in MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES:
        raise BackboneUnavailable(
            f"backbone {spec!r}: model type {config.model_type!r} has no sequence-classification head in transformers "
            f"{transformers.__version__}; choose an encoder (BERT, RoBERTa, DeBERTa, ELECTRA, ModernBERT, ...)"
        )
    return config.model_type


def _declared_model_type(where) -> str | None:
    import json

    config = Path(where) / "config.json"
    return json.loads(config.read_text()).get("model_type") if config.is_file() else None


def load_tokenizer(spec: str):
    from transformers import AutoTokenizer

    if _looks_like_path(spec):
        return AutoTokenizer.from_pretrained(_check_local(spec))
    try:
        return AutoTokenizer.from_pretrained(spec)
    except (OSError, ValueError) as err:
        raise _hub_error(spec, "tokenizer", err) from err


# The config attribute that sets the dropout before the classification head, where it is not `classifier_dropout`.
HEAD_DROPOUT = {"distilbert": "seq_classif_dropout", "deberta": "cls_dropout", "deberta-v2": "cls_dropout"}


def head_dropout_setting(spec: str) -> str:
    return HEAD_DROPOUT.get(load_config(spec).model_type, "classifier_dropout")


def load_classifier(spec: str, labels: Sequence[str], classifier_dropout: float | None = None):
    """A pre-trained encoder with a new, randomly initialised classification head of len(labels) outputs.

    The head is drawn from torch's global RNG, so seed before calling this. `classifier_dropout` replaces the
    checkpoint's dropout before the head (None keeps it).
    """
    from transformers import AutoModelForSequenceClassification

    kwargs = dict(
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={name: i for i, name in enumerate(labels)},
        # A checkpoint saved with another head size (e.g. 3 classes) still loads: the head is new anyway.
        ignore_mismatched_sizes=True,
    )
    if classifier_dropout is not None:
        kwargs[head_dropout_setting(spec)] = classifier_dropout
    if _looks_like_path(spec):
        return AutoModelForSequenceClassification.from_pretrained(_check_local(spec), **kwargs)
    try:
        return AutoModelForSequenceClassification.from_pretrained(spec, **kwargs)
    except (OSError, ValueError) as err:
        raise _hub_error(spec, "weights", err) from err


def count_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())
