import json

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import build_tiny_backbone, toy_frame

from sentiflow.behaviour.score import checkpoint_probs
from sentiflow.errors import attribution
from sentiflow.train.evaluation import logits_in_order
from sentiflow.train.modeling import load_classifier, load_tokenizer, load_trained
from sentiflow.train.tokens import (
    Tokenization,
    TokenizationError,
    encode,
    length_stats,
    load_encoded,
    resolve_max_length,
    save_encoded,
    tokenize_dataset,
)


def test_batches_pad_to_their_longest_row_only(tiny_bert):
    tokenizer = load_tokenizer(str(tiny_bert))
    frame = pd.DataFrame(
        {"index": [5, 6, 7], "text": ["good", "the movie was awful and dull", "fine film"], "label": [1, 0, 1]}
    )
    enc = encode(tokenizer, frame, max_length=128)
    assert enc.lengths.tolist() == [3, 8, 4]  # [CLS] ... [SEP]
    batch = enc.batch(np.array([0, 2]), tokenizer.pad_token_id)
    assert batch["input_ids"].shape == (2, 4)
    assert batch["attention_mask"].sum(1).tolist() == [3, 4]
    assert batch["input_ids"][0, 3].item() == tokenizer.pad_token_id
    assert batch["input_ids"][1].tolist() == tokenizer("fine film")["input_ids"]
    assert tokenizer.unk_token_id not in enc.ids  # every toy word is in the vocabulary
    assert batch["labels"].tolist() == [1, 1]


def test_truncation_and_max_length(tiny_bert):
    tokenizer = load_tokenizer(str(tiny_bert))
    assert resolve_max_length(tokenizer) == 128
    assert resolve_max_length(tokenizer, requested=16) == 16
    frame = pd.DataFrame({"index": [0, 1, 2], "text": ["good " * 50, "good " * 14, "good bad"], "label": [1, 1, 0]})
    enc = encode(tokenizer, frame, max_length=16)
    assert enc.lengths.tolist() == [16, 16, 4]
    # Cut by the tokenizer's own truncation: [CLS] good ... good [SEP]
    assert enc.ids[:16].tolist() == tokenizer("good " * 50, truncation=True, max_length=16)["input_ids"]
    # 52 tokens cut to 16; a text of exactly 16 tokens loses nothing and is not counted as truncated.
    assert enc.cut.tolist() == [36, 0, 0]
    stats = length_stats(enc, 16)
    assert (stats["truncated"], stats["tokens_cut"], stats["max_cut"]) == (1, 36, 36)


def test_cache_round_trip(tiny_bert, tmp_path):
    tokenizer = load_tokenizer(str(tiny_bert))
    frame = pd.DataFrame({"index": [0, 1], "text": ["good", "bad film"], "label": [1, 0]})
    enc = encode(tokenizer, frame, 128)
    save_encoded(tmp_path / "t.npz", {"train": enc, "holdout": encode(tokenizer, frame.iloc[:0], 128)}, {"pad_id": 0})
    splits, meta = load_encoded(tmp_path / "t.npz")
    assert meta == {"pad_id": 0} and len(splits["holdout"]) == 0
    for field in ("ids", "offsets", "labels", "index"):
        np.testing.assert_array_equal(getattr(splits["train"], field), getattr(enc, field))


def test_tokenize_dataset_writes_cache_and_stats(tiny_bert, tmp_path):
    paths = {}
    for name, texts in (("train", ["good", "a bad film"]), ("validation", ["fine"])):
        paths[name] = tmp_path / f"{name}.parquet"
        pd.DataFrame({"index": range(len(texts)), "text": texts, "label": [1] * len(texts)}).to_parquet(paths[name])
    stats = tokenize_dataset(str(tiny_bert), paths, None, tmp_path / "tok.npz", tmp_path / "tok.json")
    assert json.loads((tmp_path / "tok.json").read_text()) == stats
    assert stats["max_length"] == 128 and stats["splits"]["train"]["tokens"] == 3 + 5
    assert stats["splits"]["train"]["truncated"] == 0 and stats["splits"]["train"]["tokens_cut"] == 0
    cut = tokenize_dataset(str(tiny_bert), paths, 4, tmp_path / "cut.npz", tmp_path / "cut.json")["splits"]["train"]
    assert (cut["truncated"], cut["tokens_cut"], cut["max_cut"], cut["max"]) == (1, 1, 1, 4)  # "a bad film": 5 tokens


