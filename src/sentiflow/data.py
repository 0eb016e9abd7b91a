"""Load, validate and canonicalise sentence-classification splits.

Every split leaves this module as a DataFrame with the columns `index` (the row's position in its source split,
so predictions can always be traced back), `text`, `text_pair` (the second text, for sentence-pair tasks only)
and `label` (an integer class id).
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd

from sentiflow.atomic import write_json, write_parquet
from sentiflow.config import text_columns
from sentiflow.nesting import Nesting, inside_any, nesting, twins

FORMATS = {".tsv": "tsv", ".csv": "csv", ".parquet": "parquet", ".jsonl": "jsonl", ".json": "jsonl"}


class DataError(ValueError):
    """Input data that cannot be used; the message names the file, the row and the problem."""


# The canonical names of a split's texts: one text, or a pair (premise and hypothesis, two questions, ...).
TEXT_FIELDS = ("text", "text_pair")
TEXT, PAIR = TEXT_FIELDS


@dataclass(frozen=True)
class Columns:
    texts: tuple[str, ...]  # the source columns of the text, or of the two texts of a pair, in order
    label: str
    labels: tuple[str, ...]  # class names; a class id is its position here
    clean: tuple[str, ...] = ()  # names of CLEANERS steps applied to every text


def text_fields(frame: pd.DataFrame) -> list[str]:
    """The canonical text columns a prepared split has: `text`, and `text_pair` for a sentence-pair task."""
    return [field for field in TEXT_FIELDS if field in frame.columns]


def is_pair(frame: pd.DataFrame) -> bool:
    """Whether a prepared split (or a table with its text columns) holds sentence pairs."""
    return PAIR in frame.columns


def detect_format(path: Path, fmt: str | None = None) -> str:
    if fmt and fmt != "auto":
        return fmt
    suffixes = [s for s in path.suffixes if s != ".gz"]
    if suffixes and suffixes[-1] in FORMATS:
        return FORMATS[suffixes[-1]]
    raise DataError(f"{path}: cannot tell the format from the name; set files.format of this dataset in `datasets:`")


def read_table(path: str | Path, fmt: str | None = None) -> tuple[pd.DataFrame, Callable[[int], str]]:
    """Read a table and return it with a function that turns a row position into 'line N'/'row N'."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    fmt = detect_format(path, fmt)
    try:
        if fmt in ("tsv", "csv"):
            # GLUE TSVs are unquoted: a '"' inside a sentence is text, not a quote.
            frame = pd.read_csv(
                path,
                sep="\t" if fmt == "tsv" else ",",
                quoting=csv.QUOTE_NONE if fmt == "tsv" else csv.QUOTE_MINIMAL,
                dtype=str,
                keep_default_na=False,
                na_filter=False,
            )
            return frame, lambda i: f"line {i + 2}"
        if fmt == "parquet":
            return pd.read_parquet(path), lambda i: f"row {i}"
        if fmt == "jsonl":
            return _read_jsonl(path), lambda i: f"line {i + 1}"
    except DataError:
        raise
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: {_invalid_utf8(path)}") from err
    except pd.errors.EmptyDataError as err:
        raise DataError(f"{path}: empty file (no header)") from err
    except Exception as err:  # parser errors give the line number in their text
        raise DataError(f"{path}: unreadable {fmt}: {err}") from err
    raise DataError(f"{path}: unknown format {fmt!r}; use one of tsv, csv, parquet, jsonl")


def _invalid_utf8(path: Path) -> str:
    """Where the first byte that is not UTF-8 sits: its line and its offset in the file (parsers only know their chunk)."""
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        return f"line {line}: not valid UTF-8 (byte 0x{data[err.start]:02x} at file offset {err.start})"
    return "not valid UTF-8"


