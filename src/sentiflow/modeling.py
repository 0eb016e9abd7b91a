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


def load_tokenizer(spec: str):
    from transformers import AutoTokenizer

    if _looks_like_path(spec):
        return AutoTokenizer.from_pretrained(_check_local(spec))
    try:
        return AutoTokenizer.from_pretrained(spec)
    except (OSError, ValueError) as err:
        raise _hub_error(spec, "tokenizer", err) from err


def load_classifier(spec: str, labels: Sequence[str]):
    """A pre-trained encoder with a new, randomly initialised classification head of len(labels) outputs.

    The head is drawn from torch's global RNG, so seed before calling this.
    """
    from transformers import AutoModelForSequenceClassification

    kwargs = dict(
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={name: i for i, name in enumerate(labels)},
        # A checkpoint saved with another head size (e.g. 3 classes) still loads: the head is new anyway.
        ignore_mismatched_sizes=True,
    )
    if _looks_like_path(spec):
        return AutoModelForSequenceClassification.from_pretrained(_check_local(spec), **kwargs)
    try:
        return AutoModelForSequenceClassification.from_pretrained(spec, **kwargs)
    except (OSError, ValueError) as err:
        raise _hub_error(spec, "weights", err) from err


def count_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())
