"""The ``live`` command as a process: its environment, a run to completion, and what the
kernel says about the processes it left (alive or not, whose children)."""

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

from tests.support.units import UNIT_S

LIVE = Path(sys.executable).with_name("live")


def live_env(data_dir: Path, **settings: str) -> dict[str, str]:
    """The inherited environment without any LIVE_* variable, plus ``settings``."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("LIVE_")}
    return {**env, "LIVE_DATA_DIR": str(data_dir), **settings}


def run_live(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``live *args`` run to completion in ``env``, its output captured as text."""
    return subprocess.run(  # noqa: S603 - our own console script
        [str(LIVE), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=30 * UNIT_S,
        check=False,
    )


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for its reaper counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def pids() -> Iterator[int]:
    """Every process id on the machine."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            yield int(entry.name)


def children(parent: int) -> list[int]:
    """The processes whose parent is ``parent``."""
    found = []
    for pid in pids():
        with suppress(OSError):
            if f"\nPPid:\t{parent}\n" in Path(f"/proc/{pid}/status").read_text():
                found.append(pid)
    return found
