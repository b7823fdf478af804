"""`Archiver`: consumes session streams into write-once segments, then writes the manifest.

Guarantees, per session and stream kind:

- Every entry ends up in exactly one segment (no gap, no duplicate), across crashes, restarts
  and node changes. The store is the source of truth: a segment always starts right after the
  highest ``last`` already stored for its kind (or after a hole the stream itself has), its bytes
  are a function of its entries, and it is written with `put_once` before any of its entries is
  acknowledged. An archiver that dies at any point leaves entries pending in the consumer
  group; the next owner takes them over and skips those the store already holds.
- One node archives a session at a time: it holds the session's lease (`Lease`), renewed on
  every pass and before every write.
- A store outage delays the archive and drops nothing: entries stay pending (unacknowledged).
  With a spool (`replay.spool`), segments keep closing during the outage and wait on local disk;
  store writes are retried with capped exponential backoff and the spool drains in order once
  the store answers. Without one, the session is retried with the same backoff.
- The manifest is written once the ``ended`` event and every entry counted by the stream
  counters are archived; the session then leaves the `ARCHIVE_SESSIONS` set.
- With `retain_entries` set, the streams are trimmed after each stored segment, down to the last
  `retain_entries` archived entries. Only entries the store confirmed and the group no longer
  holds as pending are ever trimmed; spooled entries stay in the stream until they are stored.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from replay import segments
from replay.backoff import Backoff
from replay.consumer import StreamConsumer
from replay.errors import ArchiveConflict, ArchiveCorrupt, ArchiveNotFound, ArchiveUnavailable
from replay.keys import ARCHIVE_SESSIONS, CONSUMER_GROUP, archive_lock
from replay.lease import Lease
from replay.manifest import collect_manifest, manifest_name
from replay.segments import DURABLE_KIND, Entry
from replay.spool import Spool
from replay.store import ArchiveStore

logger = logging.getLogger(__name__)

_STORE = "store"  # the key of the store's own backoff: an outage is the store's, not a session's
_T = TypeVar("_T")


async def track(redis: aioredis.Redis, session_id: str) -> None:
    """Register a session for archiving (idempotent); the app calls it when a session starts."""
    await redis.sadd(ARCHIVE_SESSIONS, session_id)


class _LeaseLostError(Exception):
    """Another node holds the session's lease now."""


@dataclass(frozen=True, slots=True)
class _Spooled:
    """A segment in the spool: its name and the entries it holds."""

    name: str
    first: int
    last: int


@dataclass
class _Stream:
    """What one archiver knows of one stream kind of a session it holds."""

    consumer: StreamConsumer
    counter_key: str
    stored: int  # highest seq stored; every seq up to it is archived or absent from the stream
    done: int  # highest seq stored or spooled; spooled covers stored + 1..done
    spooled: list["_Spooled"] = field(default_factory=list)  # waiting for the store, by first
    buffer: list[Entry] = field(default_factory=list)  # delivered, seq > done, sorted, unique
    since: float | None = None  # monotonic time the oldest buffered entry arrived

    @property
    def tail(self) -> int:
        """Highest seq this archiver has seen."""
        return self.buffer[-1].seq if self.buffer else self.done


@dataclass
class _Session:
    session_id: str
    streams: dict[str, _Stream]
    ended: bool = False


