"""The score cache's files: plain JSON Lines that many jobs, on many machines of a cluster, read and write at once.

A shared file system (NFS, Lustre, GPFS) has no reliable locks, so SQLite is not safe on it (SQLite's FAQ) and
nothing here locks a file or changes one in place. It relies only on what such file systems do guarantee: a file
written under a temporary name and then renamed within its folder appears whole or not at all (NFS's
close-to-open consistency; rename within a directory is atomic), and a name nobody else can choose (host, pid,
random) belongs to its one writer.

- Every `*.jsonl` file in `scores/` is immutable once visible. A job writes the rows it scored to new files of its
  own (`HOST-PID-RANDOM-N.jsonl`), each under a hidden temporary name first, at the latest `flush_seconds` after a
  row was scored: a job stopped half-way keeps all but its last seconds of work. On closing, it folds its files
  into one (`HOST-PID-RANDOM.jsonl`).
- A file is deleted only by a process that has first made visible a file holding every row of it (a job folding
  its own files; a compaction folding every file). So a row, once visible, always is, in one file or another.
- A reader reads every visible file. One that vanished between the listing and the reading was folded into a newer
  file by then: the reader lists again and reads what is new, so no row is missed while a compaction runs.
- A compaction's file is named by a hash of its sources' names: jobs that start together and compact the same files
  write one file between them instead of a copy each.

Two rows under one key (two jobs scored the sentence at once, with different thread counts: llama.cpp's last
digits may differ) resolve to the same one in every reader, before and after compaction: the smaller of their
JSON texts. A reader on another machine may see a new file a few seconds late (NFS caches directory listings);
then it asks the model again about sentences another job just scored, which costs time and changes no result.

The single SQLite file of earlier versions (`scores.sqlite`) is read as one more source, without locking it; the
first compaction folds its rows in and renames it `scores.sqlite.migrated` (kept; safe to delete).

    python -m sentiflow.llm.store compact results/llm_cache   # fold every file into one; safe during a run
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import hashlib
import json
import os
import re
import secrets
import socket
import sqlite3
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

from sentiflow.atomic import atomic_path
from sentiflow.llm.scorer import LLMError

SHARDS = "scores"  # the folder of the JSON Lines files, inside the cache folder
LEGACY = "scores.sqlite"  # the single SQLite file of earlier versions
FIELDS = ("probs", "seconds", "prompt_tokens", "reused_tokens")  # a row, besides its key
RECORD = {"key", *FIELDS}  # a line of a file
DAMAGED = "the cache's files are written whole and never changed, so this one was damaged after it was written: delete it (its sentences are scored again)"  # fmt: skip
COMPACT_AT = 32  # a job that finds more files than this compacts them before it scores
STALE_TEMPORARY_SECONDS = 24 * 3600  # a hidden temporary this old was left by a killed writer
MAX_PASSES = 1000  # listings one read may take while compactions delete what it listed


@dataclass
class Snapshot:
    """What one read of the store found: the rows by key, the files read whole, how many rows they held (duplicates
    included) and how often a listed file had vanished (been compacted) before it was read."""

    rows: dict[str, dict] = field(default_factory=dict)
    sources: list[Path] = field(default_factory=list)
    lines: int = 0
    relisted: int = 0


def read_store(folder: str | Path) -> Snapshot:
    """Every row of the cache folder's files (and of an old `scores.sqlite`), never a half-written one."""
    folder, snapshot, done, gone = Path(folder), Snapshot(), set(), set()
    for _ in range(MAX_PASSES):
        vanished = False
        for path in [p for p in sources(folder) if p not in done]:
            rows = read_source(path)
            if rows is None:
                # Compacted since the listing: its rows are in a file the next listing shows. A name that vanished
                # before is not news (a stale listing of a network file system may show it again).
                vanished |= path not in gone
                gone.add(path)
                continue
            merge(snapshot.rows, rows)
            snapshot.sources.append(path)
            snapshot.lines += len(rows)
            done.add(path)
        if not vanished:
            return snapshot
        snapshot.relisted += 1
    raise LLMError(f"{folder}: files kept vanishing while the score cache was read ({MAX_PASSES} listings)")


