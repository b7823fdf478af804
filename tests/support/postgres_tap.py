"""`PostgresTap`: a loopback forwarder to PostgreSQL that writes down what crosses the wire.

SQLAlchemy's cursor events do not see everything a driver sends: asyncpg opens, commits and
rolls back transactions on its own (and the pool's pre-ping runs under none of them), so the
way to know what a unit of work costs is to read the protocol. The tap records each round trip
(every exchange the server ends with ReadyForQuery) with the statements the client ran in it
and the transaction status the server reported at its end. Connect through it without TLS
(``?ssl=disable``): an encrypted stream cannot be read.
"""

import asyncio
import contextlib
import struct
from dataclasses import dataclass, field

#: The requests a client may send before its startup message, each answered by one byte.
_SSL_REQUEST, _GSSENC_REQUEST = 80877103, 80877104


@dataclass(frozen=True, slots=True)
class RoundTrip:
    """One exchange: the statements executed in it (simple queries, and the text of each
    prepared statement bound; none when it only prepared one) and the server's transaction
    status after it (``I`` idle, ``T`` in a transaction block, ``E`` in a failed one)."""

    statements: tuple[str, ...]
    status: str


@dataclass(slots=True)
class _Wire:
    """One connection's state: statement names to their text, and the statements run since
    the last ReadyForQuery."""

    prepared: dict[str, str] = field(default_factory=dict)
    pending: list[str] = field(default_factory=list)


class PostgresTap:
    """Forwards ``127.0.0.1:port`` to ``target_host:target_port``, recording round trips."""

    def __init__(self, target_host: str, target_port: int, port: int) -> None:
        self.target_host = target_host
        self.target_port = target_port
        self.port = port
        self.round_trips: list[RoundTrip] = []
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()

    async def open(self) -> None:
        """Start accepting and forwarding connections."""
        self._server = await asyncio.start_server(self._forward, "127.0.0.1", self.port)

    async def close(self) -> None:
        """Stop accepting; the connections forwarded end with their clients."""
        if self._server is not None:
            self._server.close()
            self._server = None
        for pipe in list(self._pipes):
            pipe.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(
            self.target_host, self.target_port
        )
        wire = _Wire()
        pipes = [
            asyncio.ensure_future(self._from_client(reader, upstream_writer, wire)),
            asyncio.ensure_future(self._from_server(upstream_reader, writer, wire)),
        ]
        self._pipes.update(pipes)
        try:
            await asyncio.gather(*pipes, return_exceptions=True)
        finally:
            self._pipes.difference_update(pipes)

    async def _from_client(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, wire: _Wire
    ) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while True:  # the untyped messages: TLS or GSS requests, then the startup message
                header = await reader.readexactly(8)
                length, code = struct.unpack("!ii", header)
                await _relay(writer, header + await reader.readexactly(length - 8))
                if code not in (_SSL_REQUEST, _GSSENC_REQUEST):
                    break
            while True:
                kind, body = await _message(reader)
                _note(wire, kind, body)
                await _relay(writer, kind + struct.pack("!i", len(body) + 4) + body)
        writer.transport.abort()

    async def _from_server(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, wire: _Wire
    ) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            started = False
            while True:
                kind = await reader.readexactly(1)
                if kind == b"N" and not started:
                    await _relay(writer, kind)  # a refused TLS or GSS request: one byte, no length
                    continue
                started = True
                length = struct.unpack("!i", await reader.readexactly(4))[0]
                body = await reader.readexactly(length - 4)
                if kind == b"Z":
                    self.round_trips.append(RoundTrip(tuple(wire.pending), body.decode()))
                    wire.pending.clear()
                await _relay(writer, kind + struct.pack("!i", length) + body)
        writer.transport.abort()


async def _message(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    kind = await reader.readexactly(1)
    length = struct.unpack("!i", await reader.readexactly(4))[0]
    return kind, await reader.readexactly(length - 4)


async def _relay(writer: asyncio.StreamWriter, data: bytes) -> None:
    writer.write(data)
    await writer.drain()


def _note(wire: _Wire, kind: bytes, body: bytes) -> None:
    if kind == b"Q":
        wire.pending.append(body.rstrip(b"\0").decode())
    elif kind == b"P":
        name, query = body.split(b"\0")[:2]
        wire.prepared[name.decode()] = query.decode()
    elif kind == b"B":
        # Bind names its portal first, then the statement: what Execute will run.
        _portal, statement = body.split(b"\0")[:2]
        wire.pending.append(wire.prepared.get(statement.decode(), "?"))
