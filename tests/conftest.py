"""Shared fixtures: the offline assets in ../shared, a tiny randomly initialised BERT, a learnable toy set."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

# No test may reach the network; the hub code paths must fail fast and clearly instead.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
MINILM = SHARED / "models" / "minilm-l6-h384-uncased"
SST2 = SHARED / "data" / "sst2"
SST5 = SHARED / "data" / "sst5"
RTE = SHARED / "data" / "rte"

POSITIVE = ["good", "great", "excellent", "wonderful", "fine", "lovely", "best", "happy", "brilliant", "superb"]
NEGATIVE = ["bad", "awful", "terrible", "poor", "worst", "boring", "dull", "sad", "horrible", "ugly"]
FILLER = ["the", "movie", "film", "story", "was", "is", "a", "an", "and", "of", "it", "this", "plot", "acting"]


def require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"needs the offline asset {path} (the ../shared folder beside the repository), which is absent")
    return path


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    return require(MINILM)


@pytest.fixture(scope="session")
def sst2_dir() -> Path:
    return require(SST2)


def _vocabulary() -> dict[str, int]:
    """The real uncased WordPiece vocabulary when ../shared has it, else a small one that covers the toy set."""
    if (MINILM / "vocab.txt").is_file():
        words = (MINILM / "vocab.txt").read_text(encoding="utf-8").splitlines()
    else:
        words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + sorted(set(POSITIVE + NEGATIVE + FILLER))
    return {word: i for i, word in enumerate(words)}


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    """A real BERT architecture with random weights (2 layers, hidden 32), saved as a local backbone folder."""
    import torch
    from transformers import BertConfig, BertForMaskedLM, BertTokenizer

    folder = tmp_path_factory.mktemp("tiny-bert")
    tokenizer = BertTokenizer(vocab=_vocabulary(), do_lower_case=True, model_max_length=128)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    torch.manual_seed(0)
    BertForMaskedLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def toy_frame(n: int, seed: int) -> pd.DataFrame:
    """Sentences whose label is decided by which sentiment word they contain: learnable by a tiny model."""
    rng = random.Random(seed)
    texts, labels = [], []
    for _ in range(n):
        label = rng.randint(0, 1)
        words = rng.sample(FILLER, 4) + [rng.choice(POSITIVE if label else NEGATIVE)]
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append(label)
    return pd.DataFrame({"index": np.arange(n), "text": texts, "label": labels})


@pytest.fixture(scope="session")
def toy_tokens(tiny_bert):
    """(train, validation, pad id) token caches of the toy set, encoded with the tiny model's tokenizer."""
    from sentiflow.train.modeling import load_tokenizer
    from sentiflow.train.tokens import encode

    tokenizer = load_tokenizer(str(tiny_bert))
    return encode(tokenizer, toy_frame(640, 1), 128), encode(tokenizer, toy_frame(200, 2), 128), tokenizer.pad_token_id


