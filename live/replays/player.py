"""Playing a replay on one socket: a state frame, then the archived events paced by their
``t_ms``, with seek, pause, resume and speed changes.

Contract: one task (`Player.run`) sends every state and event frame, so a seek can never let
an event of the old position follow the new state frame. The first frame, and the first frame
after every ``seek``, is a ``replay_state`` at that instant; then come the archived events with
``t_ms`` from that instant to the end of the window, in the order of the HTTP replay, each sent
when the playback clock (`replay.pacing.Pacer`) reaches it; events due together go out as one
array frame. When the clock reaches the window's end the player sends ``replay_end`` and waits
for a seek. Control answers (`command`) may interleave with events; sends never overlap.
Memory: the window is streamed segment by segment (`replay.window`), never loaded whole.
"""

import asyncio
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any

from common import codec
from common.errors import ClientError, Code
from live.replays.opening import Replay
from realtime import protocol, replay_protocol
from replay import window
from replay.pacing import Pacer
from replay.store import ArchiveStore

SendText = Callable[[str], Awaitable[None]]

#: Events due within this long of each other go out in one frame.
BATCH_S = 0.02
MAX_BATCH_EVENTS = 256
#: An event sent this late (a slow store or client) restarts the clock from it.
LATE_TOLERANCE_S = 1.0


class _Cursor:
    """The window's event stream with a look at the next event."""

    def __init__(self, events: AsyncGenerator[dict[str, Any], None]) -> None:
        self._events = events
        self._head: dict[str, Any] | None = None
        self._done = False

    async def peek(self) -> dict[str, Any] | None:
        if self._head is None and not self._done:
            self._head = await anext(self._events, None)
            self._done = self._head is None
        return self._head

    def pop(self) -> None:
        self._head = None

    async def aclose(self) -> None:
        await self._events.aclose()


class Player:
    """The playback of one replay socket."""

    def __init__(
        self,
        replay: Replay,
        store: ArchiveStore,
        send_text: SendText,
        *,
        speed: float,
        hide_user_ids: bool,
    ) -> None:
        self._replay = replay
        self._store = store
        self._send_text = send_text
        self._hide_user_ids = hide_user_ids
        self._loop = asyncio.get_running_loop()
        self._pacer = Pacer(
            anchor_t_ms=replay.from_ms, anchor_wall_s=self._loop.time(), speed=speed
        )
        self._seek: tuple[int, str | None] | None = (replay.from_ms, None)
        self._wake = asyncio.Event()
        self._sending = asyncio.Lock()
        self._ended = False

    async def send(self, frame: Any) -> None:
        """Send one frame (an object or an array of them)."""
        text = codec.encode_text(frame)
        async with self._sending:
            await self._send_text(text)

    def command(self, command: replay_protocol.Command) -> dict[str, Any] | None:
        """Apply a control message; the answer to send, or None (a seek answers with its state)."""
        now = self._loop.time()
        if isinstance(command, replay_protocol.Ping):
            return {"type": "pong", "ref": command.ref}
        if isinstance(command, replay_protocol.Seek):
            if not self._replay.from_ms <= command.t_ms <= self._replay.to_ms:
                raise ClientError(
                    Code.INVALID_REQUEST,
                    f"t_ms must be within {self._replay.from_ms}..{self._replay.to_ms}",
                )
            self._seek = (command.t_ms, command.ref)
        elif isinstance(command, replay_protocol.Pause):
            self._pacer.pause(now)
        elif isinstance(command, replay_protocol.Resume):
            self._pacer.resume(now)
        else:
            self._pacer.set_speed(command.speed, now)
        self._wake.set()
        if isinstance(command, replay_protocol.Seek):
            return None
        return protocol.ack_frame(command.ref, self._status(now))

    def _status(self, now: float) -> dict[str, Any]:
        position = min(max(self._pacer.position(now), self._replay.from_ms), self._replay.to_ms)
        return {"t_ms": int(position), "speed": self._pacer.speed, "paused": self._pacer.paused}

    async def run(self) -> None:
        """Play until cancelled; raises `ArchiveError` when the archive cannot be read."""
        cursor: _Cursor | None = None
        try:
            while True:
                if self._seek is not None:
                    if cursor is not None:
                        await cursor.aclose()
                    cursor = await self._start(*self._seek)
                elif cursor is not None:
                    await self._play(cursor)
        finally:
            if cursor is not None:
                await cursor.aclose()

    async def _start(self, t_ms: int, ref: str | None) -> _Cursor:
        self._seek = None
        self._ended = False
        script = await self._replay.index.state_at(self._store, t_ms)
        replay = self._replay
        state = {
            "type": "replay_state",
            "session_id": replay.session.id,
            "clip_id": replay.clip.id if replay.clip is not None else None,
            "from_ms": replay.from_ms,
            "to_ms": replay.to_ms,
            **script.view(replay.session, replay.products, t_ms=t_ms),
            "t_ms": t_ms,
            "speed": self._pacer.speed,
            "paused": self._pacer.paused,
        }
        if ref is not None:
            state["ref"] = ref
        await self.send(state)
        # The clock starts once the client has the state, however long folding it took.
        self._pacer.seek(t_ms, self._loop.time())
        events = window.stream_window(
            self._store, replay.manifest, from_ms=t_ms, to_ms=replay.to_ms
        )
        return _Cursor(events)

    async def _play(self, cursor: _Cursor) -> None:
        """Send what is due next, or wait for it (or for a control message)."""
        # Cleared before deciding: a control message arriving from here on wakes the wait.
        self._wake.clear()
        head = None if self._ended else await cursor.peek()
        if self._seek is not None:
            return
        due_t = window.t_ms(head) if head is not None else self._replay.to_ms
        due = None if self._ended else self._pacer.due_s(due_t)
        if due is None or due > self._loop.time():
            await self._wait(None if due is None else due - self._loop.time())
            return
        if head is None:
            self._ended = True
            await self.send({"type": "replay_end", "t_ms": self._replay.to_ms})
            return
        self._pacer.resync(due_t, self._loop.time(), tolerance_s=LATE_TOLERANCE_S)
        batch = await self._batch(cursor)
        if batch:
            await self.send(batch[0] if len(batch) == 1 else batch)

    async def _batch(self, cursor: _Cursor) -> list[dict[str, Any]]:
        """The events due now (up to `MAX_BATCH_EVENTS`) as one frame."""
        horizon = self._loop.time() + BATCH_S
        batch: list[dict[str, Any]] = []
        while len(batch) < MAX_BATCH_EVENTS:
            head = await cursor.peek()
            if head is None:
                break
            due = self._pacer.due_s(window.t_ms(head))
            if due is None or due > horizon:
                break
            cursor.pop()
            shown = self._shown(head)
            if shown is not None:
                batch.append(shown)
        return batch

    def _shown(self, event: dict[str, Any]) -> dict[str, Any] | None:
        kind = event.get("type")
        if kind in protocol.ARCHIVE_ONLY_TYPES:
            return None
        if kind != "comment":
            return event
        shown = dict(event)
        if self._hide_user_ids:
            # As in the live room: viewers see names, never other users' ids.
            shown.pop("user_id", None)
        if str(event.get("id")) in self._replay.index.deleted_comments:
            shown["deleted"] = True
        return shown

    async def _wait(self, timeout_s: float | None) -> None:
        try:
            async with asyncio.timeout(timeout_s):
                await self._wake.wait()
        except TimeoutError:
            return
