"""An index of an ended session's durable archive for replays: checkpoints of the product
script, and the comments the host deleted.

Contract: `build` reads the durable segments once, one at a time, in ``seq`` order; it keeps the
folded `Script` after every `CHECKPOINT_SEGMENTS`-th segment and the ids named by
``comment_deleted`` events, never the events themselves. `ScriptIndex.state_at` answers the
script at an instant from the nearest checkpoint whose segments all lie at or before it, reading
only the few segments after it. `Indexes` keeps the indexes of the most recently replayed
sessions per process (an ended session's archive never changes; a deleted one is refused by the
record before its index is asked for), manifest included: a cached session costs no archive
read before its state.
"""

import asyncio
from collections import OrderedDict
from dataclasses import dataclass

from live.product_script import SCRIPT_TYPES, Script
from realtime import protocol
from replay import window
from replay.manifest import Manifest
from replay.reader import read_manifest
from replay.segments import DURABLE_KIND, Segment
from replay.store import ArchiveStore

CHECKPOINT_SEGMENTS = 4
#: Segments read concurrently while an index is built (S3 latency, not bandwidth, bounds it).
READ_AHEAD_SEGMENTS = 16
#: Sessions whose index a process keeps.
CACHED_SESSIONS = 32
_DELETED = b'"comment_deleted"'


@dataclass(frozen=True, slots=True)
class ScriptIndex:
    """Checkpoints of a session's product script and its deleted comments."""

    manifest: Manifest
    durable: tuple[Segment, ...]
    #: ``reach[i]``: the latest ``t_ms`` of durable segments ``0..i``.
    reach: tuple[int, ...]
    checkpoints: dict[int, Script]
    deleted_comments: frozenset[str]

    async def state_at(self, store: ArchiveStore, t_ms: int) -> Script:
        """The script folded over every durable event with ``t_ms`` at or before ``t_ms``."""
        start, script = -1, Script()
        for position, saved in self.checkpoints.items():
            if position > start and self.reach[position] <= t_ms:
                start, script = position, saved
        script = script.copy()
        wanted = [s for s in self.durable[start + 1 :] if s.from_ms <= t_ms]
        reads = window.lines_in_order(store, wanted, ahead=len(wanted))
        try:
            async for lines in reads:
                for line in lines:
                    _fold_line(script, line, until_ms=t_ms)
        finally:
            await reads.aclose()
        return script


def _fold_line(script: Script, line: bytes, *, until_ms: int | None) -> None:
    try:
        kind = protocol.event_type(line)
    except ValueError:
        return
    if kind not in SCRIPT_TYPES:
        return
    event = window.parse(line)
    if event is not None and (until_ms is None or window.t_ms(event) <= until_ms):
        script.apply(event)


async def build(store: ArchiveStore, manifest: Manifest) -> ScriptIndex:
    """Read the durable segments once into an index (see the module doc)."""
    durable = tuple(s for s in manifest.segments if s.kind == DURABLE_KIND)
    script = Script()
    checkpoints: dict[int, Script] = {}
    deleted: set[str] = set()
    reach: list[int] = []
    reads = window.lines_in_order(store, durable, ahead=READ_AHEAD_SEGMENTS)
    try:
        for position, segment in enumerate(durable):
            for line in await anext(reads):
                if _DELETED in line:
                    event = window.parse(line)
                    if event is not None and event.get("type") == "comment_deleted":
                        deleted.add(str(event.get("comment_id")))
                        continue
                _fold_line(script, line, until_ms=None)
            reach.append(max(segment.to_ms, reach[-1] if reach else 0))
            if position % CHECKPOINT_SEGMENTS == CHECKPOINT_SEGMENTS - 1:
                checkpoints[position] = script.copy()
    finally:
        await reads.aclose()
    return ScriptIndex(manifest, durable, tuple(reach), checkpoints, frozenset(deleted))


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
            index = None if manifest is None else await build(store, manifest)
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
