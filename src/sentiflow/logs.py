"""Send a rule's output (Python, C libraries, tqdm bars) to its `log:` file."""

from __future__ import annotations

import contextlib
import datetime
import os
import sys
import traceback
from pathlib import Path


@contextlib.contextmanager
def log_to(path: str | os.PathLike):
    """Redirect file descriptors 1 and 2 to `path` for the block.

    On failure the traceback goes to the log and, once the descriptors are restored, to the terminal as well,
    so the user sees the error without opening the log.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, "a", buffering=1) as log:
        # Appended, not truncated: outside Snakemake (which deletes a job's log before every attempt; on Slurm
        # the executor's job log keeps a failed attempt's output) a rerun keeps the earlier run's log.
        log.write(f"=== {datetime.datetime.now().isoformat(timespec='seconds')} pid {os.getpid()} ===\n")
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        except BaseException:
            traceback.print_exc()
            raise
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
