"""A lean WebSocket load generator for the room socket: thousands of viewers connected with a
bare handshake, pre-built buy frames, and answers found by their ``ref``.

The ``websockets`` client spends tens of microseconds per frame, and the room sends every
viewer its tick frames: with 10,000 viewers on a 2-core machine the load generator would be
measuring itself. Here a socket is a bare asyncio protocol: it writes pre-encoded client frames
(masked with a zero key, which RFC 6455 allows and which leaves the payload as it is), walks
the server's frames by their headers only, answers pings, and looks into a text frame only when
it carries ``"ref":"`` while an answer is awaited (room frames never do; a comment's quotes are
escaped). Loopback only.
"""

import asyncio
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import cast

#: Answer of an attempt: 201 an order (``ack``), 409 refused ``sold_out`` / ``limit_exceeded``,
#: anything else its error code.
ORDER, REFUSED = 201, 409
_REFUSALS = (b'"code":"sold_out"', b'"code":"limit_exceeded"')


@dataclass
class Attack:
    """What a run saw, as `loadtests.http_attack.Attack` does, plus the codes of other errors."""

    elapsed_s: float = 0.0
    latencies_s: list[float] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    answered_at: list[float] = field(default_factory=list)
    started_at: float = 0.0
    errors: list[str] = field(default_factory=list)


def client_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    """A final client frame of ``opcode``, masked with the zero key."""
    length = len(payload)
    if length < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
    elif length < 65_536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
    return head + b"\x00\x00\x00\x00" + payload