def _read_jsonl(path: Path) -> pd.DataFrame:
    records = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):  # a bad byte raises UnicodeDecodeError: see read_table
            if not line.strip():
                raise DataError(f"{path}: line {number}: blank line in JSON Lines file")
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise DataError(f"{path}: line {number}: invalid JSON: {err.msg}") from err
            if not isinstance(record, dict):
                raise DataError(f"{path}: line {number}: expected a JSON object")
            records.append(record)
    return pd.DataFrame.from_records(records)


def canonical_split(frame: pd.DataFrame, where: str, locate: Callable[[int], str], columns: Columns) -> pd.DataFrame:
    """Validate a raw table and return its canonical (index, text[, text_pair], label) form, every text field checked."""
    for role, name in [("text", name) for name in columns.texts] + [("label", columns.label)]:
        if name not in frame.columns:
            found = ", ".join(map(str, frame.columns)) or "none"
            raise DataError(f"{where}: missing {role} column {name!r} (columns found: {found})")
    if len(frame) == 0:
        raise DataError(f"{where}: no data rows")

    label_ids = _label_lookup(columns.labels)
    texts, labels, changed = [[] for _ in columns.texts], [], dict.fromkeys(columns.clean, 0)
    for position, row in enumerate(zip(*(frame[name] for name in columns.texts), frame[columns.label])):
        for field, (name, text) in enumerate(zip(columns.texts, row)):
            texts[field].append(_checked_text(text, where, locate(position), name, columns, changed))
        key = _label_key(row[-1])
        if key is None:
            raise DataError(f"{where}: {locate(position)}: missing label")
        if key not in label_ids:
            allowed = ", ".join(f"{i} ({n})" for i, n in enumerate(columns.labels))
            raise DataError(f"{where}: {locate(position)}: label {row[-1]!r} is not in the label set: {allowed}")
        labels.append(label_ids[key])
    canonical = pd.DataFrame(
        {"index": np.arange(len(frame), dtype=np.int64)}
        | {field: pd.Series(values, dtype=object) for field, values in zip(TEXT_FIELDS, texts)}
        | {"label": np.asarray(labels, dtype=np.int64)}
    )
    canonical.attrs["texts_changed"] = changed
    return canonical


def _checked_text(text, where: str, line: str, name: str, columns: Columns, changed: dict) -> str:
    """One text field cleaned and stripped; missing, non-text and empty values name the file, line and column."""
    column = f" in column {name!r}" if len(columns.texts) > 1 else ""
    if text is None or (isinstance(text, float) and np.isnan(text)):
        raise DataError(f"{where}: {line}: missing text{column}")
    if not isinstance(text, str):
        raise DataError(f"{where}: {line}: text{column} is {type(text).__name__}, not a string")
    text = clean_text(text, columns.clean, changed).strip()
    if not text:
        raise DataError(f"{where}: {line}: empty text{column}" + (" after cleaning" if columns.clean else ""))
    return text


# The treebank's escapes (SST, PTB-tokenised corpora) and their characters; `` and '' are its quotes.
PTB_ESCAPES = {"-LRB-": "(", "-RRB-": ")", "-LSB-": "[", "-RSB-": "]", "-LCB-": "{", "-RCB-": "}",
               "\\/": "/", "\\*": "*", "``": '"', "''": '"'}  # fmt: skip
_PTB = re.compile("|".join(re.escape(escape) for escape in PTB_ESCAPES))
_HTML_BREAK = re.compile(r"<br\s*/?>", flags=re.IGNORECASE)


@cache
def _ftfy():
    """ftfy's fix_text with its encoding repairs alone: the rest of its defaults change text that is not broken
    (curly quotes straightened, HTML entities decoded, ligatures, widths, line breaks, Unicode normal form)."""
    try:
        import ftfy
    except ImportError as err:  # pinned in requirements.txt; imported here so that only this step needs it
        raise DataError("clean.mojibake needs the ftfy package (pinned in requirements.txt): pip install ftfy") from err
    off = ("unescape_html", "remove_terminal_escapes", "fix_latin_ligatures", "fix_character_width", "uncurl_quotes",
           "fix_line_breaks", "remove_control_chars")  # fmt: skip
    config = ftfy.TextFixerConfig(**dict.fromkeys(off, False), normalization=None, explain=False)
    return lambda text: ftfy.fix_text(text, config)


