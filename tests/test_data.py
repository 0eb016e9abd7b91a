import json

import pandas as pd
import pytest
from conftest import RTE, SST5, require

from sentiflow.data import (
    Columns,
    DataError,
    hold_out_groups,
    load_file_split,
    load_hub_split,
    prepare,
    read_split,
    rows_inside,
    subsample_groups,
    take_rows,
)
from sentiflow.nesting import word_key

COLUMNS = Columns(("sentence",), "label", ("negative", "positive"))


def dataset_config(train, validation, **extra):
    return {
        "source": "files",
        "files": {"train": str(train), "validation": str(validation), "format": "auto"},
        "text_column": "sentence",
        "label_column": "label",
        "labels": ["negative", "positive"],
        "max_train_rows": None,
        "holdout_rows": 0,
        "seed": 0,
        **extra,
    }


def outputs(folder):
    return {name: folder / f"{name}.parquet" for name in ("train", "validation", "holdout")} | {
        "card": folder / "card.json"
    }


def test_glue_tsv_loads_unquoted_text_verbatim(tmp_path):
    # GLUE rows: no quoting, a lone '"' is text, and every sentence ends in a space before the tab.
    path = tmp_path / "dev.tsv"
    path.write_text(
        "sentence\tlabel\nit 's a \" charming \" film \t1\nnull \t0\nthe plot is n't , well , anything \t0\n"
    )
    frame = load_file_split(path, COLUMNS)
    assert frame["text"].tolist() == ['it \'s a " charming " film', "null", "the plot is n't , well , anything"]
    assert frame["label"].tolist() == [1, 0, 0]
    assert frame["index"].tolist() == [0, 1, 2]


def test_real_sst2_dev_split(sst2_dir):
    frame = load_file_split(sst2_dir / "dev.tsv", COLUMNS)
    assert len(frame) == 872
    assert frame["label"].value_counts().to_dict() == {1: 444, 0: 428}
    assert frame["text"].iloc[0] == "it 's a charming and often affecting journey ."


@pytest.mark.parametrize("suffix", ["csv", "parquet", "jsonl"])
def test_other_formats_give_the_same_canonical_split(tmp_path, suffix):
    raw = pd.DataFrame({"review": ['a "quoted, comma" one', "plain bad"], "y": ["positive", "0"]})
    path = tmp_path / f"data.{suffix}"
    if suffix == "csv":
        raw.to_csv(path, index=False)
    elif suffix == "parquet":
        raw.to_parquet(path)
    else:
        raw.to_json(path, orient="records", lines=True)
    frame = load_file_split(path, Columns(("review",), "y", ("negative", "positive")))
    assert frame["text"].tolist() == ['a "quoted, comma" one', "plain bad"]
    assert frame["label"].tolist() == [1, 0]


@pytest.mark.parametrize(
    "content, message",
    [
        ("sentence\tlabel\ngood \t1\n \t0\n", r"bad\.tsv: line 3: empty text"),
        (
            "sentence\tlabel\ngood \t1\nfine \t2\n",
            r"bad\.tsv: line 3: label '2' is not in the label set: 0 \(negative\), 1 \(positive\)",
        ),
        ("sentence\tlabel\ngood \t1\nfine \t\n", r"bad\.tsv: line 3: missing label"),
        ("sentence\tscore\ngood \t1\n", r"bad\.tsv: missing label column 'label' \(columns found: sentence, score\)"),
        ("sentence\tlabel\n", r"bad\.tsv: no data rows"),
        ("", r"bad\.tsv: empty file"),
        ("sentence\tlabel\ngood \t1\nto\tmany\tfields\n", r"bad\.tsv: unreadable tsv: .*line 3"),
    ],
)
def test_bad_tsv_names_file_line_and_problem(tmp_path, content, message):
    path = tmp_path / "bad.tsv"
    path.write_text(content)
    with pytest.raises(DataError, match=message):
        load_file_split(path, COLUMNS)


def test_missing_and_undecodable_files(tmp_path):
    with pytest.raises(DataError, match=r"nope\.tsv: file not found"):
        load_file_split(tmp_path / "nope.tsv", COLUMNS)
    path = tmp_path / "latin1.tsv"
    path.write_bytes("sentence\tlabel\ncaf\xe9 \t1\n".encode("latin-1"))
    # The issue a user hit: the byte sits on line 2 at file offset 18, not "at byte 3" of a parser's chunk.
    with pytest.raises(DataError, match=r"latin1\.tsv: line 2: not valid UTF-8 \(byte 0xe9 at file offset 18\)"):
        load_file_split(path, COLUMNS)
    later = tmp_path / "later.tsv"
    later.write_bytes(b"sentence\tlabel\n" + b"fine \t1\n" * 5000 + b"bad \xff\t0\n")
    with pytest.raises(
        DataError, match=rf"later\.tsv: line 5002: not valid UTF-8 \(byte 0xff at file offset {15 + 8 * 5000 + 4}\)"
    ):
        load_file_split(later, COLUMNS)