def saved_pairs(folder, n=24):
    """A pair task's train and validation files; every third first text is long enough to be cut at 20 tokens."""
    paths = {}
    for name, seed in (("train", 1), ("validation", 2)):
        frame = toy_frame(n, seed).assign(text_pair=toy_frame(n, seed + 10)["text"])
        frame.loc[::3, "text"] = frame.loc[::3, "text"] + " and the plot was dull" * 4
        paths[name] = folder / f"{name}.parquet"
        frame.to_parquet(paths[name])
    return paths


@pytest.mark.parametrize("family", ["bert", "deberta-v2"])
def test_training_attribution_and_the_behavioural_tests_read_one_tokenization(family, tiny_bert, tmp_path):
    """The tokenize rule decides once where texts are cut and whether segment ids go with them; the attribute and
    behaviour_encoder rules read that decision from its stats file. Here training.max_length (20) is below the
    model's maximum (128), and DeBERTa-v3's tokenizer makes segment ids that its model does not read (no segment
    embedding): the texts the attribution tokenizes and the probabilities the behavioural tests score must be
    exactly those of the token cache training reads, not of a second resolution of the config or the model."""
    folder = tiny_bert if family == "bert" else build_tiny_backbone(family, tmp_path / family)
    paths = saved_pairs(tmp_path)
    stats = tokenize_dataset(str(folder), paths, 20, tmp_path / "t.npz", tmp_path / "t.json")
    tokenization = Tokenization.read(tmp_path / "t.json")
    assert tokenization == Tokenization(20, segment_ids=family == "bert")
    assert stats["splits"]["validation"]["truncated"] == 8
    cache, meta = load_encoded(tmp_path / "t.npz")
    validation = cache["validation"]
    assert (validation.types is not None) is tokenization.segment_ids

    torch.manual_seed(0)
    model = load_classifier(str(folder), ["negative", "positive"])
    for module in model.modules():  # weights that move the probabilities with every token
        if isinstance(module, torch.nn.Linear):
            torch.nn.init.normal_(module.weight, std=0.3)
    model.save_pretrained(tmp_path / "model")
    load_tokenizer(str(folder)).save_pretrained(tmp_path / "model")
    model, tokenizer = load_trained(tmp_path / "model")
    model.eval()
    with torch.inference_mode():
        trained = np.concatenate([torch.softmax(logits, -1).numpy()
                                  for _, logits in logits_in_order(model, validation, meta["pad_id"], 8, "cpu")])  # fmt: skip
    frame = pd.read_parquet(paths["validation"])
    texts, pairs = frame["text"].tolist(), frame["text_pair"].tolist()

    # The behavioural tests score what training scored.
    scored = checkpoint_probs(tmp_path / "model", list(zip(texts, pairs)), tokenization, "cpu")
    np.testing.assert_allclose(scored, trained, atol=1e-5)
    # The attribution integrates over the same tokens, with segment ids exactly where training fed them.
    for j, sentence in enumerate(attribution.encode(tokenizer, texts, pairs, model, tokenization)):
        row = slice(validation.offsets[j], validation.offsets[j + 1])
        assert sentence.inputs["input_ids"] == validation.ids[row].tolist()
        assert ("token_type_ids" in sentence.inputs) is tokenization.segment_ids
        if tokenization.segment_ids:
            assert sentence.inputs["token_type_ids"] == validation.types[row].tolist()
    # A second resolution from the model would cut at its maximum instead and score other probabilities.
    own = Tokenization.of(tokenizer, model.config, pairs=True)
    assert own == Tokenization(128, tokenization.segment_ids)
    uncut = checkpoint_probs(tmp_path / "model", list(zip(texts, pairs)), own, "cpu")
    assert np.abs(uncut - trained)[::3].max() > 1e-3 and np.allclose(uncut[1::3], trained[1::3], atol=1e-5)


def test_a_stats_file_without_the_decision_is_named(tmp_path):
    path = tmp_path / "minilm.json"
    path.write_text(json.dumps({"model": "m", "max_length": 128}))
    with pytest.raises(TokenizationError, match=rf"{path} lacks segment_ids: rerun the tokenize rule"):
        Tokenization.read(path)
    path.write_text(json.dumps({"max_length": "128", "segment_ids": False}))
    with pytest.raises(TokenizationError, match=r"max_length is '128', not a positive integer"):
        Tokenization.read(path)
