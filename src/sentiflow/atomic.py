"""Write files and folders so that a crash never leaves a half-written output behind."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, directory: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling of `path`; rename it onto `path` only if the block succeeds.

    The temporary lives in the same folder so the final rename stays on one filesystem (atomic).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if directory:
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    else:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        tmp = Path(name)
    # mkstemp/mkdtemp create private (0600/0700) entries; outputs should get the usual umask permissions.
    tmp.chmod((0o777 if directory else 0o666) & ~_umask())
    try:
        yield tmp
        if directory:
            # Libraries write their own private temp files (safetensors: 0600); publish them like ours.
            for item in tmp.rglob("*"):
                item.chmod((0o777 if item.is_dir() else 0o666) & ~_umask())
            # A folder cannot be renamed over a non-empty folder: move the old one aside first.
            old = None
            if path.exists():
                old = aside_path(path)
                shutil.rmtree(old, ignore_errors=True)
                path.rename(old)
            tmp.rename(path)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)
        raise


def aside_path(path: Path) -> Path:
    """Where a folder being replaced waits between the two renames of the swap."""
    return path.with_name(f".{path.name}.old")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path: str | os.PathLike, obj) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def write_csv(path: str | os.PathLike, frame) -> None:
    _check_columns(path, frame)
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def write_parquet(path: str | os.PathLike, frame) -> None:
    _check_columns(path, frame)
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)


class EmptyTableError(ValueError):
    pass


def _check_columns(path, frame) -> None:
    """A table without rows still names its columns: a frame without any (pandas' DataFrame of no records) would
    be written as a 1-byte CSV that no reader can parse, so the writer must say what its columns are."""
    if len(frame.columns) == 0:
        raise EmptyTableError(f"{path}: the table to write has no columns; an empty table must still name them")


def _json_default(obj):
    # numpy scalars and paths show up in metadata; everything else is a bug worth raising on.
    if hasattr(obj, "item"):
        return obj.item()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