CLEANERS: dict[str, Callable[[str], str]] = {
    # UTF-8 read as Latin-1 or Windows-1252 (GLUE RTE's "Iraqâ\x80\x99s"): repaired first, so that the later steps
    # see the characters meant.
    "mojibake": lambda text: _ftfy()(text),
    "html_breaks": lambda text: _HTML_BREAK.sub(" ", text),  # review corpora (IMDb) keep <br /> between paragraphs
    "ptb_escapes": lambda text: _PTB.sub(lambda m: PTB_ESCAPES[m.group()], text),
    "whitespace": lambda text: " ".join(text.split()),
}


def clean_text(text: str, steps: Sequence[str], changed: dict[str, int]) -> str:
    """`text` through the given cleaning steps (in CLEANERS order), counting in `changed` what each step altered."""
    for name in steps:
        cleaned = CLEANERS[name](text)
        if cleaned != text:
            changed[name] = changed.get(name, 0) + 1
        text = cleaned
    return text


def _label_lookup(names: Sequence[str]) -> dict[str, int]:
    lookup = {str(i): i for i in range(len(names))}
    lookup.update({name: i for i, name in enumerate(names)})
    return lookup


def _label_key(label) -> str | None:
    if label is None or (isinstance(label, float) and np.isnan(label)):
        return None
    if isinstance(label, (bool, np.bool_)):
        return str(int(label))
    if isinstance(label, (float, np.floating)) and float(label).is_integer():
        return str(int(label))
    text = str(label).strip()
    return text or None


def load_file_split(path: str | Path, columns: Columns, fmt: str | None = None) -> pd.DataFrame:
    frame, locate = read_table(path, fmt)
    return canonical_split(frame, str(path), locate, columns)


def load_hub_split(
    path: str, name: str | None, split: str, columns: Columns, revision: str | None = None
) -> pd.DataFrame:
    where = f"hub dataset {path}" + (f"/{name}" if name else "") + f" split {split!r}"
    try:
        import datasets

        table = datasets.load_dataset(path, name, split=split, revision=revision).to_pandas()
    except Exception as err:
        raise DataError(
            f"{where}: could not be loaded ({type(err).__name__}: {' '.join(str(err).split())}) Without access to the Hugging Face hub, "
            "set the dataset's source: files and point its files.train / files.validation at local copies."
        ) from err
    return canonical_split(table, where, lambda i: f"row {i}", columns)


