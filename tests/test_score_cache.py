"""The LLM score cache's files under many jobs at once, as on a cluster: writer processes, compactions and readers
running together lose no row and raise nothing; a killed job keeps what it had written; the file hash memo cannot
fail; an old SQLite cache is read and folded in."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cache_workers import key, row
from conftest import REPO

from sentiflow.data import file_sha256
from sentiflow.llm.scorer import LLMError
from sentiflow.llm.store import SHARDS, ScoreCache, compact, main, read_store, write_rows

WORKERS = Path(__file__).with_name("cache_workers.py")
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])}


def start(role: str, folder: Path, go: Path, *args) -> subprocess.Popen:
    command = [sys.executable, str(WORKERS), role, str(folder), str(go), *map(str, args)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)


def all_ready(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        line = process.stdout.readline().strip()
        assert line == "ready", f"{line!r}: {process.communicate()[1][-3000:]}"


def finished(process: subprocess.Popen) -> dict:
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, f"{out}\n{err[-3000:]}"
    return json.loads(out.splitlines()[-1])


def visible_files(folder: Path) -> list[str]:
    return sorted(p.name for p in (folder / SHARDS).iterdir() if not p.name.startswith("."))


def test_rows_read_back_are_the_very_numbers_and_a_closed_job_leaves_one_file(tmp_path):
    with ScoreCache(tmp_path, flush_rows=3) as cache:
        for n in range(10):
            cache.put({key(n): row(n)})
        assert len(cache.files) == 3 and len(cache.pending) == 1  # rows 0-8 are in files, row 9 waits
        assert len(read_store(tmp_path).rows) == 9
    assert visible_files(tmp_path) == [f"{cache.name}.jsonl"]  # its three files and the last row folded into one
    again = ScoreCache(tmp_path)
    assert again.get([key(n) for n in range(12)]) == {key(n): row(n) for n in range(10)}
    # A row waits at most flush_seconds, and leaving the block by an error still writes what waits.
    with pytest.raises(RuntimeError, match="stopped"), ScoreCache(tmp_path, flush_seconds=0.2) as cache:
        cache.put({key(10): row(10)})
        assert cache.pending
        time.sleep(0.25)
        cache.put({key(11): row(11)})
        assert not cache.pending and len(cache.files) == 1
        cache.put({key(12): row(12)})
        raise RuntimeError("stopped")
    assert read_store(tmp_path).rows == {key(n): row(n) for n in range(13)}


def test_many_writers_and_a_compaction_at_once_lose_no_row_and_raise_nothing(tmp_path):
    """8 writer processes x 500 rows, each key written by two of them, 25 rows a file; a compaction loops all the
    while, and a reader checks that no row it has seen ever goes missing while compactions move it."""
    folder, go, stop = tmp_path / "cache", tmp_path / "go", tmp_path / "stop"
    writers = [start("writer", folder, go, 250 * i, 500, 25, 0.002) for i in range(8)]
    compactor = start("compactor", folder, go, stop)
    reader = start("reader", folder, go, stop, 250 * 7 + 500)
    all_ready([*writers, compactor, reader])
    started = time.perf_counter()
    go.touch()
    wrote = [finished(w) for w in writers]
    seconds = time.perf_counter() - started
    stop.touch()
    compactions, reads = finished(compactor), finished(reader)
    snapshot = read_store(folder)
    assert snapshot.rows == {key(n): row(n) for n in range(250 * 7 + 500)}
    assert reads["rows_at_end"] == len(snapshot.rows) and compactions["compactions"] >= 1
    assert all(w["files_left"] == 1 for w in wrote)  # each writer folded its 20 files into one
    assert not [p for p in (folder / SHARDS).iterdir() if p.name.startswith(".")]  # no temporary left behind
    compact(folder)
    assert len(visible_files(folder)) == 1 and read_store(folder).rows == snapshot.rows
    print(f"8 writers x 500 rows in {seconds:.1f} s; {compactions['compactions']} compactions; reader: "
          f"{reads['passes']} reads, {reads['relisted']} listings again after a file vanished, at most "
          f"{reads['most_files']} files")  # fmt: skip


def test_a_killed_writer_keeps_every_row_it_had_written_and_no_partial_file_is_visible(tmp_path):
    folder, go = tmp_path / "cache", tmp_path / "go"
    go.touch()
    kept = {}
    for first, after in ((0, 100), (10_000, 230), (20_000, 370)):
        writer = start("writer", folder, go, first, 1_000_000, 20, 0.0005)
        assert writer.stdout.readline().strip() == "ready"
        flushed = 0
        while flushed < after:
            line = writer.stdout.readline()
            assert line.startswith("flushed"), line + writer.communicate()[1][-3000:]
            flushed = int(line.split()[1])
        writer.send_signal(signal.SIGKILL)
        writer.communicate()
        rows = {k: r for k, r in read_store(folder).rows.items() if k not in kept}
        count = len(rows)
        # Exactly its first rows, a whole number of files of them, at least those it had reported written.
        assert count >= after and count % 20 == 0
        assert rows == {key(n): row(n) for n in range(first, first + count)}
        kept |= rows
    assert ScoreCache(folder).get(list(kept)) == kept


def test_readers_never_see_a_temporary_and_a_stale_one_is_swept(tmp_path):
    write_rows(tmp_path / SHARDS / "a.jsonl", {key(0): row(0)})
    # What a writer killed mid-write leaves: a hidden temporary with a cut-off line.
    young, old = tmp_path / SHARDS / ".b.jsonl.x1.tmp", tmp_path / SHARDS / ".c.jsonl.x2.tmp"
    for path in (young, old):
        path.write_text(json.dumps({"key": key(1)} | row(1))[:40])
    os.utime(old, (time.time() - 2 * 86400,) * 2)
    assert read_store(tmp_path).rows == {key(0): row(0)}
    compact(tmp_path)
    assert young.exists() and not old.exists()


def test_two_rows_under_one_key_resolve_alike_in_every_reader_and_after_compaction(tmp_path):
    slower = row(1) | {"seconds": 9.0}
    for first, second in (("a", "b"), ("b", "a")):
        folder = tmp_path / first
        write_rows(folder / SHARDS / f"{first}.jsonl", {key(1): row(1), key(2): row(2)})
        write_rows(folder / SHARDS / f"{second}.jsonl", {key(1): slower})
        chosen = read_store(folder).rows[key(1)]
        assert chosen == min(row(1), slower, key=lambda r: json.dumps(r, sort_keys=True))
        compact(folder)
        assert len(visible_files(folder)) == 1 and read_store(folder).rows == {key(1): chosen, key(2): row(2)}


def test_an_old_sqlite_cache_is_read_and_folded_in(tmp_path):
    legacy = tmp_path / "scores.sqlite"
    with contextlib.closing(sqlite3.connect(legacy)) as db:
        # The table of earlier versions, as they created it.
        db.execute(
            "CREATE TABLE IF NOT EXISTS scores (key TEXT PRIMARY KEY, probs TEXT NOT NULL, seconds REAL NOT NULL, "
            "prompt_tokens INTEGER NOT NULL, reused_tokens INTEGER NOT NULL)"
        )
        db.executemany(
            "INSERT INTO scores VALUES (?, ?, ?, ?, ?)",
            [(key(n), json.dumps(row(n)["probs"]), row(n)["seconds"], n % 97, n % 13) for n in range(5)],
        )
        db.commit()
    cache = ScoreCache(tmp_path)
    assert cache.get([key(n) for n in range(5)]) == {key(n): row(n) for n in range(5)}
    assert not legacy.exists() and (tmp_path / "scores.sqlite.migrated").is_file()
    assert read_store(tmp_path).rows == {key(n): row(n) for n in range(5)}
    legacy.write_text("not a database, but a file of that name")
    with pytest.raises(LLMError, match=r"scores\.sqlite: the old score cache cannot be read .*delete it"):
        read_store(tmp_path)


def test_a_damaged_file_names_itself_and_its_line(tmp_path):
    shard = tmp_path / SHARDS / "damaged.jsonl"
    write_rows(shard, {key(0): row(0), key(1): row(1)})
    lines = shard.read_text().splitlines()
    shard.write_text(lines[0] + "\n" + lines[1][:30] + "\n")
    with pytest.raises(LLMError, match=r"damaged\.jsonl, line 2: not JSON; .* delete it"):
        read_store(tmp_path)
    shard.write_text(lines[0] + "\n" + json.dumps({"key": key(1)}) + "\n")
    with pytest.raises(
        LLMError, match=r"damaged\.jsonl, line 2: not a score row \(key, probs, seconds, prompt_tokens, reused_tokens\)"
    ):
        read_store(tmp_path)
    shard.write_text(lines[0] + "\n" + lines[1][:30])
    with pytest.raises(LLMError, match=r"damaged\.jsonl: the last line is cut off"):
        read_store(tmp_path)


def test_the_file_hash_memo_cannot_fail_under_concurrent_writers(tmp_path):
    """8 processes at once each hash 12 files of their own through the memo, so that each of the 96 hashes writes
    a new memo while others do; none may fail, and every remembered hash is the file's."""
    folder, go = tmp_path / "cache", tmp_path / "go"
    files = [[tmp_path / f"model-{i}-{j}.gguf" for j in range(12)] for i in range(8)]
    for path in (path for paths in files for path in paths):
        path.write_bytes(path.name.encode() * 1000)
    workers = [start("memo", folder, go, *paths) for paths in files]
    all_ready(workers)
    go.touch()
    assert all(finished(w) == {"hashed": 12, "wrong": []} for w in workers)
    memo = json.loads((folder / "files.json").read_text())
    assert memo and all(file_sha256(stamp.split("|")[0]) == digest for stamp, digest in memo.items())
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]


def test_the_compact_command_folds_the_store_into_one_file(tmp_path, capsys):
    for name in ("a", "b", "c"):
        write_rows(tmp_path / SHARDS / f"{name}.jsonl", {key(n): row(n) for n in range(ord(name), ord(name) + 2)})
    main(["compact", str(tmp_path)])
    assert re.search(r"^4 scores in 3 files: into .*compacted-\w+\.jsonl", capsys.readouterr().out)
    assert len(visible_files(tmp_path)) == 1 and len(read_store(tmp_path).rows) == 4
    with pytest.raises(SystemExit):
        main(["compact", str(tmp_path / "missing")])
    assert "missing is not a folder" in capsys.readouterr().err
