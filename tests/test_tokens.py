import json

import numpy as np
import pandas as pd

from sentiflow.train.modeling import load_tokenizer
from sentiflow.train.tokens import (
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
