"""Load a backbone (hub id or local folder) as a tokenizer and a fresh sequence-classification model."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path


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


def takes_segment_ids(backbone) -> bool:
    """Whether the backbone's sequence classifier reads segment ids: its forward takes `token_type_ids` and it has
    more than one segment embedding (RoBERTa has one, DeBERTa-v3 none, DistilBERT and ModernBERT take none).
    `backbone`: a hub id or folder, or its loaded transformers config. Whether a job feeds them is decided by
    `tokens.Tokenization.of`, which asks this."""
    import inspect

    import transformers
    from transformers.models.auto.modeling_auto import MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES

    config = load_config(str(backbone)) if isinstance(backbone, str | Path) else backbone
    classifier = getattr(transformers, MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES[config.model_type])
    accepts = "token_type_ids" in inspect.signature(classifier.forward).parameters
    return accepts and getattr(config, "type_vocab_size", 2) > 1


def _declared_model_type(where) -> str | None:
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
    """A pre-trained encoder with a new, randomly initialised classification head of len(labels) outputs, in fp32.

    transformers 5 loads weights in the dtype they are stored in; fine-tuning fp16 or bf16 master weights makes
    AdamW's small updates vanish and the loss overflow (an fp16-stored MiniLM stopped with a NaN loss at step
    169). So the weights are always upcast to fp32 (mixed precision stays in autocast), and the new head is
    initialised in fp32, exactly as for an fp32-stored copy. The head is drawn from torch's global RNG, so seed
    before calling this. `classifier_dropout` replaces the checkpoint's dropout before the head (None keeps it).
    """
    import torch
    from transformers import AutoModelForSequenceClassification

    kwargs = {
        "num_labels": len(labels),
        "id2label": dict(enumerate(labels)),
        "label2id": {name: i for i, name in enumerate(labels)},
        # A checkpoint saved with another head size (e.g. 3 classes) still loads: the head is new anyway.
        "ignore_mismatched_sizes": True,
        "dtype": torch.float32,
    }
    if classifier_dropout is not None:
        kwargs[head_dropout_setting(spec)] = classifier_dropout
    if _looks_like_path(spec):
        return AutoModelForSequenceClassification.from_pretrained(_check_local(spec), **kwargs)
    try:
        return AutoModelForSequenceClassification.from_pretrained(spec, **kwargs)
    except (OSError, ValueError) as err:
        raise _hub_error(spec, "weights", err) from err


def load_trained(folder: str | Path):
    """A checkpoint the train rule published (its trained head included) in fp32, and its tokenizer."""
    import torch
    from transformers import AutoModelForSequenceClassification

    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(f"{folder}: no published checkpoint here (no config.json); run its train rule again")
    model = AutoModelForSequenceClassification.from_pretrained(folder, dtype=torch.float32)
    return model, load_tokenizer(str(folder))


def count_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())


SAFETENSORS_DTYPES = {"F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16"}


def stored_dtype(spec: str) -> str | None:
    """The dtype most of a checkpoint's weights are stored in, read from its safetensors files (a hub model's from
    the local cache, where loading it put them); None when there are none (weights in .bin files)."""
    from safetensors import safe_open

    counts: dict[str, int] = {}
    for path in _weight_files(spec):
        with safe_open(str(path), framework="pt") as weights:
            for name in weights.keys():  # noqa: SIM118 (safe_open is no mapping)
                tensor = weights.get_slice(name)
                counts[tensor.get_dtype()] = counts.get(tensor.get_dtype(), 0) + math.prod(tensor.get_shape())
    if not counts:
        return None
    dtype = max(counts, key=counts.get)
    return SAFETENSORS_DTYPES.get(dtype, dtype.lower())


def _weight_files(spec: str) -> list[Path]:
    if _looks_like_path(spec):
        return sorted(_check_local(spec).glob("*.safetensors"))
    from huggingface_hub import try_to_load_from_cache

    single = try_to_load_from_cache(spec, "model.safetensors")
    if isinstance(single, str):
        return [Path(single)]
    index = try_to_load_from_cache(spec, "model.safetensors.index.json")
    if isinstance(index, str):
        shards = sorted(set(json.loads(Path(index).read_text())["weight_map"].values()))
        return [Path(index).parent / shard for shard in shards]
    return []