def test_jsonl_errors_name_the_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"sentence": "ok", "label": 1}\n{"sentence": "broken", "label": \n')
    with pytest.raises(DataError, match=r"bad\.jsonl: line 2: invalid JSON"):
        load_file_split(path, COLUMNS)
    path.write_text('{"sentence": "ok", "label": 1}\n{"sentence": 5, "label": 0}\n')
    with pytest.raises(DataError, match=r"bad\.jsonl: line 2: text is int, not a string"):
        load_file_split(path, COLUMNS)


def test_take_rows_is_seeded_and_disjoint():
    frame = pd.DataFrame(
        {"index": range(100), "text": [f"t{i}" for i in range(100)], "label": [i % 2 for i in range(100)]}
    )
    taken, rest = take_rows(frame, 10, seed=3)
    again, _ = take_rows(frame, 10, seed=3)
    other, _ = take_rows(frame, 10, seed=4)
    assert taken["index"].tolist() == again["index"].tolist() != other["index"].tolist()
    assert set(taken["index"]).isdisjoint(rest["index"]) and len(rest) == 90
    assert taken["index"].is_monotonic_increasing


# Three treebank-like sentences with their phrases, "the film" in two of them, a sentence alone, and a twin.
NESTED = [
    "a dull , lifeless film", "dull , lifeless", "lifeless film", "the film",        # 0-3: sentence 0
    "the film is a gem", "a gem", "gem",                                              # 4-6: sentence 4, "the film" too
    "i liked the film", "liked",                                                      # 7-8: sentence 7, "the film" too
    "no phrase here",                                                                 # 9
    "a gem",                                                                          # 10: a twin of row 5, inside 4
]  # fmt: skip


def frame_of(texts):
    return pd.DataFrame({"index": range(len(texts)), "text": texts, "label": [i % 2 for i in range(len(texts))]})


def brute_force_inside(inner, outer):
    """The definition, text by text: a text's words are a contiguous run of another text's words."""
    return sum(any(word_key(a) in word_key(b) for b in outer) for a in inner)


def test_the_holdout_takes_whole_sentences_and_nothing_of_them_stays_in_training():
    frame = frame_of(NESTED)
    seen, sides = set(), set()
    for seed, target in ((seed, target) for seed in range(30) for target in (1, 3, 8)):
        holdout, train, how = hold_out_groups(frame, target, seed)
        held, kept = holdout["text"].tolist(), train["text"].tolist()
        # No held-out row is part of a training row, and no training row is part of a held-out one.
        assert brute_force_inside(held, kept) == 0 == brute_force_inside(kept, held)
        assert rows_inside(holdout, train) == 0 == rows_inside(train, holdout)
        # Whole groups: a held-out sentence takes every phrase only it holds; a phrase it shares with a kept sentence
        # ("the film") is dropped from both sides and counted.
        shared = "the film" in held or "the film" in kept
        assert len(held) + len(kept) + how["dropped_rows"] == len(NESTED)
        assert how["dropped_rows"] == (0 if shared else 1)
        assert how["grouped"] and how["groups"] == 4 and how["largest_group"] == 5 and len(held) >= target
        sides.add("held" if "the film" in held else "kept" if "the film" in kept else "dropped")
        if "gem" in held:
            assert held.count("a gem") == 2  # twins go together
        seen.add(tuple(sorted(holdout["index"])))
        # Seeded: the same seed draws the same rows.
        assert hold_out_groups(frame, target, seed)[0]["index"].tolist() == holdout["index"].tolist()
    assert len(seen) > 6 and sides == {"held", "kept", "dropped"}


def test_a_subsample_takes_whole_sentences():
    frame = frame_of(NESTED)
    for seed in range(20):
        sample = subsample_groups(frame, 5, seed)["text"].tolist()
        assert len(sample) >= 5
        for sentence, phrases in (("a dull , lifeless film", NESTED[1:4]), ("the film is a gem", NESTED[3:7])):
            assert sentence not in sample or all(phrase in sample for phrase in phrases)
        assert subsample_groups(frame, 5, seed)["text"].tolist() == sample


def test_without_nesting_the_holdout_is_the_flat_draw():
    # Sentence pairs, and texts none of which is part of another: every row its own group, the rows of before.
    flat = frame_of([f"sentence number {i} here" for i in range(50)])
    held, kept, how = hold_out_groups(flat, 7, seed=3)
    flat_held, flat_kept = take_rows(flat, 7, seed=3)
    assert held.equals(flat_held) and kept.equals(flat_kept)
    assert how == {"grouped": False, "groups": 50, "largest_group": 1, "held_out_groups": 7, "dropped_rows": 0}
    pairs = flat.assign(text_pair=flat["text"].str.upper())
    assert hold_out_groups(pairs, 7, seed=3)[0].equals(take_rows(pairs, 7, seed=3)[0])
    # A pair is part of no other pair, but its twins (both texts equal, case and space aside) go with it.
    twinned = pd.concat(
        [pairs, pairs.iloc[[4]].assign(index=50, text_pair="Sentence  Number 4 Here")], ignore_index=True
    )
    for seed in range(20):
        held, kept, how = hold_out_groups(twinned, 7, seed)
        assert rows_inside(held, kept) == 0 == rows_inside(kept, held) and how["grouped"] and how["groups"] == 50
        assert {4, 50} <= set(held["index"]) or not {4, 50} & set(held["index"])
    assert subsample_groups(flat, 9, seed=1).equals(take_rows(flat, 9, seed=1)[0])


def test_the_old_flat_holdout_of_sst2_was_mostly_phrases_of_training_rows(sst2_dir):
    # Why the holdout takes groups: drawn flat from all 67,349 rows, 1,787 of 2,000 held-out rows sit inside a
    # training row (89%), and 8,220 training rows inside a held-out one. Grouped: none either way.
    train = load_file_split(sst2_dir / "train.tsv", COLUMNS)
    flat_held, flat_kept = take_rows(train, 2000, seed=0)
    assert rows_inside(flat_held, flat_kept) == 1787 and rows_inside(flat_kept, flat_held) == 8220
    held, kept, how = hold_out_groups(train, 2000, seed=0)
    assert rows_inside(held, kept) == 0 == rows_inside(kept, held)
    assert how["groups"] == 6882 and how["largest_group"] == 53 and 2000 <= len(held) < 2053
    assert len(held) + len(kept) + how["dropped_rows"] == 67349


def test_a_split_is_read_back_in_index_order(tmp_path):
    # Predictions are joined to sentences by position after sorting both by index; a split stored in another
    # order (a hand-made or older file) must not pair sentences with other sentences' predictions.
    stored = pd.DataFrame(
        {"index": [7, 2, 5], "text": ["seven", "two", "five"], "label": [1, 0, 1]}, index=[10, 11, 12]
    )
    stored.to_parquet(tmp_path / "validation.parquet")
    split = read_split(tmp_path / "validation.parquet")
    assert split["index"].tolist() == [2, 5, 7] and split["text"].tolist() == ["two", "five", "seven"]
    assert split.index.tolist() == [0, 1, 2]


def test_prepare_writes_splits_holdout_and_card(sst2_dir, tmp_path):
    out = outputs(tmp_path)
    card = prepare(
        dataset_config(sst2_dir / "train.tsv", sst2_dir / "dev.tsv", max_train_rows=3000, holdout_rows=200),
        "sst2",
        **out,
    )
    train, holdout = pd.read_parquet(out["train"]), pd.read_parquet(out["holdout"])
    # Whole treebank sentences with their phrases: the sizes are targets, overshot by less than one sentence's rows.
    largest = card["nesting"]["largest_group"]
    assert 3000 <= len(train) < 3000 + largest and 200 <= len(holdout) < 200 + largest
    assert set(train["index"]).isdisjoint(holdout["index"])
    # The holdout does not depend on how much of the rest is used for training.
    bigger = outputs(tmp_path / "bigger")
    prepare(
        dataset_config(sst2_dir / "train.tsv", sst2_dir / "dev.tsv", max_train_rows=5000, holdout_rows=200),
        "sst2",
        **bigger,
    )
    assert pd.read_parquet(bigger["holdout"])["index"].tolist() == holdout["index"].tolist()

    assert json.loads(out["card"].read_text()) == card
    assert card["splits"]["validation"]["rows"] == 872
    assert card["splits"]["validation"]["label_counts"] == {"negative": 428, "positive": 444}
    assert card["splits"]["train"]["label_counts"]["positive"] == int(train["label"].sum())
    assert card["sources"]["validation"]["sha256"] == "54a9c12c77e402fc14d6a66a506f24d999f596b0176eb777c972cccc2f9cc4b0"
    assert card["validation_in_train"] == 0
    assert card["nesting"] | {"held_out_groups": 0, "dropped_rows": 0} == {
        "grouped": True, "groups": 6882, "largest_group": 53, "held_out_groups": 0, "dropped_rows": 0,
        "holdout_inside_train": 0, "train_inside_holdout": 0, "validation_inside_train": 1,
    }  # fmt: skip
    assert card["nesting"]["held_out_groups"] > 10 and card["nesting"]["dropped_rows"] > 0


def test_prepare_counts_overlap_and_leaves_nothing_on_error(tmp_path):
    train = tmp_path / "train.tsv"
    train.write_text("sentence\tlabel\nGood  film \t1\nbad film \t0\nbad film \t0\n")
    validation = tmp_path / "dev.tsv"
    validation.write_text("sentence\tlabel\ngood film \t1\nnew one \t0\n")
    card = prepare(dataset_config(train, validation), "test", **outputs(tmp_path / "ok"))
    assert card["validation_in_train"] == 1 and card["train_duplicates"] == 1

    validation.write_text("sentence\tlabel\ngood film \t1\nnew one \tmaybe\n")
    out = outputs(tmp_path / "failed")
    with pytest.raises(DataError, match=r"dev\.tsv: line 3: label 'maybe'"):
        prepare(dataset_config(train, validation), "test", **out)
    assert not any(path.exists() for path in out.values())
    assert not (tmp_path / "failed").exists() or not any((tmp_path / "failed").iterdir())


def test_hub_loader_reads_a_local_dataset_folder(tmp_path):
    # The same `datasets.load_dataset` call users make against the hub, pointed at a local folder.
    folder = tmp_path / "my_dataset"
    folder.mkdir()
    pd.DataFrame({"sentence": ["nice", "awful"], "label": [1, 0]}).to_csv(folder / "train.csv", index=False)
    pd.DataFrame({"sentence": ["ok then"], "label": [1]}).to_csv(folder / "validation.csv", index=False)
    frame = load_hub_split(str(folder), None, "validation", COLUMNS)
    assert frame.to_dict("list") == {"index": [0], "text": ["ok then"], "label": [1]}


def test_unreachable_hub_dataset_says_how_to_use_local_files():
    with pytest.raises(
        DataError,
        match=r"hub dataset glue/sst2 split 'train': could not be loaded.*source: files and point its files\.train",
    ):
        load_hub_split("glue", "sst2", "train", COLUMNS)


def test_cleaning_is_off_unless_asked_and_counts_what_it_changed(tmp_path):
    train = tmp_path / "train.tsv"
    train.write_text(
        "sentence\tlabel\nA -LRB- good -RRB- film<br />Really .\t1\nwriter\\/director ``  fine  ''\t1\nbad\t0\n"
    )
    validation = tmp_path / "dev.tsv"
    validation.write_text("sentence\tlabel\nnice<BR/>one\t1\n")
    raw = prepare(dataset_config(train, validation), "raw", **outputs(tmp_path / "raw"))
    assert raw["cleaning"] == {"steps": [], "texts_changed": {"train": {}, "validation": {}}}
    assert pd.read_parquet(tmp_path / "raw" / "train.parquet")["text"][0] == "A -LRB- good -RRB- film<br />Really ."

    clean = {"html_breaks": True, "ptb_escapes": True, "whitespace": True}
    card = prepare(dataset_config(train, validation, clean=clean), "clean", **outputs(tmp_path / "clean"))
    texts = pd.read_parquet(tmp_path / "clean" / "train.parquet")["text"].tolist()
    assert texts == ["A ( good ) film Really .", 'writer/director " fine "', "bad"]
    assert pd.read_parquet(tmp_path / "clean" / "validation.parquet")["text"].tolist() == ["nice one"]
    assert card["cleaning"] == {
        "steps": ["html_breaks", "ptb_escapes", "whitespace"],
        "texts_changed": {
            "train": {"html_breaks": 1, "ptb_escapes": 2, "whitespace": 1},
            "validation": {"html_breaks": 1, "ptb_escapes": 0, "whitespace": 0},
        },
    }


def test_mojibake_repair_on_real_rte_changes_only_the_mojibake(tmp_path):
    pytest.importorskip("ftfy", reason="clean.mojibake needs ftfy (requirements.txt)")
    rte = require(RTE)
    pairs = {
        "text_column": None,
        "text_columns": ["sentence1", "sentence2"],
        "labels": ["entailment", "not_entailment"],
    }
    config = dataset_config(rte / "train.tsv", rte / "dev.tsv", **pairs)
    prepare(config, "raw", **outputs(tmp_path / "raw"))
    card = prepare(config | {"clean": {"mojibake": True}}, "rte", **outputs(tmp_path / "fixed"))
    # dev.tsv line 240 reads "Iraqâ\x80\x99s": the UTF-8 bytes of U+2019 decoded as Latin-1. The quote stays curly.
    raw, fixed = (read_split(tmp_path / folder / "validation.parquet") for folder in ("raw", "fixed"))
    assert "Iraq\u00e2\x80\x99s interim" in raw.loc[238, "text"]
    assert fixed.loc[238, "text"] == raw.loc[238, "text"].replace("Iraq\u00e2\x80\x99s", "Iraq\u2019s")
    # Nothing else changes: São Paulo, Inácio, the em dashes and € of other pairs are text, not mojibake.
    assert (raw.drop(index=238) == fixed.drop(index=238)).all().all()
    train_raw, train_fixed = (read_split(tmp_path / folder / "train.parquet") for folder in ("raw", "fixed"))
    changed = (train_raw[["text", "text_pair"]] != train_fixed[["text", "text_pair"]]).any(axis=1)
    assert changed.sum() == 3 and train_fixed.loc[changed, "text"].str.contains("Iraq\u2019s|£|ó").all()
    assert (
        train_raw["text"].str.contains("São Paulo|Inácio").sum()
        == train_fixed["text"].str.contains("São Paulo|Inácio").sum()
        > 0
    )
    assert card["cleaning"] == {
        "steps": ["mojibake"],
        "texts_changed": {"train": {"mojibake": 3}, "validation": {"mojibake": 1}},
    }


def test_mojibake_repair_leaves_correct_text_as_written(tmp_path):
    pytest.importorskip("ftfy", reason="clean.mojibake needs ftfy (requirements.txt)")
    # ftfy's fix_text would straighten the quotes, decode &amp; and split the ﬁ ligature: none of them is mojibake.
    written = "a “clichéd” café &amp; a ﬁne ２ hours — naïve"
    train = tmp_path / "train.tsv"
    train.write_text(f"sentence\tlabel\n{written}\t1\nIt\u00e2\x80\x99s fine\t0\n", encoding="utf-8")
    card = prepare(dataset_config(train, train, clean={"mojibake": True}), "x", **outputs(tmp_path))
    assert read_split(tmp_path / "train.parquet")["text"].tolist() == [written, "It\u2019s fine"]
    assert card["cleaning"]["texts_changed"]["train"] == {"mojibake": 1}


def test_a_text_that_cleaning_empties_is_named_with_file_and_line(tmp_path):
    train = tmp_path / "train.tsv"
    train.write_text("sentence\tlabel\ngood\t1\n<br />\t0\n")
    out = outputs(tmp_path / "out")
    with pytest.raises(DataError, match=r"train\.tsv: line 3: empty text after cleaning"):
        prepare(dataset_config(train, train, clean={"html_breaks": True}), "x", **out)
    assert not any(path.exists() for path in out.values())


def test_sst5_five_classes_with_the_treebank_escapes_cleaned(tmp_path):
    sst5 = require(SST5)
    columns = {"labels": ["very negative", "negative", "neutral", "positive", "very positive"]}
    card = prepare(
        dataset_config(sst5 / "train.tsv", sst5 / "dev.tsv", clean={"ptb_escapes": True}, **columns),
        "sst5",
        **outputs(tmp_path),
    )
    # The published split sizes and class counts (../shared/data/sst5/SOURCE.md)
    assert card["splits"]["train"]["rows"] == 8544 and card["splits"]["validation"]["rows"] == 1101
    assert list(card["splits"]["validation"]["label_counts"].values()) == [139, 289, 229, 279, 165]
    assert card["splits"]["train"]["label_counts"]["very negative"] == 1092
    texts = pd.read_parquet(tmp_path / "train.parquet")["text"]
    assert not texts.str.contains("-LRB-|-RRB-|\\\\/", regex=True).any()
    raw = pd.read_csv(sst5 / "train.tsv", sep="\t", quoting=3)["sentence"]
    escaped = raw.str.contains("-LRB-|-RRB-|-LSB-|-RSB-|-LCB-|-RCB-|\\\\/|\\\\\\*|``|''", regex=True)
    assert card["cleaning"]["texts_changed"]["train"]["ptb_escapes"] == int(escaped.sum()) > 344
