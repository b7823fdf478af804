"""A room: the viewers of one session on this node, and the reader that feeds them.

Contract: durable events reach every viewer of the room in ``seq`` order; immediate types are
offered as soon as they are read, coalesced types and comments wait for the room's next tick.
A frame for the whole room goes out a slice of sockets at a time (`FAN_OUT_SLICE`), the loop
serving everything else before the first slice of a broadcast and between slices; every socket
gets the room's frames in the order their fan-outs started.
Control messages (private frames, kicks) reach the sockets of their user on this node; those of
a kind the app registered (`realtime.hub.Hub.on_control`) go to its handler instead.
"""

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from common import codec
from common.cancellation import raise_if_cancelling
from common.errors import CloseCode
from common.fresh_reads import FreshRead
from realtime import protocol, wire
from realtime.bus import BusUnavailable, EventBus, Positions
from realtime.connection import Connection
from realtime.ratelimit import TokenBucket
from realtime.tick import RoomTick

log = logging.getLogger(__name__)

READ_BLOCK_MS = 1_000
READ_COUNT = 1_000
RETRY_S = 0.5
#: Sockets closed per batch when a whole room closes (`Room.close_all`).
CLOSE_BATCH = 100
#: The pause between two batches, shortened so that every batch is started within
#: `CLOSE_SPREAD_S` (a draining node must be done well within its `shutdown_drain_s`).
CLOSE_PAUSE_S = 0.02
CLOSE_SPREAD_S = 2.0
#: Sockets written in one go when a frame goes to the whole room; between two slices the loop
#: serves everything else (a host's request, a buy, a join). A write to a socket costs about
#: 10 us here, so a slice is about 10 ms; a pin to 10,000 viewers in one go held the loop
#: 110 ms, and the host's next request and every buy arriving meanwhile waited that long.
#: Smaller slices cost throughput: what arrives between two slices is batched less (Redis
#: round trips, group commits); in a 10,000-for-500 flash sale on the socket, slices of 500 took
#: p99 admission from 230 to 106-185 ms and cost a fifth of the throughput, slices of 1,000 took
#: it to 87-114 ms for a twentieth (docs/benchmarks.md, "Join storms" and "Flash-sale
#: admission over the room socket").
FAN_OUT_SLICE = 1_000
#: The share of the node's time a room's tick frames may take: a room whose last tick took
#: ``t`` seconds to write to its sockets sends its next one no sooner than ``t / TICK_SHARE``
#: after that one began, its coalesced frames (stock, purchases, comments) gathering meanwhile.
#: A room whose writes are quick ticks on every tick as before. Unpaced, a room of 10,000
#: spent 57-60% of the node's time writing its ticks while a flash sale sold, and the buyers
#: got the rest (py-spy, 2026-12-07; docs/benchmarks.md, "Flash-sale admission over the room
#: socket").
TICK_SHARE = 0.25
#: Roles whose sockets get the host channel: every comment, with author ids, and room stats.
HOST_ROLES = frozenset({"host", "admin"})
#: Acts on a control message of an app-registered kind, as ``(session_id, message)``; runs in
#: the room's reader, so it must not block.
ControlHandler = Callable[[str, dict[str, object]], None]
#: Told of a durable event of a kind it registered for, as ``(session_id, event)``, when the
#: room reads it from the bus; runs in the room's reader, so it must not block.
EventListener = Callable[[str, dict[str, Any]], None]


