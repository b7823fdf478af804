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
import functools
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from common import loops
from common.cancellation import raise_if_cancelling
from replay import segments
from replay.backoff import Backoff
from replay.consumer import StreamConsumer
from replay.errors import ArchiveConflict, ArchiveUnavailable
from replay.keys import ARCHIVE_SESSIONS, CONSUMER_GROUP, archive_lock
from replay.lease import Lease
from replay.manifest import collect_manifest, manifest_name
from replay.segment_writer import SegmentWriter, StreamState, settled
from replay.segments import DURABLE_KIND, Entry
from replay.spool import Spool
from replay.store import ArchiveStore

logger = logging.getLogger(__name__)


async def track(redis: aioredis.Redis, session_id: str) -> None:
    """Register a session for archiving (idempotent); the app calls it when a session starts."""
    await redis.sadd(ARCHIVE_SESSIONS, session_id)


class _LeaseLostError(Exception):
    """Another node holds the session's lease now."""


@dataclass
class _Session:
    session_id: str
    streams: dict[str, StreamState]
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
        self._writer = SegmentWriter(
            store,
            spool=Spool(spool_dir) if spool_dir is not None else None,
            backoff=Backoff(initial_s=retry_initial_s, max_s=retry_max_s),
            retain=retain_entries,
        )
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
            await loops.forever(
                self._pass_all,
                every_s=self._poll_s,
                doing="archive pass",
                log=logger,
                stopping=self._stopping,
            )
        finally:
            await self._release_all()

    async def _pass_all(self) -> object:
        """One pass over every tracked session; `loops.AGAIN` when a stream had more to read."""
        self._more = False
        tracked = await self._tracked()
        if tracked is not None:
            for session_id in await self._writer.sweep_spool(tracked):
                self._sessions.pop(session_id, None)
        for session_id in tracked or ():
            if self._stopping.is_set():
                break
            await self.archive_once(session_id)
        return loops.AGAIN if self._more else None

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
        raise_if_cancelling()
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
            if not self._writer.store_ready:
                # Opening needs the store; while it is down one probe per backoff period (a
                # segment write) is enough, not one per session, each with its own retries.
                return False
            if await self._writer.from_store(self._store.exists(manifest_name(session_id))):
                await self._untrack(session_id)
                return True
            session = await self._open(session_id)
            self._sessions[session_id] = session
        for kind, stream in session.streams.items():
            await self._pull(session, kind, stream)
        counts = {kind: await self._count(stream) for kind, stream in session.streams.items()}
        renew = functools.partial(self._renew, session)
        for kind, stream in session.streams.items():
            final = session.ended and stream.tail >= counts[kind]
            await self._writer.drain(stream, renew)
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
            stream = StreamState(consumer, counters[kind], stored, stored)
            await self._writer.load_spool(session_id, kind, stream)
            session.streams[kind] = stream
            await self._take(session, kind, stream, await consumer.claim_pending())
        newest = await session.streams[DURABLE_KIND].consumer.last()
        session.ended = session.ended or (newest is not None and _is_ended(newest.raw))
        return session

    async def _stored_through(self, session_id: str, kind: str) -> int:
        listing = self._store.list(segments.kind_prefix(session_id, kind))
        names = await self._writer.from_store(listing)
        lasts = [parsed[2] for parsed in map(segments.parse_name, names) if parsed is not None]
        return max(lasts, default=0)

    async def _pull(self, session: _Session, kind: str, stream: StreamState) -> None:
        room = self._segment_events - len(stream.buffer)
        if room > 0:
            entries = await stream.consumer.read_new(room)
            self._more = self._more or len(entries) == room
            await self._take(session, kind, stream, entries)
        await self._fill_holes(session, kind, stream)

    async def _take(
        self, session: _Session, kind: str, stream: StreamState, entries: list[Entry]
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

    async def _fill_holes(self, session: _Session, kind: str, stream: StreamState) -> None:
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

    async def _flush(
        self, session: _Session, kind: str, stream: StreamState, *, final: bool
    ) -> None:
        renew = functools.partial(self._renew, session)
        while stream.buffer:
            run = _leading_run(stream.buffer)
            aged = stream.since is not None and time.monotonic() - stream.since >= self._segment_s
            if len(run) >= self._segment_events:
                run = run[: self._segment_events]
            elif len(run) == len(stream.buffer) and not (final or aged):
                return  # the run may still grow
            await self._writer.write(session.session_id, kind, stream, run, renew)
            del stream.buffer[: len(run)]
            stream.since = time.monotonic() if stream.buffer else None

    async def _renew(self, session: _Session) -> None:
        if not await self._lease.acquire(archive_lock(session.session_id)):
            raise _LeaseLostError

    async def _write_manifest(self, session: _Session) -> None:
        session_id = session.session_id
        manifest = await collect_manifest(self._store, session_id, kinds=session.streams)
        await self._renew(session)
        try:
            await settled(self._store.put_once(manifest_name(session_id), manifest.to_bytes()))
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
        await self._writer.purge(session_id)
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

    async def _count(self, stream: StreamState) -> int:
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