class Archiver:
    """Archives every session in `ARCHIVE_SESSIONS` from Redis Streams into `store`.

    `streams_for(session_id)` maps each kind (``events`` required, ``comments``, ...) to its
    stream key and `counters_for(session_id)` each kind to its counter key. `node_id` must be
    unique among running archivers: it owns the leases and names this group consumer. Segments
    close at `segment_events` entries or when their oldest entry has waited `segment_ms`.
    `spool_dir` (None: no spool) holds segments while the store is unavailable.
    `retain_entries` (None: never trim) is how many archived entries each stream keeps.
    `on_archived(session_id)` (None: nothing) is called once this archiver has written a
    session's manifest; it must not block (start a task for any work).
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        store: ArchiveStore,
        *,
        streams_for: Callable[[str], Mapping[str, str]],
        counters_for: Callable[[str], Mapping[str, str]],
        node_id: str,
        segment_events: int = 500,
        segment_ms: int = 5000,
        poll_ms: int = 200,
        lease_ms: int = 30_000,
        retry_initial_s: float = 0.5,
        retry_max_s: float = 30.0,
        spool_dir: Path | None = None,
        retain_entries: int | None = None,
        on_archived: Callable[[str], None] | None = None,
    ) -> None:
        if segment_events < 1:
            raise ValueError("segment_events must be at least 1")
        if retain_entries is not None and retain_entries < 1:
            # The newest entry must stay: a reopened session learns it has ended from it.
            raise ValueError("retain_entries must be at least 1")
        self._redis = redis
        self._store = store
        self._streams_for = streams_for
        self._counters_for = counters_for
        self._node_id = node_id
        self._segment_events = segment_events
        self._segment_s = segment_ms / 1000
        self._poll_s = poll_ms / 1000
        self._lease = Lease(redis, node_id, ttl_ms=lease_ms)
        self._backoff = Backoff(initial_s=retry_initial_s, max_s=retry_max_s)
        self._store_backoff = Backoff(initial_s=retry_initial_s, max_s=retry_max_s)
        self._spool = Spool(spool_dir) if spool_dir is not None else None
        self._retain = retain_entries
        self._on_archived = on_archived
        self._sessions: dict[str, _Session] = {}
        self._held: set[str] = set()
        self._stopping = asyncio.Event()
        self._more = False
        #: Events numbered but not yet in the store, per session held, at its last pass.
        self.lag_events: dict[str, int] = {}

    async def run(self) -> None:
        """Archive tracked sessions until cancelled or `stop`; releases its leases on exit."""
        self._stopping.clear()
        try:
            while not self._stopping.is_set():
                self._more = False
                tracked = await self._tracked()
                await self._sweep_spool(tracked)
                for session_id in tracked or ():
                    if self._stopping.is_set():
                        break
                    await self.archive_once(session_id)
                if not self._more:
                    # Polling cadence, not synchronisation: wake up early only to stop.
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self._poll_s):
                            await self._stopping.wait()
                    # A cancel arriving as the timeout fires is turned into that TimeoutError
                    # by asyncio.timeout (Python 3.11), and suppressed above: honour it here,
                    # or shutdown waits for this loop forever.
                    _raise_if_cancelling()
        finally:
            await self._release_all()

    def stop(self) -> None:
        """Make `run` return after the current session's pass."""
        self._stopping.set()

    async def archive_once(self, session_id: str) -> bool:
        """One pass over a session; True once its manifest exists (written now or before).

        Never raises for a failing store or Redis: it logs, backs the session off (a call
        during the backoff returns False at once) and forgets what it buffered, so the next
        pass starts again from the store and the consumer group.
        """
        if not self._backoff.ready(session_id):
            return False
        try:
            finished = await self._pass(session_id)
        except _LeaseLostError:
            logger.warning("lost the archive lease of session %s", session_id)
            finished = False
            self._forget(session_id)
        except ArchiveUnavailable as exc:
            delay = self._backoff.failed(session_id)
            logger.warning("archive of %s paused %.1fs: %s", session_id, delay, exc)
            finished = False
            self._forget(session_id)
        except Exception:
            delay = self._backoff.failed(session_id)
            logger.exception("archive of %s failed; retrying in %.1fs", session_id, delay)
            finished = False
            self._forget(session_id)
        except BaseException:
            self._forget(session_id)
            raise
        else:
            self._backoff.succeeded(session_id)
        _raise_if_cancelling()
        return finished

    async def _pass(self, session_id: str) -> bool:
        lock = archive_lock(session_id)
        if not await self._lease.acquire(lock):
            self._held.discard(session_id)
            self._forget(session_id)
            return False
        self._held.add(session_id)
        session = self._sessions.get(session_id)
        if session is None:
            if not self._store_backoff.ready(_STORE):
                # Opening needs the store; while it is down one probe per backoff period (a
                # segment write) is enough, not one per session, each with its own retries.
                return False
            if await self._from_store(self._store.exists(manifest_name(session_id))):
                await self._untrack(session_id)
                return True
            session = await self._open(session_id)
            self._sessions[session_id] = session
        for kind, stream in session.streams.items():
            await self._pull(session, kind, stream)
        counts = {kind: await self._count(stream) for kind, stream in session.streams.items()}
        for kind, stream in session.streams.items():
            final = session.ended and stream.tail >= counts[kind]
            await self._drain(session, stream)
            await self._flush(session, kind, stream, final=final)
        self.lag_events[session_id] = sum(
            max(0, counts[kind] - stream.stored) for kind, stream in session.streams.items()
        )
        if session.ended and all(
            not stream.buffer and not stream.spooled and stream.done >= counts[kind]
            for kind, stream in session.streams.items()
        ):
            await self._write_manifest(session)
            return True
        return False

    async def _open(self, session_id: str) -> _Session:
        keys = self._streams_for(session_id)
        counters = self._counters_for(session_id)
        if DURABLE_KIND not in keys:
            raise ValueError(f"streams_for({session_id!r}) has no {DURABLE_KIND!r} stream")
        if missing := set(keys) - set(counters):
            raise ValueError(f"counters_for({session_id!r}) lacks {sorted(missing)}")
        session = _Session(session_id, {})
        for kind, key in keys.items():
            consumer = StreamConsumer(
                self._redis, key, group=CONSUMER_GROUP, consumer=self._node_id
            )
            await consumer.ensure_group()
            stored = await self._stored_through(session_id, kind)
            stream = _Stream(consumer, counters[kind], stored, stored)
            await self._load_spool(session_id, kind, stream)
            session.streams[kind] = stream
            await self._take(session, kind, stream, await consumer.claim_pending())
        newest = await session.streams[DURABLE_KIND].consumer.last()
        session.ended = session.ended or (newest is not None and _is_ended(newest.raw))
        return session

    async def _stored_through(self, session_id: str, kind: str) -> int:
        names = await self._from_store(self._store.list(segments.kind_prefix(session_id, kind)))
        lasts = [parsed[2] for parsed in map(segments.parse_name, names) if parsed is not None]
        return max(lasts, default=0)

    async def _load_spool(self, session_id: str, kind: str, stream: _Stream) -> None:
        # Keep the spooled segments that continue the store; see `replay.spool` for why the
        # rest may go. Their entries are pending in the group, so nothing is lost with them.
        if self._spool is None:
            return
        names = await self._spool.list(session_id, kind)
        for index, name in enumerate(names):
            parsed = segments.parse_name(name)
            assert parsed is not None  # Spool.list returns segment names only
            _, first, last = parsed
            if last <= stream.stored:
                await self._spool.remove(name)  # stored by a drain that died before removing it
                continue
            if first <= stream.done or (
                first > stream.done + 1
                and await stream.consumer.read_range(stream.done + 1, first - 1)
            ):
                for stale in names[index:]:
                    await self._spool.remove(stale)
                logger.warning(
                    "session %s %s: spooled %s..%s no longer continues the archive; rereading",
                    session_id,
                    kind,
                    first,
                    names[-1],
                )
                return
            stream.spooled.append(_Spooled(name, first, last))
            stream.done = last

    async def _pull(self, session: _Session, kind: str, stream: _Stream) -> None:
        room = self._segment_events - len(stream.buffer)
        if room > 0:
            entries = await stream.consumer.read_new(room)
            self._more = self._more or len(entries) == room
            await self._take(session, kind, stream, entries)
        await self._fill_holes(session, kind, stream)

    async def _take(
        self, session: _Session, kind: str, stream: _Stream, entries: list[Entry]
    ) -> None:
        # Entries up to `stored` are in the store; those up to `done` wait in the spool, whose
        # drain acknowledges them; only later ones are new to this archiver.
        stale = [entry.seq for entry in entries if entry.seq <= stream.stored]
        known = {entry.seq for entry in stream.buffer}
        fresh = {e.seq: e for e in entries if e.seq > stream.done and e.seq not in known}.values()
        if fresh:
            stream.buffer = sorted([*stream.buffer, *fresh], key=lambda entry: entry.seq)
            if stream.since is None:
                stream.since = time.monotonic()
            if kind == DURABLE_KIND and any(_is_ended(entry.raw) for entry in fresh):
                session.ended = True
        # Already in the store: a previous owner wrote them and died before acknowledging.
        await stream.consumer.ack(stale)

    async def _fill_holes(self, session: _Session, kind: str, stream: _Stream) -> None:
        # A hole below the newest delivered entry is either held in another consumer's pending
        # list (a dead owner's, or one that read after our claim) or absent from the stream
        # for good, since stream ids only grow. Read it directly; what stays missing is a gap
        # of the stream itself, and segments end before it.
        expected = stream.done + 1
        for entry in list(stream.buffer):
            if entry.seq > expected:
                found = await stream.consumer.read_range(expected, entry.seq - 1)
                await self._take(session, kind, stream, found)
            expected = entry.seq + 1

    async def _flush(self, session: _Session, kind: str, stream: _Stream, *, final: bool) -> None:
        while stream.buffer:
            run = _leading_run(stream.buffer)
            aged = stream.since is not None and time.monotonic() - stream.since >= self._segment_s
            if len(run) >= self._segment_events:
                run = run[: self._segment_events]
            elif len(run) == len(stream.buffer) and not (final or aged):
                return  # the run may still grow
            await self._write(session, kind, stream, run)

    async def _write(self, session: _Session, kind: str, stream: _Stream, run: list[Entry]) -> None:
        segment, data = segments.encode(session.session_id, kind, run)
        if segment.first != stream.done + 1:
            logger.error(
                "session %s %s: entries %d..%d are missing from the stream; archiving past them",
                session.session_id,
                kind,
                stream.done + 1,
                segment.first - 1,
            )
        await self._renew(session)
        if self._spool is not None and (stream.spooled or not self._store_backoff.ready(_STORE)):
            await _settled(self._spool.put(segment.name, data))
            stream.spooled.append(_Spooled(segment.name, segment.first, segment.last))
        else:
            try:
                await _settled(self._store.put_once(segment.name, data))
            except ArchiveUnavailable as exc:
                if self._spool is None:
                    raise
                self._store_failed(exc)
                await _settled(self._spool.put(segment.name, data))
                stream.spooled.append(_Spooled(segment.name, segment.first, segment.last))
            else:
                self._store_backoff.succeeded(_STORE)
                await self._stored(stream, segment.first, segment.last)
        stream.done = segment.last
        del stream.buffer[: len(run)]
        stream.since = time.monotonic() if stream.buffer else None

    async def _drain(self, session: _Session, stream: _Stream) -> None:
        """Move spooled segments to the store, oldest first, while the store takes them."""
        while self._spool is not None and stream.spooled and self._store_backoff.ready(_STORE):
            spooled = stream.spooled[0]
            try:
                # The spool is local disk, not the store: check the bytes still say what the
                # name says before they become the archive.
                data = await self._spool.get(spooled.name)
                segments.describe(spooled.name, data)
            except (ArchiveCorrupt, ArchiveNotFound):
                # Drop it and the rest of the chain; raising reopens the session, which reads
                # their entries (pending, so still in the stream) again.
                for dropped in stream.spooled:
                    await self._spool.remove(dropped.name)
                raise
            await self._renew(session)
            try:
                await _settled(self._store.put_once(spooled.name, data))
            except ArchiveUnavailable as exc:
                self._store_failed(exc)
                return
            self._store_backoff.succeeded(_STORE)
            await self._stored(stream, spooled.first, spooled.last)
            await self._spool.remove(spooled.name)
            del stream.spooled[0]

    async def _stored(self, stream: _Stream, first: int, last: int) -> None:
        """The store confirmed entries `first`..`last`: acknowledge them, then trim."""
        await stream.consumer.ack(range(first, last + 1))
        stream.stored = last
        if self._retain is not None:
            await stream.consumer.trim(archived_through=last, keep=self._retain)

    async def _from_store(self, call: Awaitable[_T]) -> _T:
        try:
            return await call
        except ArchiveUnavailable as exc:
            self._store_failed(exc)
            raise

    def _store_failed(self, exc: ArchiveUnavailable) -> None:
        delay = self._store_backoff.failed(_STORE)
        logger.warning("archive store unavailable; next try in %.1fs: %s", delay, exc)

    async def _renew(self, session: _Session) -> None:
        if not await self._lease.acquire(archive_lock(session.session_id)):
            raise _LeaseLostError

    async def _write_manifest(self, session: _Session) -> None:
        session_id = session.session_id
        manifest = await collect_manifest(self._store, session_id, kinds=session.streams)
        await self._renew(session)
        try:
            await _settled(self._store.put_once(manifest_name(session_id), manifest.to_bytes()))
        except ArchiveConflict:
            logger.exception("session %s: keeping the manifest already stored", session_id)
        logger.info("session %s archived: %s", session_id, manifest.counts)
        await self._untrack(session_id)
        if self._on_archived is not None:
            try:
                self._on_archived(session_id)
            except Exception:
                # The archive is complete whatever a listener does.
                logger.exception("session %s: on_archived failed", session_id)

    async def _untrack(self, session_id: str) -> None:
        await self._redis.srem(ARCHIVE_SESSIONS, session_id)
        if self._spool is not None:
            await self._spool.purge(session_id)
        await self._lease.release(archive_lock(session_id))
        self._held.discard(session_id)
        self._sessions.pop(session_id, None)
        self.lag_events.pop(session_id, None)

    async def _tracked(self) -> list[str] | None:
        try:
            members = await self._redis.smembers(ARCHIVE_SESSIONS)
        except RedisError:
            logger.exception("cannot read %s", ARCHIVE_SESSIONS)
            return None
        return sorted(m.decode() if isinstance(m, bytes) else m for m in members)

    async def _sweep_spool(self, tracked: list[str] | None) -> None:
        # A session leaves the tracked set only once its manifest is written (maybe by another
        # node, after this one lost its lease), so whatever this spool still holds for it is
        # redundant. Unknown (Redis unreadable) means keep everything.
        if self._spool is None or tracked is None:
            return
        try:
            finished: set[str] = set(await self._spool.sessions()) - set(tracked)
            for session_id in sorted(finished):
                await self._spool.purge(session_id)
                self._sessions.pop(session_id, None)
        except ArchiveUnavailable:
            logger.exception("cannot sweep the archive spool")

    async def _count(self, stream: _Stream) -> int:
        value = await self._redis.get(stream.counter_key)
        return int(value) if value is not None else 0

    def _forget(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)

    async def _release_all(self) -> None:
        for session_id in sorted(self._held):
            try:
                await self._lease.release(archive_lock(session_id))
            except RedisError:
                logger.warning("cannot release the archive lease of %s", session_id)
        self._held.clear()
        self._sessions.clear()


async def _settled(write: Awaitable[_T]) -> _T:
    # A cancelled caller waits for its write to land (or fail) before unwinding: otherwise a
    # restarted archiver could list the store (or the spool) before the orphaned write
    # finishes, and start a segment that overlaps it.
    put = asyncio.ensure_future(write)
    try:
        return await asyncio.shield(put)
    except asyncio.CancelledError:
        await asyncio.wait([put])
        if not put.cancelled():
            put.exception()  # retrieved: the caller is gone, the failure is moot
        raise


def _raise_if_cancelling() -> None:
    # On Python 3.11, asyncio.wait_for (used inside redis-py) can swallow a cancellation that
    # races with its inner call finishing; the task still counts the request, so honour it here
    # instead of looping on as if nobody had asked us to stop.
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _leading_run(buffer: list[Entry]) -> list[Entry]:
    """The longest prefix of `buffer` with consecutive seqs."""
    end = 1
    while end < len(buffer) and buffer[end].seq == buffer[end - 1].seq + 1:
        end += 1
    return buffer[:end]


def _is_ended(raw: bytes) -> bool:
    if b'"ended"' not in raw:
        return False
    try:
        event = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return False
    return isinstance(event, dict) and event.get("type") == "ended"
