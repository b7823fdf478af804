"""One embedded server per data folder: an exclusive lock on ``<data dir>/live.lock``.

Two embedded servers on one folder would each start a Valkey on the same append-only file and
migrate the same SQLite file; the second to start is refused before it touches either. The
lock is the kernel's (``flock``): it goes with the process however it ends, so a crashed
server never leaves a stale lock behind.
"""

import contextlib
import fcntl
import os
from pathlib import Path
from typing import IO

LOCK_NAME = "live.lock"


class DataFolderBusy(RuntimeError):
    """Another process holds the data folder; the message says which, in one line."""


def hold(data_dir: Path) -> IO[str]:
    """Lock ``data_dir`` for this process (keep the returned file open while serving)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / LOCK_NAME
    lock = path.open("a+", encoding="utf-8")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip() or "unknown"
        lock.close()
        raise DataFolderBusy(
            f"another live server (pid {holder}) is already running on the data folder "
            f"{data_dir}: stop it first, or set LIVE_DATA_DIR to another folder"
        ) from None
    lock.seek(0)
    lock.truncate()
    lock.write(str(os.getpid()))
    lock.flush()
    return lock


def release(lock: IO[str]) -> None:
    """Give the folder back (the process ending does the same)."""
    with contextlib.suppress(OSError):
        lock.close()