def take_rows(frame: pd.DataFrame, n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split `frame` into (n seeded random rows, the rest), each kept in source order."""
    if n < 0 or n > len(frame):
        raise DataError(f"cannot take {n} rows out of {len(frame)}")
    chosen = np.zeros(len(frame), dtype=bool)
    chosen[np.random.default_rng(seed).choice(len(frame), size=n, replace=False)] = True
    return frame[chosen].reset_index(drop=True), frame[~chosen].reset_index(drop=True)


def row_nesting(frame: pd.DataFrame) -> Nesting | None:
    """The nesting of a split's texts (`sentiflow.nesting`), or None where every row is a group of its own: texts
    none of which is part of another. A sentence pair is part of no other pair; only its twins (both texts equal, case
    and white space aside) are grouped with it."""
    nest = twins(_keys(frame)) if is_pair(frame) else nesting(frame[TEXT].tolist())
    return nest if not nest.outermost.all() else None


def hold_out_groups(frame: pd.DataFrame, n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(holdout, train, how): about `n` rows held out in whole groups, so that nothing of a held-out text stays in
    training and no held-out row is part of a training row.

    A group is an outermost row with every row inside it. Groups are held out in a seeded order until the rows
    inside held-out groups alone reach `n`. A row inside both a held-out and a kept group (a phrase such as "the
    film" in many sentences) belongs to neither side and is dropped: in the holdout it would be part of a training
    sentence, in training it would be part of a held-out one. Without nesting every row is its own group, and the
    draw is `take_rows`' (the same rows for the same seed as a flat split)."""
    if n < 0 or n > len(frame):
        raise DataError(f"cannot hold out {n} rows out of {len(frame)}")
    nest = row_nesting(frame)
    if nest is None:
        held, kept = take_rows(frame, n, seed)
        how = {"grouped": False, "groups": len(frame), "largest_group": min(len(frame), 1), "held_out_groups": n}
        return held, kept, how | {"dropped_rows": 0}
    outer, members = nest.groups()
    open_groups = np.array([len(groups) for groups in nest.containers])  # containers not held out yet, per row
    held_groups, held_rows = 0, 0
    for group in outer[np.random.default_rng(seed).permutation(len(outer))]:
        if held_rows >= n:
            break
        held_groups += 1
        for row in members[int(group)]:
            open_groups[row] -= 1
            held_rows += open_groups[row] == 0
    counts = np.array([len(groups) for groups in nest.containers])
    holdout, train = open_groups == 0, open_groups == counts
    how = {"grouped": True, "groups": len(outer), "largest_group": int(nest.group_sizes().max()),
           "held_out_groups": held_groups, "dropped_rows": int((~holdout & ~train).sum())}  # fmt: skip
    return frame[holdout].reset_index(drop=True), frame[train].reset_index(drop=True), how


def subsample_groups(frame: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """About `n` rows of `frame` in whole groups (see `hold_out_groups`), drawn in a seeded order until the rows of
    the chosen groups reach `n`, in source order: a subsample never holds part of a sentence's phrases and leaves
    the rest out. Without nesting, `take_rows`' draw."""
    nest = row_nesting(frame)
    if nest is None:
        return take_rows(frame, n, seed)[0]
    outer, members = nest.groups()
    chosen = np.zeros(len(frame), dtype=bool)
    for group in outer[np.random.default_rng(seed).permutation(len(outer))]:
        if chosen.sum() >= n:
            break
        chosen[members[int(group)]] = True
    return frame[chosen].reset_index(drop=True)


def rows_inside(inner: pd.DataFrame, outer: pd.DataFrame) -> int:
    """How many rows of `inner` are part of (or equal to) a row of `outer`, by their words (`sentiflow.nesting`);
    for pairs, how many pairs occur in `outer` whole."""
    if not len(inner) or not len(outer):
        return 0
    if is_pair(inner):
        known = set(_keys(outer))
        return int(sum(key in known for key in _keys(inner)))
    return int(inside_any(inner[TEXT].tolist(), outer[TEXT].tolist()).sum())


def _normalise(text: str) -> str:
    return " ".join(text.lower().split())


def _length_stats(texts: pd.Series) -> dict:
    words = texts.str.split().str.len().to_numpy()
    return {
        "mean": round(float(words.mean()), 2),
        "median": float(np.median(words)),
        "p95": float(np.percentile(words, 95)),
        "max": int(words.max()),
    }


def data_card(
    splits: dict[str, pd.DataFrame], labels: Sequence[str], sources: dict, columns: Sequence[str] = ()
) -> dict:
    """Rows, label counts and words per text of every split (per field, named by `columns`, for a pair); repeated
    train texts (pairs) and validation texts (pairs) that also occur in train."""
    card = {"labels": list(labels), "sources": sources, "splits": {}}
    for name, frame in splits.items():
        counts = (
            np.bincount(frame["label"].to_numpy(), minlength=len(labels)) if len(frame) else np.zeros(len(labels), int)
        )
        fields = text_fields(frame)
        card["splits"][name] = {
            "rows": len(frame),
            "label_counts": {label: int(c) for label, c in zip(labels, counts)},
            "words_per_text": _length_stats(frame["text"]) if len(frame) else None,
        }
        if len(fields) > 1:  # a pair: the words of each text
            names = list(columns) or fields
            card["splits"][name]["words_per_field"] = {
                column: _length_stats(frame[field]) if len(frame) else None for column, field in zip(names, fields)
            }
    train_texts = set(_keys(splits["train"]))
    card["train_duplicates"] = int(len(splits["train"]) - len(train_texts))
    card["validation_in_train"] = int(sum(key in train_texts for key in _keys(splits["validation"])))
    return card


def _keys(frame: pd.DataFrame) -> list[tuple[str, ...]]:
    """Each row's texts, case and white space normalised: a pair is the same only when both texts are."""
    return list(zip(*(frame[field].map(_normalise) for field in text_fields(frame))))


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_configured_splits(dataset: dict) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """(train, validation, provenance) from the hub or from local files, as `dataset` configures."""
    steps = tuple(step for step in CLEANERS if dataset.get("clean", {}).get(step))
    columns = Columns(text_columns(dataset), dataset["label_column"], tuple(dataset["labels"]), steps)
    if dataset["source"] == "hub":
        hub = dataset["hub"]

        def load(split):
            return load_hub_split(hub["path"], hub.get("name"), hub[split], columns, hub.get("revision"))

        return load("train_split"), load("validation_split"), {"hub": hub}
    files = dataset["files"]
    fmt = files.get("format", "auto")
    frames = [load_file_split(files[split], columns, fmt) for split in ("train", "validation")]
    sources = {
        split: {"path": str(files[split]), "sha256": file_sha256(files[split])} for split in ("train", "validation")
    }
    return frames[0], frames[1], sources


def prepare(dataset: dict, name: str, *, train, validation, holdout, card) -> dict:
    """Load both splits, clean them if asked, carve out the holdout and the training subsample, write the outputs.

    The holdout is drawn before the subsample so that shrinking the training set for a smoke run never
    changes which sentences are held out for calibration. Both take whole groups of nested rows (a treebank
    sentence with its phrases, `hold_out_groups`), and the data card counts what could still leak: held-out rows
    that are part of a training row and training rows that are part of a held-out row (both 0 by construction).
    """
    train_rows, validation_rows, sources = load_configured_splits(dataset)
    cleaning = {
        "steps": [s for s in CLEANERS if dataset.get("clean", {}).get(s)],
        "texts_changed": {
            "train": train_rows.attrs["texts_changed"],
            "validation": validation_rows.attrs["texts_changed"],
        },
    }
    seed = dataset["seed"]
    if dataset["holdout_rows"] > len(train_rows):
        raise DataError(
            f"datasets.{name}.holdout_rows is {dataset['holdout_rows']}, but the training split has {len(train_rows)} rows"
        )
    holdout_rows, train_rows, grouping = hold_out_groups(train_rows, dataset["holdout_rows"], seed)
    if dataset.get("max_train_rows") is not None and dataset["max_train_rows"] < len(train_rows):
        train_rows = subsample_groups(train_rows, dataset["max_train_rows"], seed + 1)
    if len(train_rows) == 0:
        raise DataError(
            f"no training rows left after holding out {len(holdout_rows)}; lower datasets.{name}.holdout_rows"
        )

    splits = {"train": train_rows, "validation": validation_rows, "holdout": holdout_rows}
    summary = {"name": name, "seed": seed} | data_card(splits, dataset["labels"], sources, text_columns(dataset))
    summary["cleaning"] = cleaning
    summary["nesting"] = grouping | {
        "holdout_inside_train": rows_inside(holdout_rows, train_rows),
        "train_inside_holdout": rows_inside(train_rows, holdout_rows),
        "validation_inside_train": rows_inside(validation_rows, train_rows),
    }
    for split, path in (("train", train), ("validation", validation), ("holdout", holdout)):
        write_parquet(path, splits[split])
    write_json(card, summary)
    return summary


def read_split(path: str | Path) -> pd.DataFrame:
    """A prepared split in `index` order, the order every run's predictions table is joined on."""
    return pd.read_parquet(path).sort_values("index").reset_index(drop=True)
