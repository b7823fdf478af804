"""`Spool`: a local directory of finished segments waiting for the archive store.

While the archive store is unavailable the archiver keeps reading the session streams, closes
segments as usual and writes each one here instead; when the store answers again it drains them
to the store in ``first`` order. The spool saves the re-reading and re-encoding of an outage's
entries and survives a process restart; it is never the only copy of an entry.

Design, and why no entry is lost or duplicated:

- **The stream stays the source of truth.** A spooled segment's entries are *not* acknowledged:
  they stay in the consumer group's pending list, and therefore in the stream (the archiver
  trims only acknowledged entries whose segment the store confirmed). An entry is acknowledged
  only after `put_once` of its segment returned, exactly as without a spool, and the spool file
  is removed only after that. Deleting any spool file at any moment loses nothing: the next
  owner of the session claims the pending entries and archives them again.
- **The store receives a kind's segments in ``first`` order.** Once one segment of a kind is
  spooled, every later segment of that kind goes to the spool too, and draining starts with the
  oldest. So the store never holds a segment after a missing one that the spool still owes it.
- **A spool is trusted only as a chain that continues the store.** When an archiver opens a
  session it reads the highest ``last`` stored per kind (``stored``), then keeps the spooled
  segments that chain from ``stored + 1`` (a jump is allowed only over entries the stream does
  not hold, the archive's usual rule for holes). Files already covered by the store are removed;
  the first file that overlaps the store or leaves a gap, and every file after it, is removed
  too: they come from an owner that lost the session to another node, whose segments are in the
  store now. Entries of removed files are still pending, so they are claimed and rearchived.
  Entries of the kept chain are neither acknowledged nor re-buffered when the group hands them
  over again; they are acknowledged when their spooled segment reaches the store.
- **Names and bytes are deterministic** (`replay.segments`): a segment spooled twice, or stored
  by its drain after a crash between ``put_once`` and the file's removal, is the same object,
  so `put_once` answers "already there" and the drain goes on.

Only the holder of a session's archive lease reads or changes that session's files, so nodes may
even share one spool directory. Files of sessions that are no longer tracked (their manifest is
written, by this node or another) are removed by the archiver's sweep. Writes are atomic and
durable (`LocalArchiveStore`); a spool that cannot be written raises `ArchiveUnavailable`, and
the archiver then falls back to leaving the entries pending in Redis, as without a spool. The
spool is bounded by the disk only: an outage costs about the compressed size of its traffic.
"""

import asyncio
import contextlib
import os
import shutil
from pathlib import Path

from replay import segments
from replay.errors import ArchiveConflict, ArchiveUnavailable
from replay.local_store import LocalArchiveStore

_SESSIONS = "sessions"


class Spool:
    """Segments kept under `root`, by the same names they get in the archive store."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._files = LocalArchiveStore(root)

    async def put(self, name: str, data: bytes) -> None:
        """Keep segment `name` durably; a file left by an earlier chain is replaced."""
        try:
            await self._files.put_once(name, data)
        except ArchiveConflict:
            # Same name, other bytes: only possible if the stream changed under an old chain
            # (Redis lost data). The current entries win; the old file is stale.
            await self.remove(name)
            await self._files.put_once(name, data)

    async def get(self, name: str) -> bytes:
        """The bytes of spooled segment `name`; `ArchiveNotFound` when it is not spooled."""
        return await self._files.get(name)

    async def remove(self, name: str) -> None:
        """Forget segment `name` (a no-op when it is not spooled)."""
        try:
            await asyncio.to_thread(_unlink, self.root / name)
        except OSError as exc:
            raise ArchiveUnavailable(f"cannot remove spooled {name}: {exc}") from exc

    async def sessions(self) -> list[str]:
        """Ids of the sessions with a spool directory, sorted."""
        try:
            return await asyncio.to_thread(_subdirectories, self.root / _SESSIONS)
        except OSError as exc:
            raise ArchiveUnavailable(f"cannot list the spool {self.root}: {exc}") from exc

    async def purge(self, session_id: str) -> None:
        """Remove every spooled segment of a session."""
        try:
            await asyncio.to_thread(_remove_tree, self.root / _SESSIONS / session_id)
        except OSError as exc:
            raise ArchiveUnavailable(f"cannot purge the spool of {session_id}: {exc}") from exc

    async def list(self, session_id: str, kind: str) -> list[str]:
        """Names of the spooled segments of one kind of a session, by ``first`` then ``last``."""
        ranked: list[tuple[int, int, str]] = []
        for name in await self._files.list(segments.kind_prefix(session_id, kind)):
            parsed = segments.parse_name(name)
            if parsed is not None:
                ranked.append((parsed[1], parsed[2], name))
        return [name for _, _, name in sorted(ranked)]


def _unlink(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _subdirectories(directory: Path) -> list[str]:
    try:
        entries = os.listdir(directory)
    except FileNotFoundError:
        return []
    return sorted(entry for entry in entries if not entry.startswith("."))


def _remove_tree(directory: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(directory)