def write_run(
    folder, backbone, seed, probs_by_epoch, gold, holdout=None, variant="base", backbone_key=None, selected=None
):
    """A finished run's outputs as docs/outputs.md describes them. `selected`: the epoch of its checkpoint (by
    default the best on validation, earliest on ties, as `select_epoch: best` chooses)."""
    folder.mkdir(parents=True)
    n_epochs = len(probs_by_epoch)
    rows = []
    for epoch, probs in enumerate(probs_by_epoch, start=1):
        table = pd.DataFrame({"epoch": epoch, "index": np.arange(len(gold)), "gold": gold, "pred": probs.argmax(1)})
        for k in range(probs.shape[1]):
            table[f"prob_{k}"] = probs[:, k]
        rows.append(table)
    predictions = pd.concat(rows)
    predictions.to_csv(folder / "predictions.csv", index=False)
    accuracy = [float((p.argmax(1) == gold).mean()) for p in probs_by_epoch]
    pd.DataFrame(
        {
            "epoch": range(1, n_epochs + 1),
            "train_loss": np.linspace(0.5, 0.2, n_epochs),
            "val_loss": np.linspace(0.4, 0.5, n_epochs),
            "val_accuracy": accuracy,
            "train_seconds": 10.0,
            "eval_seconds": 1.0,
            "epoch_seconds": 11.0,
            "train_tokens_per_s": 1000.0,
            "train_sentences_per_s": 100.0,
        }
    ).to_csv(folder / "history.csv", index=False)
    pd.DataFrame(
        {
            "epoch": np.repeat(range(1, n_epochs + 1), 3),
            "step": range(1, 3 * n_epochs + 1),
            "loss": 0.5,
            "grad_norm": 1.0,
            "lr": 1e-5,
        }
    ).to_csv(folder / "steps.csv", index=False)
    (holdout if holdout is not None else predictions.iloc[:0]).to_csv(folder / "holdout_predictions.csv", index=False)
    metadata = {
        "select_epoch": "best" if selected is None else "holdout",
        "selected_epoch": int(np.argmax(accuracy)) + 1 if selected is None else selected,
        "epochs_trained": n_epochs,
        "backbone": f"hub/{backbone_key or backbone}",
        "run_name": backbone,
        "seed": seed,
        "parameters": 1000,
        "variant": variant,
        "backbone_key": backbone_key or backbone,
        "loop": {"name": "plain"},
        "total_seconds": 120.0,
        "peak_memory": {"host_rss_mb": 500.0},
        "hardware": {"device_name": "test CPU"},
    }
    (folder / "metadata.json").write_text(json.dumps(metadata))
    return folder / "metadata.json"


# The Snakemake workflow, run as users run it (a subprocess), from any working directory.
SNAKEMAKE = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile")]


def smoke_config(**changes) -> dict:
    """config/smoke.yaml with its ../shared paths made absolute, so it runs from any working directory."""
    config = yaml.safe_load((REPO / "config" / "smoke.yaml").read_text())
    for dataset in config["datasets"].values():
        for split in ("train", "validation"):
            dataset["files"][split] = str((REPO / dataset["files"][split]).resolve())
    for spec in config["backbones"].values():
        spec["model"] = str((REPO / spec["model"]).resolve())
    for entry in config["llm"]["models"].values():
        entry["path"] = str((REPO / entry["path"]).resolve())
    for suite in config["behaviour"].get("suites", {}).values():
        suite["path"] = str((REPO / suite["path"]).resolve())
    for section, values in changes.items():
        config[section] = config[section] | values if isinstance(values, dict) else values
    return config


def snakemake(
    workdir: Path, config: dict, *args: str, check: bool = True, env: dict | None = None
) -> subprocess.CompletedProcess:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    # Targets and options first: --configfile takes several values and would swallow a target after it.
    command = SNAKEMAKE + [*args, "--directory", str(workdir), "--configfile", str(workdir / "config.yaml")]
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if check and result.returncode != 0:
        raise AssertionError(
            f"snakemake failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
        )
    return result


@pytest.fixture(scope="session")
def smoke_run(tmp_path_factory):
    require(SHARED / "models" / "minilm-l6-h384-uncased")
    require(SST2)
    require(SST5)
    from sentiflow.config import study_config, with_defaults

    # SENTIFLOW_SMOKE_DIR: a smoke study's folder to bring up to date and test again, instead of a new one.
    workdir = Path(os.environ.get("SENTIFLOW_SMOKE_DIR") or tmp_path_factory.mktemp("smoke"))
    config = smoke_config()
    snakemake(workdir, config, "--cores", "2", "--resources", "gpu=1")
    # The tests read every setting the run used: the smoke file laid over the study, with the schema's defaults.
    return workdir, with_defaults(study_config(REPO / "config" / "config.yaml", config))


FAMILIES = ["roberta", "deberta-v2", "electra", "modernbert"]


