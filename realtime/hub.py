"""The hub: rooms of this node, the socket pump and the tick.

Contract: `serve` runs one viewer's socket until it closes: it registers the viewer, sends a
snapshot (or, with ``since``, the durable events missed), then pumps client commands to
their handlers. Every room's coalesced traffic goes out once per ``tick_ms``, encoded once;
the ticks wait, a bounded time, while the app says its orders are being written
(`yield_ticks_to`, `realtime.giving_way`).
The hub knows no commerce rules: the app supplies the snapshot and the command handlers
(`realtime.commands`); room totals come from `realtime.presence`.
"""

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from common import codec, loops
from common.errors import ClientError, CloseCode, Code
from realtime import keys, protocol, wire
from realtime.bus import BusUnavailable, EventBus
from realtime.commands import (
    BuyHandler,
    ClaimHandler,
    Commands,
    CommentFilter,
    CommentListener,
    QuestionHandler,
    WaitlistHandler,
)
from realtime.connection import Connection, FrameSink, Viewer
from realtime.giving_way import MAX_WAIT_S, GivingWay
from realtime.moderation import Moderation
from realtime.presence import Presence
from realtime.ratelimit import TokenBucket
from realtime.room import ControlHandler, EventListener, Room
from realtime.stats import HubStats
from realtime.tick import RoomTick

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What a viewer joining at a ``seq`` starts from: the part every viewer of the room shares
    (``shared``, the same for every join that gets the same ``version``) and the viewer's own
    fields (``own``: empty for most viewers; they override shared fields of the same name)."""

    shared: Mapping[str, Any]
    version: Hashable
    own: Mapping[str, Any] = field(default_factory=dict)


#: ``(session_id, viewer, seq)``: the state a viewer joining at ``seq`` starts from.
SnapshotProvider = Callable[[str, Viewer, int], Awaitable[Snapshot]]
#: Told, synchronously, when a socket enters (True) or leaves (False) a room of this node, as
#: ``(session_id, connection, entered, sockets)`` with ``sockets`` the user's sockets in the
#: room on this node after the change; it must not block (spawn any I/O).
PresenceListener = Callable[[str, Connection, bool, int], None]


class Socket(Protocol):
    """The transport under a room connection (the app adapts its WebSocket to this)."""

    async def receive_text(self) -> str | None:
        """The next text frame, or None once the peer is gone."""

    async def send_text(self, data: str) -> None:
        """Write one text frame."""

    async def close(self, code: int, reason: str) -> None:
        """Close the socket."""

    def frame_sink(self) -> FrameSink | None:
        """Direct writes of pre-built frames, when the server offers them (else None)."""


class Hub:
    """Rooms of one node."""

    def __init__(
        self,
        redis: Redis,
        *,
        node_id: str,
        tick_ms: int,
        comments_per_tick: int,
        max_frame_bytes: int,
        comment_max_chars: int,
        comment_rate_per_s: float,
        comment_burst: int,
        backlog_soft_frames: int,
        backlog_hard_frames: int,
        max_connections_per_viewer: int = 3,
        order_rate_per_s: float = 2.0,
        order_burst: int = 10,
    ) -> None:
        self.bus = EventBus(redis)
        self.moderation = Moderation(redis, self.bus)
        self.presence = Presence(redis, node_id=node_id)
        self.commands = Commands(
            redis,
            self.bus,
            self.moderation,
            comment_max_chars=comment_max_chars,
            order_rate_per_s=order_rate_per_s,
            order_burst=order_burst,
        )
        self._max_connections_per_viewer = max_connections_per_viewer
        self.rooms: dict[str, Room] = {}
        self._redis = redis
        self._tick_s = tick_ms / 1000
        self._comments_per_tick = comments_per_tick
        self._max_frame_bytes = max_frame_bytes
        self._comment_rate_per_s = comment_rate_per_s
        self._comment_burst = comment_burst
        self._soft = backlog_soft_frames
        self._hard = backlog_hard_frames
        self._room_locks: dict[str, asyncio.Lock] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = asyncio.Event()
        self._presence_listeners: list[PresenceListener] = []
        self._control_handlers: dict[str, ControlHandler] = {}
        self._event_listeners: dict[str, list[EventListener]] = {}
        self._giving_way = GivingWay()
        self.stats = HubStats()

    def on_claim(self, handler: ClaimHandler) -> None:
        """Register what answers a viewer's ``claim`` (coupon rules live in the app)."""
        self.commands.claim_handler = handler

    def on_buy(self, handler: BuyHandler) -> None:
        """Register what answers a viewer's ``buy`` (order rules live in the app)."""
        self.commands.buy_handler = handler

    def yield_ticks_to(self, busy: Callable[[], bool], *, max_s: float = MAX_WAIT_S) -> None:
        """Hold the rooms' ticks while ``busy()`` (the app's orders being written), for at
        most ``max_s`` at a time (`realtime.giving_way`)."""
        self._giving_way.to(busy, max_s=max_s)

    def on_waitlist(self, handler: WaitlistHandler) -> None:
        """Register what answers ``waitlist`` / ``leave_waitlist`` (the app's waitlist)."""
        self.commands.waitlist_handler = handler

    def filter_comments(self, comment_filter: CommentFilter) -> None:
        """Register the brand rules every comment passes before it is published."""
        self.commands.comment_filter = comment_filter

    def on_question(self, handler: QuestionHandler) -> None:
        """Register what routes viewers' questions (to their guide: a rule of the app)."""
        self.commands.question_handler = handler

    def on_presence(self, listener: PresenceListener) -> None:
        """Register a listener told about every socket entering or leaving a room here."""
        self._presence_listeners.append(listener)

    def on_control(self, kind: str, handler: ControlHandler) -> None:
        """Register what acts on control messages of ``kind`` (the app's own kinds) on every
        node with sockets in the session."""
        self._control_handlers[kind] = handler

    def on_event(self, kind: str, listener: EventListener) -> None:
        """Register a listener told about every durable event of ``kind`` (``stock``, ...) that
        a room of this node reads from the bus (sessions with sockets here only)."""
        self._event_listeners.setdefault(kind, []).append(listener)

    def on_comment(self, listener: CommentListener) -> None:
        """Register a listener told about every published comment."""
        self.commands.comment_listeners.append(listener)

    async def start(self) -> None:
        """Start the tick and presence loops."""
        self._stopping.clear()
        tick = loops.forever(
            self._tick,
            every_s=self._tick_s,
            doing="room tick",
            log=log,
            stopping=self._stopping,
            on_schedule=True,
            late=self.stats.tick_lag_s.observe,
        )
        presence = self.presence.run(
            self.rooms.values, every_s=self._tick_s, stopping=self._stopping
        )
        self._tasks = [
            asyncio.create_task(tick, name="hub-tick"),
            asyncio.create_task(presence, name="hub-presence"),
        ]

    def listening_since(self, session_id: str) -> float | None:
        """Since when (`time.monotonic`) every event of the session reaches this node's room of
        it (its listeners, `on_event`); None without such a room."""
        room = self.rooms.get(session_id)
        return room.listening_since if room is not None else None

    @property
    def sockets(self) -> int:
        """Room sockets open on this node."""
        return sum(len(room.connections) for room in self.rooms.values())

    def close_all(self, reason: str) -> None:
        """Close every socket with `CloseCode.SHUTTING_DOWN` (reconnect) after its queued frames,
        room by room in batches (`Room.close_all`)."""
        for room in self.rooms.values():
            room.close_all(CloseCode.SHUTTING_DOWN, reason)

    async def stop(self) -> None:
        """Close every socket with `CloseCode.SHUTTING_DOWN` and stop all loops."""
        self.close_all("server shutting down")
        # Neither loop holds anything worth finishing: a tick or a refresh is redone anyway.
        self._stopping.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for room in list(self.rooms.values()):
            await room.close()

    async def _room(self, session_id: str) -> Room:
        lock = self._room_locks.setdefault(session_id, asyncio.Lock())
        async with lock:
            room = self.rooms.get(session_id)
            if room is None:
                started = await self._redis.get(keys.clock(session_id))
                room = Room(
                    session_id,
                    bus=self.bus,
                    comments_per_tick=self._comments_per_tick,
                    started_ms=int(started) if started else None,
                    control_handlers=self._control_handlers,
                    event_listeners=self._event_listeners,
                )
                await room.open()
                # After the room's control position (`Room.open`): a kick from then on arrives
                # as a control message, one before it is in the set.
                room.kicked = await self.moderation.kicked(session_id)
                self.rooms[session_id] = room
            return room

    def _tell_presence(self, room: Room, connection: Connection, *, entered: bool) -> None:
        sockets = room.sockets_of.get(connection.viewer.user_id, 0)
        for listener in self._presence_listeners:
            try:
                listener(room.session_id, connection, entered, sockets)
            except Exception:
                log.exception("presence listener failed")

    async def _leave(self, room: Room, connection: Connection) -> None:
        if connection in room.connections:
            room.leave(connection)
            self._tell_presence(room, connection, entered=False)
        await connection.stop()
        lock = self._room_locks.setdefault(room.session_id, asyncio.Lock())
        async with lock:
            if not room.connections and self.rooms.get(room.session_id) is room:
                del self.rooms[room.session_id]
                await room.close()
                await self.presence.leave(room.session_id)

    async def serve(
        self,
        session_id: str,
        viewer: Viewer,
        socket: Socket,
        *,
        since: int | None,
        snapshot: SnapshotProvider,
        epoch: str | None = None,
        joined: Callable[[], None] | None = None,
    ) -> None:
        """Run one viewer's socket until it closes.

        ``since`` with the ``epoch`` it belongs to asks for a catch-up; a different epoch (the
        counters restarted) gets a snapshot. ``joined`` (None: nobody) is called once the
        viewer's first frames are queued, or once the join failed: the end of its admission.
        """
        done = False

        def admitted() -> None:
            nonlocal done
            if not done and joined is not None:
                done = True
                joined()

        try:
            await self._serve(session_id, viewer, socket, since, snapshot, epoch, admitted)
        finally:
            admitted()

    async def _serve(
        self,
        session_id: str,
        viewer: Viewer,
        socket: Socket,
        since: int | None,
        snapshot: SnapshotProvider,
        epoch: str | None,
        joined: Callable[[], None],
    ) -> None:
        connection = Connection(
            viewer,
            send_text=socket.send_text,
            close=socket.close,
            soft_limit=self._soft,
            hard_limit=self._hard,
            stats=self.stats,
            sink=socket.frame_sink(),
        )
        try:
            room = await self._room(session_id)
        except (RedisError, BusUnavailable):
            await socket.close(CloseCode.SHUTTING_DOWN, "temporarily unavailable")
            return
        refusal = self._refusal(room, viewer, kicked=viewer.user_id in room.kicked)
        if refusal is not None:
            code, close_code, message = refusal
            await socket.send_text(codec.encode_text(protocol.error_frame(code, message)))
            await socket.close(close_code, code.value)
            return
        room.enter(connection)
        self._tell_presence(room, connection, entered=True)
        try:
            await self._run(
                room, connection, socket, since=since, epoch=epoch, snapshot=snapshot, joined=joined
            )
        except (RedisError, BusUnavailable) as exc:
            log.warning("viewer %s dropped: redis unavailable: %s", viewer.user_id, exc)
            _fail(connection, Code.UNAVAILABLE, "temporarily unavailable", CloseCode.SHUTTING_DOWN)
        except ClientError as exc:
            # The snapshot could not be built (the record is unavailable): say so, then close.
            _fail(connection, exc.code, exc.message, CloseCode.SHUTTING_DOWN)
        except Exception:
            # A bug must cost one socket a clear close, not a silent drop.
            log.exception("room socket of %s failed", viewer.user_id)
            _fail(connection, Code.INTERNAL, "internal", 1011)
        finally:
            await self._leave(room, connection)

    async def _run(
        self,
        room: Room,
        connection: Connection,
        socket: Socket,
        *,
        since: int | None,
        epoch: str | None,
        snapshot: SnapshotProvider,
        joined: Callable[[], None],
    ) -> None:
        """Send a viewer who entered ``room`` what it starts from, then pump its commands."""
        first, seq = await self._first_frames(
            room, connection.viewer, since=since, epoch=epoch, snapshot=snapshot
        )
        connection.release(first, after_seq=seq)
        joined()
        # The snapshot is the largest thing a join builds; nothing here needs it again
        # for the socket's life (the queue holds it until it is written).
        del first
        if room.ended:
            # Joined as the session ended (the app's check of the record is a second old
            # at most): the snapshot says so; the socket closes as the others did.
            connection.close(1000, "session ended")
        await connection.read_until_closed(functools.partial(self._pump, room, connection, socket))

    async def _first_frames(
        self,
        room: Room,
        viewer: Viewer,
        *,
        since: int | None,
        epoch: str | None,
        snapshot: SnapshotProvider,
    ) -> tuple[list[str], int]:
        """What a joining viewer gets first (the events it missed, or a snapshot), and the
        ``seq`` that covers."""
        positions = await room.positions.get()
        seq = positions.seq
        if epoch is None or epoch == positions.epoch:
            missed = await self._catch_up(room.session_id, since=since, seq=seq)
            if missed is not None:
                return missed, seq
        state = await snapshot(room.session_id, viewer, seq)
        if state.own:
            frame = self._snapshot_frame(room, seq, positions.epoch, state)
            return [codec.encode_text({**frame, **state.own})], seq
        # Encoded once per room state: every join of a storm at the same seq, between two
        # ticks, gets the same text (the viewer and like counts change once a tick).
        key = (seq, positions.epoch, state.version, room.viewers_total, room.likes_total)
        cached = room.snapshot_text
        if cached is None or cached[0] != key:
            text = codec.encode_text(self._snapshot_frame(room, seq, positions.epoch, state))
            cached = room.snapshot_text = (key, text)
        return [cached[1]], seq

    @staticmethod
    def _snapshot_frame(room: Room, seq: int, epoch: str, state: Snapshot) -> dict[str, Any]:
        return {
            "type": "snapshot",
            "seq": seq,
            "epoch": epoch,
            **state.shared,
            "viewers": room.viewers_total,
            "likes": room.likes_total,
        }

    def _refusal(
        self, room: Room, viewer: Viewer, *, kicked: bool
    ) -> tuple[Code, CloseCode, str] | None:
        if kicked:
            return Code.KICKED, CloseCode.KICKED, "you were removed from this session"
        if room.sockets_of[viewer.user_id] >= self._max_connections_per_viewer:
            return (
                Code.TOO_MANY_CONNECTIONS,
                CloseCode.TOO_MANY_CONNECTIONS,
                f"at most {self._max_connections_per_viewer} sockets per viewer",
            )
        return None

    async def _catch_up(self, session_id: str, *, since: int | None, seq: int) -> list[str] | None:
        """What a viewer back from ``since`` missed, or None when a snapshot serves it better.

        Immediate events are replayed one by one with their ``seq``; coalesced ones (stock,
        sell-outs, coupon counts, purchases) are folded into one tick frame, as a live viewer
        got them.
        """
        if since is None or since < 0 or since > seq:
            return None
        missed = await self.bus.missed(session_id, since=since, until=seq)
        if missed is None:
            return None
        folded = RoomTick(comments_per_tick=0)
        frames: list[str] = []
        for entry in missed:
            kind = protocol.event_type(entry.frame)
            if kind in protocol.ARCHIVE_ONLY_TYPES:
                continue
            if kind in protocol.COALESCED_TYPES:
                folded.add_event(kind, entry.frame)
            else:
                frames.append(entry.frame.decode())
        if len(frames) > self._soft:
            # Too far behind to replay within the backlog policy: start afresh.
            return None
        tick = folded.drain().viewers
        if tick:
            frames.append(codec.encode_text(tick[0] if len(tick) == 1 else tick))
        return frames

    async def _pump(self, room: Room, connection: Connection, socket: Socket) -> None:
        bucket = room.buckets.get(connection.viewer.user_id)
        if bucket is None:
            # One bucket per user on this node, shared by their sockets.
            bucket = TokenBucket(rate_per_s=self._comment_rate_per_s, burst=self._comment_burst)
            room.buckets[connection.viewer.user_id] = bucket
        while not connection.closed:
            text = await socket.receive_text()
            if text is None:
                return
            ref: str | None = None
            try:
                command = protocol.parse(text, max_frame_bytes=self._max_frame_bytes)
                ref = command.ref
                connection.answering = True
                try:
                    answer = await self.commands.answer(room, connection.viewer, command, bucket)
                finally:
                    connection.answering = False
            except protocol.ProtocolError as exc:
                answer = protocol.error_frame(exc.code, exc.message, exc.ref)
            except ClientError as exc:
                answer = protocol.error_frame(exc.code, exc.message, ref)
            text = codec.encode_text(answer)
            # Straight to the transport when it takes writes (as room frames go): through
            # ASGI's send, an answer cost a task wake-up and the middleware's send wrappers.
            connection.offer(text, wire=wire.text_frame(text))

    async def _tick(self) -> None:
        if self._giving_way.holds(time.monotonic()):
            self.stats.ticks_held += 1
            return
        # Side by side: one room's fan-out to thousands does not hold back another room's.
        await asyncio.gather(*(room.flush_tick() for room in tuple(self.rooms.values())))


def _fail(connection: Connection, code: Code, message: str, close_code: int) -> None:
    """End a viewer's socket that failed before or while it ran: an ``error`` frame, a close."""
    connection.release([], after_seq=0)
    connection.offer(codec.encode_text(protocol.error_frame(code, message)))
    connection.close(close_code, message if close_code != 1011 else "internal error")
