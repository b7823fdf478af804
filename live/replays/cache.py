"""The replay indexes a process keeps: those of the sessions replayed most recently.

Contract: an ended session's archive never changes, so its index (manifest included) is kept
until it falls out of the `CACHED_SESSIONS` most recent, or its archive is deleted (`forget`;
a deleted archive is refused by the record before its index is asked for anyway). A cached
session costs no archive read before its state. Sockets opening a session together wait for
one load (`live.stored_index.load_or_build`).
"""

import asyncio
from collections import OrderedDict

from live.script_index import ScriptIndex
from live.stored_index import load_or_build
from replay.reader import read_manifest
from replay.store import ArchiveStore

#: Sessions whose index a process keeps.
CACHED_SESSIONS = 32


class Indexes:
    """The indexes of the last `CACHED_SESSIONS` replayed sessions; one build per session at
    a time (sockets opening together wait for the same build)."""

    def __init__(self, *, capacity: int = CACHED_SESSIONS) -> None:
        self._capacity = capacity
        self._built: OrderedDict[str, ScriptIndex] = OrderedDict()
        self._building: dict[str, asyncio.Future[ScriptIndex | None]] = {}

    def forget(self, session_id: str) -> None:
        """Drop the session's index (its archive was deleted)."""
        self._built.pop(session_id, None)

    async def get(self, store: ArchiveStore, session_id: str) -> ScriptIndex | None:
        """The session's index, built now if this process has none; None while the session
        has no manifest. Raises `ArchiveError` when the archive cannot be read."""
        found = self._built.get(session_id)
        if found is not None:
            self._built.move_to_end(session_id)
            return found
        pending = self._building.get(session_id)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[ScriptIndex | None] = asyncio.get_running_loop().create_future()
        self._building[session_id] = future
        try:
            manifest = await read_manifest(store, session_id)
            index = None if manifest is None else await load_or_build(store, manifest)
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it, nobody else needs to
            raise
        except BaseException:
            future.cancel()
            raise
        finally:
            self._building.pop(session_id, None)
        future.set_result(index)
        if index is not None:
            self._built[session_id] = index
            while len(self._built) > self._capacity:
                self._built.popitem(last=False)
        return index
