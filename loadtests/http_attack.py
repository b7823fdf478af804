"""A lean HTTP/1.1 load generator: pre-built requests over keep-alive loopback connections.

aiohttp's client spends about as much CPU per request as the servers under test, so on a
2-core machine it measured itself as much as them. Here each connection is a bare asyncio
protocol that writes pre-encoded request bytes and parses only the status line and
``Content-Length`` of the answer, so the servers get the CPU.
"""

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import cast


@dataclass
class Attack:
    """What a run saw: the latency and status of every request, in completion order."""

    elapsed_s: float = 0.0
    latencies_s: list[float] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    #: ``time.perf_counter()`` at each answer, to find when the last unit sold.
    answered_at: list[float] = field(default_factory=list)
    started_at: float = 0.0
    #: Taps sent again after their connection was refused or reset (burst only).
    retries: int = 0


def post(path: str, host: str, headers: dict[str, str], body: bytes) -> bytes:
    """The bytes of one keep-alive ``POST``."""
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", "Content-Type: application/json"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class KeepAlive(asyncio.Protocol):
    """One keep-alive connection; `exchange` sends a request and waits for its answer."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._answer: asyncio.Future[int] | None = None
        self._transport: asyncio.Transport | None = None
        self.lost: BaseException | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement `asyncio.Transport` without subclassing it.
        self._transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: BaseException | None) -> None:
        self.lost = exc or ConnectionError("the server closed the connection")
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(self.lost)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self._buffer[:end]).split(b"\r\n")
        length = 0
        for line in head[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if len(self._buffer) < end + 4 + length:
            return
        del self._buffer[: end + 4 + length]
        if self._answer is not None and not self._answer.done():
            self._answer.set_result(int(head[0].split()[1]))

    async def exchange(self, request: bytes) -> int:
        """Send ``request``; the status of its answer."""
        if self.lost is not None:
            raise self.lost
        assert self._transport is not None
        self._answer = asyncio.get_running_loop().create_future()
        self._transport.write(request)
        return await self._answer

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


async def attack(port: int, requests: Sequence[bytes], concurrency: int) -> Attack:
    """Send every request once, ``concurrency`` connections at a time, each answered before
    that connection sends its next one."""
    loop = asyncio.get_running_loop()
    connections = [
        (await loop.create_connection(KeepAlive, "127.0.0.1", port))[1] for _ in range(concurrency)
    ]
    result = Attack()
    queue = iter(requests)

    async def drive(connection: KeepAlive) -> None:
        for request in queue:
            sent = time.perf_counter()
            status = await connection.exchange(request)
            now = time.perf_counter()
            result.latencies_s.append(now - sent)
            result.statuses.append(status)
            result.answered_at.append(now)

    result.started_at = time.perf_counter()
    try:
        await asyncio.gather(*(drive(connection) for connection in connections))
    finally:
        for connection in connections:
            connection.close()
    result.elapsed_s = time.perf_counter() - result.started_at
    return result


#: Connections a burst's tap tries before the run fails, and the pause between two.
TAP_ATTEMPTS = 50
TAP_RETRY_S = 0.1


async def burst(port: int, requests: Sequence[bytes], spread_s: float) -> Attack:
    """Every request once, each on a connection of its own opened at its turn, the turns spread
    evenly over ``spread_s`` (open loop: a tap does not wait for the others); a connection
    refused or reset is tried again (counted in ``retries``); latencies run from the first
    try to the answer."""
    loop = asyncio.get_running_loop()
    result = Attack()
    step = spread_s / max(1, len(requests))

    async def tap(request: bytes) -> None:
        sent = time.perf_counter()
        for _ in range(TAP_ATTEMPTS):
            try:
                _, connection = await loop.create_connection(KeepAlive, "127.0.0.1", port)
                try:
                    status = await connection.exchange(request)
                finally:
                    connection.close()
                break
            except ConnectionError:
                # The server's accept queue overflowed: a client sends the same request (the
                # same key) again after a moment, as a phone would.
                result.retries += 1
                await asyncio.sleep(TAP_RETRY_S)
        else:
            raise ConnectionError(f"a tap failed {TAP_ATTEMPTS} times")
        now = time.perf_counter()
        result.latencies_s.append(now - sent)
        result.statuses.append(status)
        result.answered_at.append(now)

    result.started_at = start = time.perf_counter()
    taps = []
    for n, request in enumerate(requests):
        ahead = start + n * step - time.perf_counter()
        if ahead > 0.001:
            await asyncio.sleep(ahead)
        taps.append(asyncio.create_task(tap(request)))
    await asyncio.gather(*taps)
    result.elapsed_s = max(result.answered_at, default=start) - start
    return result
