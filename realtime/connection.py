"""One viewer's socket with a bounded outgoing backlog and a named slow-consumer policy.

Contract: `offer` never blocks and never awaits, so fan-out to a room is a plain loop that one
slow viewer cannot stall. Frames leave in the order offered. Above ``soft_limit`` queued frames,
ephemeral frames offered to this viewer are skipped; above ``hard_limit`` the viewer is closed
with `CloseCode.SLOW`.

Two ways out: a frame offered with its ``wire`` bytes (built once per broadcast, see
`realtime.wire`) goes straight to the socket's `FrameSink` while the transport takes writes
without waiting and nothing is queued ahead of it; everything else waits in the queue for the
connection's writer task, which does the awaiting. Waking a task per frame per viewer costs
about three times the write itself (docs/benchmarks.md), so the queue is the slow path only.
"""

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from common.errors import CloseCode
from realtime.stats import HubStats
from realtime.wire import text_frame

log = logging.getLogger(__name__)

CLOSE_TIMEOUT_S = 1.0

SendText = Callable[[str], Awaitable[None]]
Close = Callable[[int, str], Awaitable[None]]


class FrameSink(Protocol):
    """Direct access to a socket's transport for frames already encoded for the wire."""

    def write(self, wire: bytes) -> bool:
        """Write ``wire`` now and return True, or return False without writing when the
        transport is paused (the peer reads slower than we write) or the socket is closing."""


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is on the other end of a socket (from a verified token)."""

    user_id: str
    brand: str
    role: str
    name: str | None = None


class Connection:
    """A socket's outgoing side: direct writes, else a queue drained by a writer task that
    exists only while something is queued or a close is going out.

    An idle viewer therefore costs no task and no queue: thousands of them sit in a room, and
    each task is a coroutine frame plus its bookkeeping (docs/benchmarks.md, "Room load").
    """

    __slots__ = (
        "_close",
        "_closing",
        "_covered_seq",
        "_hard_limit",
        "_held",
        "_queue",
        "_reader",
        "_reader_stopped",
        "_send_text",
        "_sending",
        "_sink",
        "_soft_limit",
        "_stats",
        "_writer",
        "answering",
        "skipped",
        "viewer",
    )

    def __init__(
        self,
        viewer: Viewer,
        *,
        send_text: SendText,
        close: Close,
        soft_limit: int,
        hard_limit: int,
        stats: HubStats | None = None,
        sink: FrameSink | None = None,
    ) -> None:
        self.viewer = viewer
        self._sink = sink
        self._stats = stats or HubStats()
        self._send_text = send_text
        self._close = close
        self._soft_limit = soft_limit
        self._hard_limit = hard_limit
        # Made when a frame must wait and dropped once drained: an empty deque is ~600 bytes.
        self._queue: deque[str] | None = None
        self._held: list[tuple[str, bytes | None, int | None, bool]] | None = []
        # True while the writer awaits a send: a frame written past it would overtake it.
        self._sending = False
        self._closing: tuple[int, str] | None = None
        self._covered_seq = 0
        self._writer: asyncio.Task[None] | None = None
        self._reader: asyncio.Task[Any] | None = None
        self._reader_stopped = False
        #: True while the reader answers a client command: a close then lets it finish (a
        #: buy cut between its reserve and its record would hold stock nobody bought).
        self.answering = False
        self.skipped = 0

    @property
    def backlog(self) -> int:
        """Frames waiting to be written."""
        return len(self._queue) if self._queue is not None else 0

    @property
    def closed(self) -> bool:
        """True once a close was decided (it may still be flushing)."""
        return self._closing is not None

    async def read_until_closed(self, read: Callable[[], Awaitable[None]]) -> None:
        """Run ``read`` (the socket's reading loop) in the calling task until it returns, or
        until this connection's close went out or gave up, or its writer lost the peer.

        A socket the server closed (slow, kicked, ended) may never answer the close handshake,
        and its reader would wait for the ping timeout. Stopping the reader by cancelling it
        here, rather than racing it against a second task, keeps one task per socket."""
        reader = asyncio.current_task()
        if reader is None or self._writer_done():
            return
        self._reader = reader
        try:
            await read()
        except asyncio.CancelledError:
            # Our own stop is swallowed; anyone else's (server shutdown) goes on.
            if not self._reader_stopped or reader.uncancel() > 0:
                raise
        finally:
            self._reader = None

    def _writer_done(self) -> bool:
        """True once the close went out (or gave up) or the writer lost the peer."""
        return self._closing is not None and self._writer is None

    def _stop_reader(self) -> None:
        if self.answering:
            # The reader sees the close once its answer is out, and returns by itself.
            return
        if self._reader is not None and not self._reader_stopped:
            self._reader_stopped = True
            self._reader.cancel()

    def offer(
        self,
        frame: str,
        *,
        wire: bytes | None = None,
        seq: int | None = None,
        ephemeral: bool = False,
    ) -> None:
        """Send or queue a frame for this viewer, applying the slow-consumer policy.

        ``wire`` is ``frame`` already encoded as a WebSocket frame (`realtime.wire`)."""
        if self._closing is not None:
            return
        if seq is not None and seq <= self._covered_seq:
            # Already in the snapshot or catch-up this viewer got (the room reader was behind).
            return
        if self._held is not None:
            # Joining: room traffic waits until the snapshot went out first.
            self._held.append((frame, wire, seq, ephemeral))
            return
        self._enqueue(frame, wire, ephemeral=ephemeral)

    def offer_tick(self, frame: str, wire: bytes) -> None:
        """`offer` of an ephemeral room frame with its wire bytes: the tick's per-viewer call,
        with the direct write checked first (the common case) and no keyword arguments."""
        if (
            self._closing is None
            and self._held is None
            and self._queue is None
            and not self._sending
            and self._sink is not None
            and self._sink.write(wire)
        ):
            self._stats.frames_sent += 1
            return
        self.offer(frame, wire=wire, ephemeral=True)

    def _enqueue(self, frame: str, wire: bytes | None, *, ephemeral: bool) -> None:
        queue = self._queue
        if (
            wire is not None
            and self._sink is not None
            and queue is None
            and not self._sending
            and self._sink.write(wire)
        ):
            self._stats.frames_sent += 1
            return
        if queue is None:
            queue = self._queue = deque()
        if len(queue) >= self._hard_limit:
            log.info("closing slow viewer %s: %d frames queued", self.viewer.user_id, self.backlog)
            self._stats.slow_closes += 1
            self.close(CloseCode.SLOW, "slow consumer", flush=False)
            return
        if ephemeral and len(queue) >= self._soft_limit:
            self.skipped += 1
            self._stats.frames_skipped += 1
            return
        queue.append(frame)
        self._start_writer()

    def _start_writer(self) -> None:
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_loop())

    def release(self, first: list[str], *, after_seq: int) -> None:
        """End joining: send ``first`` (snapshot or missed events), then held frames newer than
        ``after_seq`` (older durable ones are already covered by ``first``)."""
        held, self._held = self._held or [], None
        self._covered_seq = after_seq
        for frame in first:
            # Written straight to the transport when it takes it, like room frames: a join
            # storm's snapshots then need no writer task and no trip through the ASGI stack.
            wire = text_frame(frame) if self._sink is not None else None
            self._enqueue(frame, wire, ephemeral=False)
        for frame, wire, seq, ephemeral in held:
            if seq is None or seq > after_seq:
                self._enqueue(frame, wire, ephemeral=ephemeral)

    def close(self, code: int, reason: str, *, flush: bool = True) -> None:
        """Close the socket after writing what is queued (or at once with ``flush=False``)."""
        if self._closing is not None:
            return
        self._closing = (code, reason)
        if not flush:
            self._queue = None
            if self._writer is not None:
                # The writer may sit in a send that a stalled peer never lets finish.
                self._writer.cancel()
                self._writer = None
        self._start_writer()

    async def _send_close(self) -> None:
        if self._closing is None:
            return
        # A stalled peer never lets the close frame out; give up after a while so the
        # connection leaves its room (dropping the transport is the server's job then).
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                await self._close(*self._closing)

    async def _write_loop(self) -> None:
        """Drain the queue, then send the close if one was decided; end when there is nothing
        left to do (the next frame that must wait starts a new writer)."""
        me = asyncio.current_task()
        try:
            while queue := self._queue:
                self._sending = True
                try:
                    await self._send_text(queue.popleft())
                finally:
                    self._sending = False
                self._stats.frames_sent += 1
                self._stats.frames_queued += 1
            self._queue = None
            if self._closing is not None:
                await self._send_close()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # The reading side sees the disconnect and unregisters this connection.
            log.debug("writer of %s stopped: %r", self.viewer.user_id, exc)
            self._closing = self._closing or (1006, "gone")
            self._queue = None
        if self._writer is me:
            self._writer = None
            if self._closing is not None:
                self._stop_reader()

    async def stop(self, *, flush_timeout_s: float = 1.0) -> None:
        """Stop the writer task; a decided close first gets ``flush_timeout_s`` to go out."""
        writer = self._writer
        if writer is None:
            return
        if self._closing is not None and not writer.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(writer), flush_timeout_s)
        writer = self._writer
        if writer is not None and not writer.done():
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        self._writer = None
