"""The processes tests/test_score_cache.py runs at once against one cache folder, each through the real API.

    python tests/cache_workers.py writer FOLDER GO FIRST COUNT FLUSH_ROWS PACE   # rows FIRST.. of `row`, then close
    python tests/cache_workers.py compactor FOLDER GO STOP                       # compact until STOP exists
    python tests/cache_workers.py reader FOLDER GO STOP EXPECTED                 # read until STOP; no row may vanish
    python tests/cache_workers.py memo FOLDER GO FILE...                         # hash files through the memo

Each prints `ready`, waits for the file GO (so that all start together), does its part and prints one JSON line of
what it measured; a writer with PACE > 0 prints `flushed N` whenever its first N rows are in a file.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path

from sentiflow.llm.store import ScoreCache, compact, read_store


def key(n: int) -> str:
    return hashlib.sha256(f"sentence {n}".encode()).hexdigest()


def row(n: int) -> dict:
    """Row n's scores: floats with many digits, so that a row read back must be the very numbers written."""
    p = (n * 0.6180339887498949) % 1
    return {"probs": [p, 1 - p], "seconds": n / 7, "prompt_tokens": n % 97, "reused_tokens": n % 13}


def wait_for(go: Path) -> None:
    print("ready", flush=True)
    while not go.exists():
        time.sleep(0.005)


def writer(folder: Path, first: int, count: int, flush_rows: int, pace: float) -> dict:
    started = time.perf_counter()
    with ScoreCache(folder, flush_rows=flush_rows) as cache:
        for n in range(first, first + count):
            cache.put({key(n): row(n)})
            if pace:
                if not cache.pending:
                    print(f"flushed {n - first + 1}", flush=True)
                time.sleep(pace)
    return {"rows": count, "files_left": len(cache.files), "seconds": time.perf_counter() - started}


def compactor(folder: Path, stop: Path) -> dict:
    compactions = 0
    while not stop.exists():
        compactions += compact(folder)["into"] is not None
        time.sleep(0.01)
    return {"compactions": compactions}


def reader(folder: Path, stop: Path, expected: int) -> dict:
    """Read again and again: every row once seen must be there in every later read, with its very numbers."""
    rows = {key(n): row(n) for n in range(expected)}
    seen: set[str] = set()
    passes = relisted = most_files = 0
    while True:
        final = stop.exists()
        snapshot = read_store(folder)
        passes, relisted = passes + 1, relisted + snapshot.relisted
        most_files = max(most_files, len(snapshot.sources))
        lost = seen - set(snapshot.rows)
        wrong = [k for k, r in snapshot.rows.items() if rows.get(k) != r]
        if lost or wrong:
            return {"error": f"pass {passes}: {len(lost)} rows seen before are gone, {len(wrong)} rows wrong"}
        seen = set(snapshot.rows)
        if final:
            return {"passes": passes, "relisted": relisted, "most_files": most_files, "rows_at_end": len(seen)}


def memo(folder: Path, files: list[Path]) -> dict:
    from sentiflow.data import file_sha256
    from sentiflow.llm.cache import remembered_sha256

    wrong = [str(path) for path in files if remembered_sha256(path, folder) != file_sha256(path)]
    return {"hashed": len(files), "wrong": wrong}


def main(role: str, folder: str, go: str, *args: str) -> None:
    folder, go = Path(folder), Path(go)
    if role == "memo":
        import sentiflow.llm.cache  # noqa: F401  (its import, pandas', before the start signal)
    wait_for(go)
    if role == "writer":
        result = writer(folder, int(args[0]), int(args[1]), int(args[2]), float(args[3]))
    elif role == "compactor":
        result = compactor(folder, Path(args[0]))
    elif role == "reader":
        result = reader(folder, Path(args[0]), int(args[1]))
    else:
        result = memo(folder, [Path(a) for a in args])
    print(json.dumps(result), flush=True)
    sys.exit(1 if result.get("error") or result.get("wrong") else 0)


if __name__ == "__main__":
    main(*sys.argv[1:])
