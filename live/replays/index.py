"""The replay index of an ended session: checkpoints of its product script and the comments
the host deleted, built from the archive once, stored beside it, and cached per process.

Contract: `build` reads the durable segments once, one at a time, in ``seq`` order; it keeps the
folded `Script` after every `CHECKPOINT_SEGMENTS`-th segment and the ids named by
``comment_deleted`` events, never the events themselves. `ScriptIndex.state_at` answers the
script at an instant from the nearest checkpoint whose segments all lie at or before it, reading
only the few segments after it.

Stored: the index is a pure function of the (write-once) archive, so it is stored once with
`ArchiveStore.put_once` under ``sessions/<id>/replay-index-v1.json`` with deterministic bytes;
any node reading it later gets the same index with one read, and only the first replay of a
session ever pays for reading every durable segment. A stored index that does not match the
manifest (another format, a damaged object) is ignored and built again; a store that cannot
take it only costs the next node the same build. Deleting the session's archive deletes it with
the segments (same prefix).

Cached: a process keeps the indexes of the `CACHED_SESSIONS` sessions replayed most recently
(`Indexes`) until its archive is deleted (`Indexes.forget`; a deleted archive is refused by
the record before its index is asked for anyway). Sockets opening a session together wait for
one load.

Deleted comments are marked on replay (`mark_deleted`), never silently lost.
"""

import asyncio
import hashlib
import logging
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from live.replays.product_script import SCRIPT_TYPES, Script
from realtime import protocol
from replay import window
from replay.errors import ArchiveConflict, ArchiveNotFound, ArchiveUnavailable
from replay.manifest import Manifest
from replay.reader import read_manifest
from replay.segments import DURABLE_KIND, Segment
from replay.store import ArchiveStore

log = logging.getLogger(__name__)

CHECKPOINT_SEGMENTS = 4
#: Segments read concurrently while an index is built (S3 latency, not bandwidth, bounds it).
READ_AHEAD_SEGMENTS = 16
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


FORMAT = "replay-index-v1"


def index_name(session_id: str) -> str:
    """Object name of a session's stored replay index."""
    return f"sessions/{session_id}/{FORMAT}.json"


def encode(index: ScriptIndex) -> bytes:
    """Deterministic bytes of ``index`` (the same index always gives the same bytes)."""
    document = {
        "format": FORMAT,
        "manifest_sha256": _fingerprint(index.manifest),
        "reach": list(index.reach),
        "checkpoints": {str(p): script.to_json() for p, script in index.checkpoints.items()},
        "deleted_comments": sorted(index.deleted_comments),
    }
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS)


def decode(manifest: Manifest, data: bytes) -> ScriptIndex | None:
    """The index stored as ``data`` for ``manifest``; None when it is not one for it."""
    try:
        document = orjson.loads(data)
        if document["format"] != FORMAT or document["manifest_sha256"] != _fingerprint(manifest):
            return None
        durable = tuple(s for s in manifest.segments if s.kind == DURABLE_KIND)
        reach = tuple(int(t) for t in document["reach"])
        if len(reach) != len(durable):
            return None
        checkpoints = {
            int(p): Script.from_json(script) for p, script in document["checkpoints"].items()
        }
        deleted = frozenset(str(c) for c in document["deleted_comments"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
        return None
    return ScriptIndex(manifest, durable, reach, checkpoints, deleted)


async def load_or_build(store: ArchiveStore, manifest: Manifest) -> ScriptIndex:
    """The stored index of the manifest's session, or a new one (then stored)."""
    name = index_name(manifest.session_id)
    try:
        stored = decode(manifest, await store.get(name))
    except ArchiveNotFound:
        stored = None
    if stored is not None:
        return stored
    index = await build(store, manifest)
    try:
        await store.put_once(name, encode(index))
    except (ArchiveConflict, ArchiveUnavailable) as exc:
        log.warning("replay index of %s not stored: %s", manifest.session_id, exc)
    return index


def _fingerprint(manifest: Manifest) -> str:
    return hashlib.sha256(manifest.to_bytes()).hexdigest()


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


def mark_deleted(
    events: Iterable[dict[str, Any]], *, session_events: Iterable[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """The events with ``"deleted": true`` on every comment a ``comment_deleted`` names.

    ``session_events`` are all the session's events when ``events`` is only a window of them
    (the deletion may come after the window). The archive keeps what was said and that the
    host removed it; a replay client decides whether to show deleted comments.
    """
    listed = list(events)
    source = listed if session_events is None else session_events
    deleted = {str(e["comment_id"]) for e in source if e.get("type") == "comment_deleted"}
    return [
        {**e, "deleted": True} if e.get("type") == "comment" and str(e.get("id")) in deleted else e
        for e in listed
    ]