async def _close_in_batches(connections: tuple[Connection, ...], code: int, reason: str) -> None:
    batches = -(-len(connections) // CLOSE_BATCH)
    pause_s = min(CLOSE_PAUSE_S, CLOSE_SPREAD_S / max(1, batches))
    for n, connection in enumerate(connections, start=1):
        connection.close(code, reason)
        if n % CLOSE_BATCH == 0 and n < len(connections):
            await asyncio.sleep(pause_s)


def _batch(frames: list[dict[str, object]]) -> str | None:
    if not frames:
        return None
    return codec.encode_text(frames[0] if len(frames) == 1 else frames)


class Room:
    """Viewers of one session on this node."""

    def __init__(
        self,
        session_id: str,
        *,
        bus: EventBus,
        comments_per_tick: int,
        started_ms: int | None,
        control_handlers: Mapping[str, ControlHandler] | None = None,
        event_listeners: Mapping[str, list[EventListener]] | None = None,
    ) -> None:
        self.session_id = session_id
        self._control_handlers = control_handlers or {}
        self._event_listeners = event_listeners or {}
        self.connections: set[Connection] = set()
        #: Sockets per user id, so the per-viewer cap costs O(1) per join, not a room scan.
        self.sockets_of: Counter[str] = Counter()
        #: The connections with the host channel, kept as they enter and leave so a tick
        #: needs no pass over the room to find them.
        self.hosts: set[Connection] = set()
        self.tick = RoomTick(comments_per_tick=comments_per_tick)
        self.started_ms = started_ms
        self.seq = 0
        self.comment_number = 0
        self.viewers_total = 0
        #: The count last sent to the viewers, and when (`realtime.presence`).
        self.viewers_pushed = 0
        self.viewers_pushed_at = 0.0
        self.likes_total = 0
        self.control_id = "0-0"
        self.listening_since: float | None = None
        self.buckets: dict[str, TokenBucket] = {}
        #: Users kicked from the session: loaded when the room opens, then kept by the ``kick``
        #: control messages.
        self.kicked: set[str] = set()
        self.ended = False
        #: The snapshot text joins share, with the room state it was encoded for.
        self.snapshot_text: tuple[object, str] | None = None
        #: The session's positions as a joining viewer reads them: after it entered the room,
        #: one read for all who ask while one is in flight (`common.fresh_reads`).
        self.positions: FreshRead[Positions] = FreshRead(lambda: bus.positions(session_id))
        self._bus = bus
        self._reader: asyncio.Task[None] | None = None
        #: Held by one fan-out at a time, so that frames reach every socket in the same order.
        self._fanning = asyncio.Lock()
        #: When (`time.monotonic`) the room's next tick may go out (`TICK_SHARE`).
        self._tick_due = 0.0
        self._closing: set[asyncio.Task[None]] = set()

    def clock(self) -> tuple[int, int]:
        """``(ts, t_ms)`` for an event happening now."""
        ts = int(time.time() * 1000)
        return ts, (ts - self.started_ms if self.started_ms is not None else 0)

    async def open(self) -> None:
        """Start reading the session streams from their current ends."""
        positions = await self._bus.positions(self.session_id)
        self.seq, self.comment_number = positions.seq, positions.comment
        #: From then on (`time.monotonic`) every event of the session reaches this room.
        self.listening_since = time.monotonic()
        self.control_id = await self._bus.control_position(self.session_id)
        self._reader = asyncio.create_task(self._read_loop(), name=f"room-{self.session_id}")

    async def close(self) -> None:
        """Finish closing its sockets (`close_all`), then stop the reader."""
        await asyncio.gather(*self._closing, return_exceptions=True)
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)

    def enter(self, connection: Connection) -> None:
        """Count ``connection`` among the room's viewers."""
        self.connections.add(connection)
        self.sockets_of[connection.viewer.user_id] += 1
        if connection.viewer.role in HOST_ROLES:
            self.hosts.add(connection)

    def leave(self, connection: Connection) -> None:
        """Forget ``connection`` (harmless if it never entered)."""
        if connection in self.connections:
            self.connections.remove(connection)
            self.hosts.discard(connection)
            user_id = connection.viewer.user_id
            self.sockets_of[user_id] -= 1
            if self.sockets_of[user_id] <= 0:
                del self.sockets_of[user_id]

    async def broadcast(
        self, frame: str, *, seq: int | None = None, ephemeral: bool = False
    ) -> None:
        """Offer one encoded frame to every viewer of the room, a slice at a time."""
        encoded = wire.text_frame(frame)

        def offer(connection: Connection) -> None:
            connection.offer(frame, wire=encoded, seq=seq, ephemeral=ephemeral)

        # The loop's turn first: the request that published the frame has its answer from
        # the bus in the same turn as this room, and should not wait for a slice to send it.
        await asyncio.sleep(0)
        async with self._fanning:
            await self._in_slices(tuple(self.connections), offer)

    async def flush_tick(self) -> None:
        """Send this tick's coalesced frames: everything to hosts, the sample to viewers; or
        nothing yet, while the room's last tick is within its `TICK_SHARE` of the time."""
        began = time.monotonic()
        if began < self._tick_due:
            return
        drained = self.tick.drain()
        hosts = self.hosts
        # Each batch is encoded once, and the hosts' one only when a host is here to read it.
        host_frame = _batch(drained.hosts) if hosts else None
        viewer_frame = _batch(drained.viewers)
        if host_frame is None and viewer_frame is None:
            return
        async with self._fanning:
            if host_frame is not None:
                host_wire = wire.text_frame(host_frame)
                for connection in tuple(hosts):
                    connection.offer_tick(host_frame, host_wire)
            if viewer_frame is not None:
                viewer_wire = wire.text_frame(viewer_frame)

                def offer(connection: Connection) -> None:
                    if connection not in hosts:
                        connection.offer_tick(viewer_frame, viewer_wire)

                spent = await self._in_slices(tuple(self.connections), offer)
                self._tick_due = began + spent / TICK_SHARE

    async def _in_slices(
        self, targets: tuple[Connection, ...], offer: Callable[[Connection], None]
    ) -> float:
        """``offer`` to each of ``targets`` still in the room, `FAN_OUT_SLICE` between pauses;
        returns the seconds the offers took (the pauses, others' time, left out)."""
        started = time.perf_counter()
        for connection in targets[:FAN_OUT_SLICE]:
            offer(connection)  # nobody has left yet: no pause since `targets` was taken
        spent = time.perf_counter() - started
        connections = self.connections
        for start in range(FAN_OUT_SLICE, len(targets), FAN_OUT_SLICE):
            await asyncio.sleep(0)  # the loop's turn: everything else that is ready runs
            started = time.perf_counter()
            for connection in targets[start : start + FAN_OUT_SLICE]:
                if connection in connections:  # it may have left during the pause
                    offer(connection)
            spent += time.perf_counter() - started
        return spent

    def deliver_control(self, message: dict[str, object]) -> None:
        """Act on one control message for the sockets of this node."""
        kind = message.get("kind")
        if kind == "hosts":
            # A frame for the hosts' panels only (the guide leaderboard), never for viewers.
            frame = codec.encode_text(message["frame"])
            encoded = wire.text_frame(frame)
            for connection in tuple(self.hosts):
                connection.offer(frame, wire=encoded, ephemeral=True)
            return
        handler = self._control_handlers.get(kind) if isinstance(kind, str) else None
        if handler is not None:
            try:
                handler(self.session_id, message)
            except Exception:
                log.exception("control handler of %s failed", kind)
            return
        user_id = message.get("user_id")
        if kind == "kick" and isinstance(user_id, str):
            self.kicked.add(user_id)
        for connection in tuple(self.connections):
            if connection.viewer.user_id != user_id:
                continue
            if kind == "private":
                connection.offer(codec.encode_text(message["frame"]))
            elif kind == "kick":
                connection.close(CloseCode.KICKED, "removed by the host")

    async def _read_loop(self) -> None:
        while True:
            try:
                batch = await self._bus.read(
                    self.session_id,
                    after_seq=self.seq,
                    after_comment=self.comment_number,
                    after_control=self.control_id,
                    block_ms=READ_BLOCK_MS,
                    count=READ_COUNT,
                )
            except BusUnavailable as exc:
                log.warning("room %s: bus unavailable, retrying: %s", self.session_id, exc)
                await asyncio.sleep(RETRY_S)
                continue
            raise_if_cancelling()
            for entry in batch.events:
                self.seq = entry.number
                await self._dispatch(entry.number, entry.frame)
            for entry in batch.comments:
                self.comment_number = entry.number
                self.tick.add_comment(entry.frame)
            for control_id, raw in batch.control:
                self.control_id = control_id
                self.deliver_control(codec.decode(raw))

    async def _dispatch(self, seq: int, frame: bytes) -> None:
        kind = protocol.event_type(frame)
        listeners = self._event_listeners.get(kind)
        if listeners:
            self._tell(listeners, frame)
        if kind in protocol.ARCHIVE_ONLY_TYPES:
            return
        if kind in protocol.COALESCED_TYPES:
            self.tick.add_event(kind, frame)
            return
        await self.broadcast(frame.decode(), seq=seq)
        if kind == "started":
            self.started_ms = int(codec.decode(frame).get("ts", 0)) or self.started_ms
        elif kind == "ended":
            self.ended = True
            self.close_all(1000, "session ended")

    def _tell(self, listeners: list[EventListener], frame: bytes) -> None:
        event: dict[str, Any] = codec.decode(frame)
        for listener in listeners:
            try:
                listener(self.session_id, event)
            except Exception:
                log.exception("listener of %s events failed", event.get("type"))

    def close_all(self, code: int, reason: str) -> None:
        """Close every socket of the room (after its queued frames), a batch at a time.

        Each close wakes a few tasks of its socket (the close frame, the reader, leaving the
        room); ten thousand at once would put every request that arrives meanwhile behind all
        of them. In batches of `CLOSE_BATCH` a pause apart, each batch's work (its close
        frames, the peers' answers, the sockets leaving the room and their access lines) is done
        before the next starts, so the loop's queue stays short and the node answers throughout
        an exodus. (A batch per loop turn started every batch at once, and the work they
        caused came back in one heap: in a 5,000-viewer exodus the longest request waited
        1.0-1.8 s that way, 0.46-1.03 s paced; docs/benchmarks.md, "Join storms".)
        """
        closing = asyncio.create_task(_close_in_batches(tuple(self.connections), code, reason))
        self._closing.add(closing)
        closing.add_done_callback(self._closing.discard)
