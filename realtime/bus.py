"""The cross-node event bus: one Redis Stream of durable events and one of comments per session.

Contract: `publish` gives each durable event the next ``seq`` of its session (1, 2, 3, ...) and
appends it atomically with that number, so stream order is seq order on every node. Readers
resume after any seq they saw; `missed` tells when entries they need were trimmed away.
"""

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, cast

from redis.asyncio import Redis

from common import codec
from common.autopipeline import pipeline_of
from common.errors import EngineUnavailable
from common.redis_errors import translated
from realtime import keys


class BusUnavailable(EngineUnavailable):
    """Redis could not be reached for a bus operation."""


class SessionClosed(Exception):
    """The session's ``ended`` event is published; nothing more may be commented."""


class Muted(Exception):
    """The author is muted in this session."""


#: Control messages are for sockets connected now; older ones are of no use to anybody.
CONTROL_MAXLEN = 10_000


@dataclass(frozen=True, slots=True)
class Entry:
    """One stream entry: its number and the frame JSON exactly as stored."""

    number: int
    frame: bytes


@dataclass(frozen=True, slots=True)
class Batch:
    """What one read returned from a session's streams; ``control`` as (stream id, JSON)."""

    events: list[Entry]
    comments: list[Entry]
    control: list[tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
class Positions:
    """The last numbers handed out in a session, and the epoch they belong to."""

    seq: int
    comment: int
    epoch: str


def _entries(raw: list[Any]) -> list[Entry]:
    out = []
    for entry_id, fields in raw:
        number = int(entry_id.split(b"-", 1)[0])
        out.append(Entry(number=number, frame=fields[b"e"]))
    return out


class EventBus:
    """Publishing to and reading from session streams on one Redis."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        source = resources.files("realtime").joinpath("lua", "publish.lua").read_text("utf-8")
        # Comments and announcements come in floods: they share pipelines per loop turn.
        self._publish = pipeline_of(redis).script(source)

    def _keys(self, session_id: str, stream: str, counter: str) -> list[str]:
        return [
            stream,
            counter,
            keys.ended(session_id),
            keys.muted(session_id),
            keys.epoch(session_id),
        ]

    async def publish(self, session_id: str, event_type: str, fields: Mapping[str, Any]) -> int:
        """Append a durable event; returns its ``seq``."""
        body = codec.encode(fields)
        script_keys = self._keys(
            session_id, keys.events_stream(session_id), keys.events_seq(session_id)
        )
        with translated(into=BusUnavailable):
            seq = await self._publish(
                keys=script_keys, args=[event_type, body, "seq", "", secrets.token_hex(4)]
            )
        return int(seq)

    async def publish_many(
        self, session_id: str, events: Sequence[tuple[str, Mapping[str, Any]]]
    ) -> int:
        """Append several durable events (type, fields) in one step, numbered consecutively
        in the given order; returns the ``seq`` of the last. One round trip instead of one per
        event: an order announces its purchase and the stock it left together."""
        if not events:
            raise ValueError("publish_many needs at least one event")
        (first_type, first_fields), rest = events[0], events[1:]
        more = [part for event_type, fields in rest for part in (event_type, codec.encode(fields))]
        script_keys = self._keys(
            session_id, keys.events_stream(session_id), keys.events_seq(session_id)
        )
        args = [first_type, codec.encode(first_fields), "seq", "", secrets.token_hex(4), *more]
        with translated(into=BusUnavailable):
            seq = await self._publish(keys=script_keys, args=args)
        return int(seq)

    async def publish_comment(
        self, session_id: str, fields: Mapping[str, Any], *, author_id: str
    ) -> int:
        """Append a comment; returns its number (the comment's ``id``).

        Raises `SessionClosed` after the session's end and `Muted` for a muted author.
        """
        body = codec.encode(fields)
        script_keys = self._keys(
            session_id, keys.comments_stream(session_id), keys.comments_seq(session_id)
        )
        with translated(into=BusUnavailable):
            number = int(
                await self._publish(
                    keys=script_keys,
                    args=["comment", body, "id", author_id, secrets.token_hex(4)],
                )
            )
        if number == -1:
            raise SessionClosed(session_id)
        if number == -2:
            raise Muted(author_id)
        return number

    async def positions(self, session_id: str) -> Positions:
        """The last event ``seq`` and comment number handed out (0 when none), and the epoch."""
        # Auto-pipelined: the joins of a storm read their positions in a few round trips.
        with translated(into=BusUnavailable):
            event_seq, comment_seq, epoch = await pipeline_of(self._redis).execute(
                "MGET",
                keys.events_seq(session_id),
                keys.comments_seq(session_id),
                keys.epoch(session_id),
            )
        return Positions(
            seq=int(event_seq or 0),
            comment=int(comment_seq or 0),
            epoch=epoch.decode() if isinstance(epoch, bytes) else (epoch or ""),
        )

    async def send_control(self, session_id: str, message: Mapping[str, Any]) -> None:
        """Hand a control message (a private frame, a kick) to every node's room reader."""
        with translated(into=BusUnavailable):
            await self._redis.xadd(
                keys.control_stream(session_id),
                {"e": codec.encode(message)},
                maxlen=CONTROL_MAXLEN,
                approximate=True,
            )

    async def control_position(self, session_id: str) -> str:
        """The id of the newest control message ("0-0" when none): read after it."""
        with translated(into=BusUnavailable):
            newest = await self._redis.xrevrange(keys.control_stream(session_id), count=1)
        if not newest:
            return "0-0"
        entry_id = newest[0][0]
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)

    async def read(
        self,
        session_id: str,
        *,
        after_seq: int,
        after_comment: int,
        after_control: str,
        block_ms: int,
        count: int,
    ) -> Batch:
        """Entries after the given positions, waiting up to ``block_ms`` for the first one."""
        events_key = keys.events_stream(session_id)
        control_key = keys.control_stream(session_id)
        streams: dict[Any, Any] = {
            events_key: f"{after_seq}-0",
            keys.comments_stream(session_id): f"{after_comment}-0",
            control_key: after_control,
        }
        with translated(into=BusUnavailable):
            raw = await self._redis.xread(streams, count=count, block=block_ms)
        events: list[Entry] = []
        comments: list[Entry] = []
        control: list[tuple[str, bytes]] = []
        for stream, entries in cast(list[Any], raw or []):
            name = stream.decode() if isinstance(stream, bytes) else stream
            if name == control_key:
                control.extend((entry_id.decode(), fields[b"e"]) for entry_id, fields in entries)
            else:
                (events if name == events_key else comments).extend(_entries(entries))
        return Batch(events=events, comments=comments, control=control)

    async def missed(self, session_id: str, *, since: int, until: int) -> list[Entry] | None:
        """Durable events with ``since < seq <= until``; None when some were trimmed away."""
        if until <= since:
            return []
        with translated(into=BusUnavailable):
            raw = await self._redis.xrange(
                keys.events_stream(session_id), min=f"{since + 1}-0", max=f"{until}-0"
            )
        entries = _entries(cast(list[Any], raw))
        if len(entries) != until - since:
            return None
        return entries
