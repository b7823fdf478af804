"""`SegmentWriter`: puts closed segments in the store, or in the spool while the store is down.

Contract, per stream: segments are written in ``seq`` order, each once (`put_once`); the
entries of a segment are acknowledged in the consumer group (and the stream trimmed down to
``retain`` archived entries) only after the store confirmed it. While the store is unavailable
(its own capped backoff, shared by every session), segments go to the spool instead, and every
later segment of that stream follows them there until the spool drained, oldest first, so the
store never holds a segment whose predecessors are missing. Every write is preceded by
``renew``, the caller's lease check, so a node that lost a session writes nothing more of it.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from replay import segments
from replay.backoff import Backoff
from replay.consumer import StreamConsumer
from replay.errors import ArchiveCorrupt, ArchiveNotFound, ArchiveUnavailable
from replay.segments import Entry
from replay.spool import Spool
from replay.store import ArchiveStore

logger = logging.getLogger(__name__)

_STORE = "store"  # the key of the store's own backoff: an outage is the store's, not a session's
_T = TypeVar("_T")

#: The caller's lease check before each write; raises when the lease is lost.
Renew = Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Spooled:
    """A segment in the spool: its name and the entries it holds."""

    name: str
    first: int
    last: int


@dataclass
class StreamState:
    """What one archiver knows of one stream kind of a session it holds."""

    consumer: StreamConsumer
    counter_key: str
    stored: int  # highest seq stored; every seq up to it is archived or absent from the stream
    done: int  # highest seq stored or spooled; spooled covers stored + 1..done
    spooled: list[Spooled] = field(default_factory=list)  # waiting for the store, by first
    buffer: list[Entry] = field(default_factory=list)  # delivered, seq > done, sorted, unique
    since: float | None = None  # monotonic time the oldest buffered entry arrived

    @property
    def tail(self) -> int:
        """Highest seq this archiver has seen."""
        return self.buffer[-1].seq if self.buffer else self.done


class SegmentWriter:
    """Writes segments to ``store``, through ``spool`` (None: no spool) when it is down."""

    def __init__(
        self, store: ArchiveStore, *, spool: Spool | None, backoff: Backoff, retain: int | None
    ) -> None:
        self._store = store
        self._spool = spool
        self._backoff = backoff
        self._retain = retain

    @property
    def store_ready(self) -> bool:
        """False while the store backs off after an outage."""
        return self._backoff.ready(_STORE)

    async def write(
        self, session_id: str, kind: str, stream: StreamState, run: list[Entry], renew: Renew
    ) -> None:
        """Write the consecutive entries ``run`` (the head of ``stream.buffer``) as a segment."""
        segment, data = segments.encode(session_id, kind, run)
        if segment.first != stream.done + 1:
            logger.error(
                "session %s %s: entries %d..%d are missing from the stream; archiving past them",
                session_id,
                kind,
                stream.done + 1,
                segment.first - 1,
            )
        await renew()
        if self._spool is not None and (stream.spooled or not self.store_ready):
            await settled(self._spool.put(segment.name, data))
            stream.spooled.append(Spooled(segment.name, segment.first, segment.last))
        else:
            try:
                await settled(self._store.put_once(segment.name, data))
            except ArchiveUnavailable as exc:
                if self._spool is None:
                    raise
                self.store_failed(exc)
                await settled(self._spool.put(segment.name, data))
                stream.spooled.append(Spooled(segment.name, segment.first, segment.last))
            else:
                self._backoff.succeeded(_STORE)
                await self._stored(stream, segment.first, segment.last)
        stream.done = segment.last

    async def drain(self, stream: StreamState, renew: Renew) -> None:
        """Move spooled segments to the store, oldest first, while the store takes them."""
        while self._spool is not None and stream.spooled and self.store_ready:
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
            await renew()
            try:
                await settled(self._store.put_once(spooled.name, data))
            except ArchiveUnavailable as exc:
                self.store_failed(exc)
                return
            self._backoff.succeeded(_STORE)
            await self._stored(stream, spooled.first, spooled.last)
            await self._spool.remove(spooled.name)
            del stream.spooled[0]

    async def load_spool(self, session_id: str, kind: str, stream: StreamState) -> None:
        """Take up the spooled segments that continue the store; see `replay.spool` for why
        the rest may go. Their entries are pending in the group, so nothing is lost with them."""
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
            stream.spooled.append(Spooled(name, first, last))
            stream.done = last

    async def sweep_spool(self, tracked: list[str]) -> list[str]:
        """Purge the spool of sessions no longer ``tracked``; returns the purged ones.

        A session leaves the tracked set only once its manifest is written (maybe by another
        node, after this one lost its lease), so whatever the spool still holds for it is
        redundant.
        """
        if self._spool is None:
            return []
        try:
            finished = sorted(set(await self._spool.sessions()) - set(tracked))
            for session_id in finished:
                await self._spool.purge(session_id)
        except ArchiveUnavailable:
            logger.exception("cannot sweep the archive spool")
            return []
        return finished

    async def purge(self, session_id: str) -> None:
        """Forget whatever the spool holds of an archived session."""
        if self._spool is not None:
            await self._spool.purge(session_id)

    async def from_store(self, call: Awaitable[_T]) -> _T:
        """``call`` to the store, counted against the store's backoff when it is down."""
        try:
            return await call
        except ArchiveUnavailable as exc:
            self.store_failed(exc)
            raise

    def store_failed(self, exc: ArchiveUnavailable) -> None:
        """The store failed a call: back off every session's store calls."""
        delay = self._backoff.failed(_STORE)
        logger.warning("archive store unavailable; next try in %.1fs: %s", delay, exc)

    async def _stored(self, stream: StreamState, first: int, last: int) -> None:
        """The store confirmed entries `first`..`last`: acknowledge them, then trim."""
        await stream.consumer.ack(range(first, last + 1))
        stream.stored = last
        if self._retain is not None:
            await stream.consumer.trim(archived_through=last, keep=self._retain)


async def settled(write: Awaitable[_T]) -> _T:
    """Await ``write``; a cancelled caller waits for it to land (or fail) before unwinding.

    Otherwise a restarted archiver could list the store (or the spool) before the orphaned
    write finishes, and start a segment that overlaps it.
    """
    put = asyncio.ensure_future(write)
    try:
        return await asyncio.shield(put)
    except asyncio.CancelledError:
        await asyncio.wait([put])
        if not put.cancelled():
            put.exception()  # retrieved: the caller is gone, the failure is moot
        raise
