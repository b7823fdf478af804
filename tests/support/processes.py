"""What the kernel says about processes a test started: alive or not, whose children."""

from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path


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