def sources(folder: Path) -> list[Path]:
    """The visible files of the store: finished `*.jsonl` files (temporaries are hidden) and an old SQLite file."""
    shards = folder / SHARDS
    names = sorted(os.listdir(shards)) if shards.is_dir() else []
    found = [shards / name for name in names if name.endswith(".jsonl") and not name.startswith(".")]
    return found + [folder / LEGACY] if (folder / LEGACY).is_file() else found


def read_source(path: Path) -> list[tuple[str, dict]] | None:
    """A file's (key, row) pairs, or None if it is gone (deleted, or replaced under an NFS reader: ESTALE)."""
    try:
        if path.name == LEGACY:
            return read_legacy(path)
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        if error.errno in (errno.ENOENT, errno.ESTALE):
            return None
        raise
    return parse_rows(path, text)


def parse_rows(path: Path, text: str) -> list[tuple[str, dict]]:
    if text and not text.endswith("\n"):
        raise LLMError(f"{path}: the last line is cut off; {DAMAGED}")
    try:
        # One parse of the whole file as a JSON array takes 40% less time than a parse per line.
        records = json.loads("[" + text[:-1].replace("\n", ",") + "]")
        if all(isinstance(record, dict) and record.keys() == RECORD for record in records):
            return [(record.pop("key"), record) for record in records]
    except ValueError:
        pass
    for number, line in enumerate(text.splitlines(), start=1):  # find the damaged line, to name it
        try:
            record = json.loads(line)
        except ValueError:
            raise LLMError(f"{path}, line {number}: not JSON; {DAMAGED}") from None
        if not isinstance(record, dict) or record.keys() != RECORD:
            raise LLMError(f"{path}, line {number}: not a score row (key, {', '.join(FIELDS)}); {DAMAGED}")
    raise AssertionError(f"{path}: the whole file did not parse, but each line did")


def read_legacy(path: Path) -> list[tuple[str, dict]] | None:
    """The rows of an old `scores.sqlite`, read without locks (`immutable`): nothing writes it any more."""
    uri = f"file:{urllib.parse.quote(str(path.resolve()))}?immutable=1"
    try:
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
            rows = db.execute("SELECT key, probs, seconds, prompt_tokens, reused_tokens FROM scores").fetchall()
    except sqlite3.Error as error:
        if not path.exists():  # a compaction renamed it while we opened it
            return None
        raise LLMError(f"{path}: the old score cache cannot be read ({error}); delete it (its sentences are scored again)") from None  # fmt: skip
    return [(key, {"probs": json.loads(probs), "seconds": seconds, "prompt_tokens": tokens, "reused_tokens": reused})
            for key, probs, seconds, tokens, reused in rows]  # fmt: skip


def merge(rows: dict[str, dict], new: list[tuple[str, dict]]) -> None:
    for key, row in new:
        old = rows.setdefault(key, row)
        if old is not row and old != row:
            # Whichever files a reader sees, and in whatever order, it keeps the same one of two rows.
            rows[key] = min(old, row, key=lambda r: json.dumps(r, sort_keys=True))