def _trained_tokenizer(kind: str, specials: list[str]):
    """A tokenizer of the family's own algorithm with a vocabulary for the toy sentences: byte-level BPE trained on
    them (RoBERTa, ModernBERT), or a SentencePiece Unigram model (DeBERTa-v3) whose pieces are the toy words and
    every letter. The families' pre-trained vocabularies cannot be had offline."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    texts = toy_frame(2000, 7)["text"].tolist()
    if kind == "unigram":
        words = sorted({word for text in texts for word in text.split()})
        letters = sorted({letter for word in words for letter in word})
        pieces = (
            [(s, 0.0) for s in specials]
            + [("▁" + w, -2.0) for w in words]
            + [("▁", -4.0)]
            + [(c, -6.0) for c in letters]
        )
        tokenizer = Tokenizer(models.Unigram(pieces, unk_id=specials.index("[UNK]")))
        tokenizer.normalizer = normalizers.NFKC()
        tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
        tokenizer.decoder = decoders.Metaspace()
        return tokenizer
    tokenizer = Tokenizer(models.BPE(unk_token=None))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    tokenizer.train_from_iterator(
        texts, trainers.BpeTrainer(vocab_size=400, special_tokens=specials, initial_alphabet=alphabet)
    )
    return tokenizer


def _cls_sep(tokenizer, cls: str, sep: str):
    from tokenizers import processors

    ids = [(cls, tokenizer.token_to_id(cls)), (sep, tokenizer.token_to_id(sep))]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{cls} $A {sep}", pair=f"{cls} $A {sep} $B {sep}", special_tokens=ids
    )
    return tokenizer


def build_tiny_backbone(family: str, folder: Path) -> Path:
    """A randomly initialised model of `family` (2 layers, hidden 32) and its tokenizer, saved as a backbone folder."""
    import torch
    import transformers as hf
    from tokenizers import processors

    small = {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64}
    torch.manual_seed(0)
    if family == "roberta":
        inner = _trained_tokenizer("bpe", ["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
        inner.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0), add_prefix_space=False)
        tokenizer = hf.RobertaTokenizerFast(tokenizer_object=inner, bos_token="<s>", eos_token="</s>", sep_token="</s>", cls_token="<s>",
                                            unk_token="<unk>", pad_token="<pad>", mask_token="<mask>", model_max_length=128)  # fmt: skip
        model = hf.RobertaForMaskedLM(
            hf.RobertaConfig(vocab_size=len(tokenizer), max_position_embeddings=130, pad_token_id=1, **small)
        )
    elif family == "deberta-v2":  # DeBERTa-v3 is the deberta-v2 architecture with a SentencePiece tokenizer
        inner = _cls_sep(
            _trained_tokenizer("unigram", ["[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]"]), "[CLS]", "[SEP]"
        )
        tokenizer = hf.DebertaV2TokenizerFast(tokenizer_object=inner, bos_token="[CLS]", eos_token="[SEP]", unk_token="[UNK]", sep_token="[SEP]",
                                              pad_token="[PAD]", cls_token="[CLS]", mask_token="[MASK]", model_max_length=128)  # fmt: skip
        model = hf.DebertaV2ForMaskedLM(hf.DebertaV2Config(vocab_size=len(tokenizer), max_position_embeddings=128, pad_token_id=0,
                                                           relative_attention=True, pos_att_type=["p2c", "c2p"], position_buckets=16,
                                                           type_vocab_size=0, **small))  # fmt: skip
    elif family == "electra":  # the real uncased WordPiece vocabulary (ELECTRA's is BERT's) when ../shared has it
        tokenizer = hf.ElectraTokenizer(vocab=_vocabulary(), do_lower_case=True, model_max_length=128)
        model = hf.ElectraForPreTraining(
            hf.ElectraConfig(vocab_size=len(tokenizer), embedding_size=16, max_position_embeddings=128, **small)
        )
    elif family == "modernbert":
        inner = _cls_sep(_trained_tokenizer("bpe", ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"]), "[CLS]", "[SEP]")
        tokenizer = hf.PreTrainedTokenizerFast(tokenizer_object=inner, unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]",
                                               pad_token="[PAD]", mask_token="[MASK]", model_max_length=128)  # fmt: skip
        model = hf.ModernBertForMaskedLM(hf.ModernBertConfig(vocab_size=len(tokenizer), max_position_embeddings=128, pad_token_id=3,
                                                             cls_token_id=1, sep_token_id=2, bos_token_id=1, eos_token_id=2,
                                                             global_attn_every_n_layers=2, local_attention=16, **small))  # fmt: skip
    else:
        raise ValueError(family)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session", params=FAMILIES)
def tiny_family(request, tmp_path_factory) -> tuple[str, Path]:
    return request.param, build_tiny_backbone(request.param, tmp_path_factory.mktemp(request.param))