def upgrade_request(path: str, host: str) -> bytes:
    """The HTTP upgrade of a room socket (the key is fixed: nobody checks the accept here)."""
    return (
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


class RoomSocket(asyncio.Protocol):
    """One viewer's room socket; `joined` resolves with its first frame (the snapshot)."""

    def __init__(self, upgrade: bytes) -> None:
        self._upgrade = upgrade
        self._buffer = bytearray()
        self._open = False
        self._transport: asyncio.Transport | None = None
        loop = asyncio.get_running_loop()
        self.joined: asyncio.Future[bytes] = loop.create_future()
        self._waiting: dict[bytes, asyncio.Future[bytes]] = {}
        self.frames = 0
        #: ``time.perf_counter()`` when the last awaited answer arrived.
        self.answered_at = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement `asyncio.Transport` without subclassing it.
        self._transport = cast(asyncio.Transport, transport)
        self._transport.write(self._upgrade)

    def connection_lost(self, exc: BaseException | None) -> None:
        lost = exc or ConnectionError("the server closed the socket")
        if not self.joined.done():
            self.joined.set_exception(lost)
        for waiter in self._waiting.values():
            if not waiter.done():
                waiter.set_exception(lost)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if not self._open:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(self._buffer[:12])
            del self._buffer[: end + 4]
            if not status.startswith(b"HTTP/1.1 101"):
                self.joined.set_exception(ConnectionError(f"upgrade refused: {status!r}"))
                return
            self._open = True
        self._frames()

    def _frames(self) -> None:
        buffer = self._buffer
        while len(buffer) >= 2:
            opcode, length, start = buffer[0] & 0x0F, buffer[1] & 0x7F, 2
            if length == 126:
                if len(buffer) < 4:
                    return
                length, start = struct.unpack_from("!H", buffer, 2)[0], 4
            elif length == 127:
                if len(buffer) < 10:
                    return
                length, start = struct.unpack_from("!Q", buffer, 2)[0], 10
            if len(buffer) < start + length:
                return
            payload = bytes(buffer[start : start + length])
            del buffer[: start + length]
            self._frame(opcode, payload)

    def _frame(self, opcode: int, payload: bytes) -> None:
        self.frames += 1
        if opcode == 0x9 and self._transport is not None:
            self._transport.write(client_frame(payload, 0xA))  # pong: live serve pings at 20 s
            return
        if opcode != 0x1:
            return
        if not self.joined.done():
            self.joined.set_result(payload)
            return
        if not self._waiting or b'"ref":"' not in payload:
            return
        start = payload.index(b'"ref":"') + 7
        waiter = self._waiting.pop(payload[start : payload.index(b'"', start)], None)
        if waiter is not None and not waiter.done():
            self.answered_at = time.perf_counter()
            waiter.set_result(payload)

    def ask(self, ref: bytes, frame: bytes) -> "asyncio.Future[bytes]":
        """Send ``frame`` (a message carrying ``ref``); the future of its answer."""
        assert self._transport is not None
        waiter: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._waiting[ref] = waiter
        self._transport.write(frame)
        return waiter

    def close(self) -> None:
        """Drop the connection (no closing handshake: the benchmark is over)."""
        if self._transport is not None:
            self._transport.close()


async def connect_all(
    port: int, paths: Sequence[str], *, at_once: int, progress: Callable[[int], None] | None = None
) -> list[RoomSocket]:
    """Open one room socket per path, ``at_once`` joins in flight, each past its first frame."""
    loop = asyncio.get_running_loop()
    host = f"127.0.0.1:{port}"
    sockets: list[RoomSocket | None] = [None] * len(paths)
    gate = asyncio.Semaphore(at_once)

    async def join(n: int) -> None:
        async with gate:
            upgrade = upgrade_request(paths[n], host)
            _, socket = await loop.create_connection(lambda: RoomSocket(upgrade), "127.0.0.1", port)
            first = await socket.joined
            if b'"type":"snapshot"' not in first[:40]:
                raise ConnectionError(f"joining got {first[:200]!r}")
            sockets[n] = socket
            if progress is not None:
                progress(n)

    await asyncio.gather(*(join(n) for n in range(len(paths))))
    return [socket for socket in sockets if socket is not None]


def _status(answer: bytes, errors: list[str]) -> int:
    if answer.startswith(b'{"type":"ack"'):
        return ORDER
    if any(refusal in answer for refusal in _REFUSALS):
        return REFUSED
    errors.append(answer.decode(errors="replace")[:200])
    return 0


async def closed_loop(
    sockets: Sequence[RoomSocket], frames: Sequence[bytes], refs: Sequence[bytes], concurrency: int
) -> Attack:
    """Attempt ``n`` on socket ``n``, ``concurrency`` in flight, each answered before the next
    one of its lane goes out (as `loadtests.http_attack.attack` does with connections)."""
    result = Attack()
    queue = iter(range(len(frames)))

    async def lane() -> None:
        for n in queue:
            sent = time.perf_counter()
            answer = await sockets[n].ask(refs[n], frames[n])
            now = time.perf_counter()
            result.latencies_s.append(now - sent)
            result.statuses.append(_status(answer, result.errors))
            result.answered_at.append(now)

    result.started_at = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(concurrency)))
    result.elapsed_s = time.perf_counter() - result.started_at
    return result


async def burst(
    sockets: Sequence[RoomSocket], frames: Sequence[bytes], refs: Sequence[bytes], spread_s: float
) -> Attack:
    """Every socket taps once, the taps spread evenly over ``spread_s`` (open loop: nobody
    waits for an answer before tapping); latencies run from each tap to its answer."""
    result = Attack()
    pending: list[asyncio.Future[bytes]] = []
    sent_at: list[float] = []
    step = spread_s / max(1, len(frames))
    result.started_at = start = time.perf_counter()
    for n, frame in enumerate(frames):
        due = start + n * step
        ahead = due - time.perf_counter()
        if ahead > 0.001:
            await asyncio.sleep(ahead)
        sent_at.append(time.perf_counter())
        pending.append(sockets[n].ask(refs[n], frame))
    for n, waiter in enumerate(pending):
        answer = await waiter
        answered = sockets[n].answered_at
        result.statuses.append(_status(answer, result.errors))
        result.latencies_s.append(answered - sent_at[n])
        result.answered_at.append(answered)
    result.elapsed_s = max(result.answered_at, default=start) - start
    return result