def write_rows(path: Path, rows: dict[str, dict]) -> None:
    """Write `rows` to a new file at `path`, whole (synced) before it is renamed into place."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as out:
        for key, row in rows.items():
            out.write(json.dumps({"key": key} | {name: row[name] for name in FIELDS}) + "\n")
        out.flush()
        os.fsync(out.fileno())


def compact(folder: str | Path, snapshot: Snapshot | None = None) -> dict:
    """Fold every file of the store (those `snapshot` read, or all) into one; safe while jobs read and write."""
    folder = Path(folder)
    snapshot = snapshot or read_store(folder)
    remove_stale_temporaries(folder / SHARDS)
    if len(snapshot.sources) < 2 and not any(p.name == LEGACY for p in snapshot.sources):
        return {"files": len(snapshot.sources), "rows": len(snapshot.rows), "into": None}
    digest = hashlib.sha256("\n".join(p.name for p in snapshot.sources).encode()).hexdigest()[:20]
    into = folder / SHARDS / f"compacted-{digest}.jsonl"
    write_rows(into, snapshot.rows)
    # Only now, with their rows visible in `into`, may the sources go.
    for source in snapshot.sources:
        if source.name == LEGACY:
            with contextlib.suppress(FileNotFoundError):
                source.replace(source.with_name(LEGACY + ".migrated"))
        else:
            source.unlink(missing_ok=True)
    return {"files": len(snapshot.sources), "rows": len(snapshot.rows), "lines": snapshot.lines, "into": str(into)}


def remove_stale_temporaries(shards: Path) -> None:
    now = time.time()
    for path in shards.glob(".*.tmp"):
        with contextlib.suppress(FileNotFoundError):
            if now - path.stat().st_mtime > STALE_TEMPORARY_SECONDS:
                path.unlink()


def writer_name() -> str:
    """A file name stem no other process, here or on another machine, will choose: host, pid and 32 random bits."""
    host = re.sub(r"[^A-Za-z0-9.-]", "_", socket.gethostname().split(".")[0]) or "host"
    return f"{host}-{os.getpid()}-{secrets.token_hex(4)}"


class ScoreCache:
    """A job's view of the store: every row at opening, and the rows it adds, written to files of its own.

    Use it as a context manager: leaving the block, even by an exception, writes what is left and folds the job's
    files into one. `flush_rows`, `flush_seconds`: a new file is written once this many rows wait, or once the
    oldest waiting row is this old."""

    def __init__(self, folder: str | Path, flush_rows: int = 500, flush_seconds: float = 30.0):
        self.folder = Path(folder)
        self.flush_rows, self.flush_seconds = flush_rows, flush_seconds
        snapshot = read_store(self.folder)
        if len(snapshot.sources) > COMPACT_AT or any(p.name == LEGACY for p in snapshot.sources):
            compact(self.folder, snapshot)
        self.rows = snapshot.rows
        self.name = writer_name()
        self.pending: dict[str, dict] = {}
        self.written: dict[str, dict] = {}
        self.files: list[Path] = []
        self.waiting_since = 0.0

    def get(self, keys) -> dict[str, dict]:
        return {key: self.rows[key] for key in keys if key in self.rows}

    def put(self, rows: dict[str, dict]) -> None:
        if rows and not self.pending:
            self.waiting_since = time.monotonic()
        self.rows.update(rows)
        self.pending.update(rows)
        if len(self.pending) >= self.flush_rows or time.monotonic() - self.waiting_since >= self.flush_seconds:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            path = self.folder / SHARDS / f"{self.name}-{len(self.files) + 1:05d}.jsonl"
            write_rows(path, self.pending)
            self.files.append(path)
            self.written.update(self.pending)
            self.pending = {}

    def close(self) -> None:
        self.flush()
        if len(self.files) > 1:
            write_rows(self.folder / SHARDS / f"{self.name}.jsonl", self.written)
            for path in self.files:
                path.unlink(missing_ok=True)  # a compaction may have folded it already
            self.files = [self.folder / SHARDS / f"{self.name}.jsonl"]

    def __enter__(self) -> ScoreCache:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sentiflow.llm.store", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["compact"], help="fold every file of the store into one")
    parser.add_argument("folder", type=Path, help="the cache folder (llm.cache), e.g. results/llm_cache")
    args = parser.parse_args(argv)
    if not args.folder.is_dir():
        parser.error(f"{args.folder} is not a folder")
    started = time.perf_counter()
    result = compact(args.folder)
    into = f"into {result['into']}" if result["into"] else "nothing to fold"
    print(f"{result['rows']} scores in {result['files']} files: {into} ({time.perf_counter() - started:.1f} s)")


if __name__ == "__main__":
    main()
