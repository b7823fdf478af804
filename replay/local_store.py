"""`LocalArchiveStore`: the archive store on a local directory (the embedded default).

Writes are atomic and write-once: the bytes go to a temporary file in the target directory, are
fsynced, then hard-linked to the final name. `link` fails when the name exists, so of two
concurrent writers (threads or processes) exactly one wins, and a reader never sees a partial
object. Blocking file I/O runs in worker threads (`asyncio.to_thread`) to keep the loop free.
"""

import asyncio
import contextlib
import os
import tempfile
from pathlib import Path

from replay.errors import ArchiveConflict, ArchiveNotFound, ArchiveUnavailable

_TEMP_PREFIX = ".tmp-"


class LocalArchiveStore:
    """Archive store rooted at a local directory, created on first write."""

    def __init__(self, root: Path) -> None:
        self.root = root

    async def put_once(self, name: str, data: bytes) -> bool:
        """Write `name` once (see `ArchiveStore.put_once`); atomic across processes."""
        _check_name(name)
        try:
            return await asyncio.to_thread(_put_once, self.root, name, data)
        except OSError as exc:
            raise ArchiveUnavailable(f"cannot write {name}: {exc}") from exc

    async def get(self, name: str) -> bytes:
        """Return the bytes of `name`; `ArchiveNotFound` when absent."""
        _check_name(name)
        try:
            return await asyncio.to_thread((self.root / name).read_bytes)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise ArchiveNotFound(name) from exc
        except OSError as exc:
            raise ArchiveUnavailable(f"cannot read {name}: {exc}") from exc

    async def exists(self, name: str) -> bool:
        """True when `name` exists."""
        _check_name(name)
        try:
            return await asyncio.to_thread((self.root / name).is_file)
        except OSError as exc:
            raise ArchiveUnavailable(f"cannot stat {name}: {exc}") from exc

    async def aclose(self) -> None:
        """Nothing to release: every call opens and closes its own files."""

    async def list(self, prefix: str) -> list[str]:
        """Names starting with `prefix`, sorted; temporary files are never listed."""
        _check_prefix(prefix)
        try:
            return await asyncio.to_thread(_list, self.root, prefix)
        except OSError as exc:
            raise ArchiveUnavailable(f"cannot list {prefix!r}: {exc}") from exc

    async def delete(self, name: str) -> None:
        """Remove `name`; absent is fine."""
        _check_name(name)
        try:
            await asyncio.to_thread((self.root / name).unlink, missing_ok=True)
        except OSError as exc:
            raise ArchiveUnavailable(f"cannot delete {name}: {exc}") from exc


def _check_name(name: str) -> None:
    parts = name.split("/")
    if not name or "\\" in name or any(not part or part.startswith(".") for part in parts):
        # Leading dots are reserved for temporary files (and rule out "." and "..").
        raise ValueError(f"invalid object name {name!r}")


def _check_prefix(prefix: str) -> None:
    directories = prefix.split("/")[:-1]
    if "\\" in prefix or any(not part or part.startswith(".") for part in directories):
        raise ValueError(f"invalid name prefix {prefix!r}")


def _put_once(root: Path, name: str, data: bytes) -> bool:
    path = root / name
    _make_dirs(path.parent)
    fd, temp = tempfile.mkstemp(prefix=_TEMP_PREFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(temp, path)
        except FileExistsError:
            if path.read_bytes() != data:
                raise ArchiveConflict(name) from None
            return False
        _fsync_dir(path.parent)
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)


def _make_dirs(directory: Path) -> None:
    missing: list[Path] = []
    while not directory.is_dir():
        missing.append(directory)
        directory = directory.parent
    for created in reversed(missing):
        with contextlib.suppress(FileExistsError):
            created.mkdir()
        # The new directory entry must survive a crash as much as the file inside it.
        _fsync_dir(created.parent)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _list(root: Path, prefix: str) -> list[str]:
    names: list[str] = []
    for directory, subdirs, files in os.walk(root / prefix.rpartition("/")[0]):
        subdirs[:] = [sub for sub in subdirs if not sub.startswith(".")]
        relative = Path(directory).relative_to(root).as_posix()
        for file in files:
            name = file if relative == "." else f"{relative}/{file}"
            if not file.startswith(".") and name.startswith(prefix):
                names.append(name)
    return sorted(names)
