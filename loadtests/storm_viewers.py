"""Client process of the join-storm benchmark: a share of the viewers, driven over stdin.

Run by `loadtests/join_storm.py` as ``python -m loadtests.storm_viewers`` (several at once, on
the load generator's core). Each viewer is a raw asyncio protocol that speaks just enough
WebSocket to open the room socket, read its first frame (the snapshot, or the close that
refuses it) and every durable frame after it. Commands arrive as JSON lines on stdin; each is
answered by one JSON line on stdout:

- ``{"cmd": "join"}``: open every socket at once (as fast as the client can: a gate of
  ``--in-flight`` handshakes), answer when all got their first frame or failed;
- ``{"cmd": "pins", "since_ms": T}``: the delivery delays (receive time - the frame's ``ts``)
  of the pins published at or after ``T``, over every viewer;
- ``{"cmd": "follow", "ports": [...]}``: from now on a viewer whose socket closes reconnects
  (to the next port of the list, round-robin) with ``since`` and ``epoch``, after the SDK's
  back-off with full jitter (``"ports": null`` stops that); answers at once;
- ``{"cmd": "settle", "timeout_s": S}``: wait until every viewer is connected again (or S),
  answer when and how many;
- ``{"cmd": "last_seq"}``: the highest durable ``seq`` any of this process's viewers saw;
- ``{"cmd": "audit", "final_seq": N}``: per viewer, the durable ``seq`` numbers between its
  first snapshot and ``N`` that it never received (a reconnect with ``since`` must fill the gap);
- ``{"cmd": "closed", "timeout_s": S, "since": T}``: wait until every socket is closed by the
  server (the exodus), answer with the close times after ``T``;
- ``{"cmd": "quit"}``.
"""

import argparse
import asyncio
import random
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

#: The SDK's reconnect back-off: a first delay, doubled per failure up to a cap, with full jitter.
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 8.0
KEY = "dGhlIHNhbXBsZSBub25jZQ=="
_DURABLE_HINT = b'"seq"'
# Engine.IO v4 (the socket.io peer): masked client frames with an all-zero mask carry their
# payload as is: "3" answers a ping, "40" joins the default namespace.
_SIO_PONG = b"\x81\x81\x00\x00\x00\x003"
_SIO_CONNECT = b"\x81\x82\x00\x00\x00\x0040"


@dataclass
class Record:
    """What one viewer saw, across its reconnects."""

    path: str
    port: int
    snapshot_seq: int | None = None
    #: The ``seq`` of the latest snapshot after the first (a reconnect too far behind for a
    #: catch-up within the backlog gets a snapshot again: it covers every event up to it).
    resnapshot_seq: int | None = None
    epoch: str | None = None
    last_seq: int = 0
    seqs: set[int] = field(default_factory=set)
    pins: list[tuple[int, float, float]] = field(default_factory=list)  # seq, ts, received
    joined_s: float | None = None
    refused: str | None = None
    #: The retry hint of a ``busy`` refusal (the node's join queue was full), in ms.
    retry_after_ms: int | None = None
    closes: list[float] = field(default_factory=list)
    connected: bool = False
    reconnects: int = 0
    #: Every ``busy`` retry hint this viewer was given, in ms.
    hints_ms: list[int] = field(default_factory=list)
    #: Seconds from losing the socket to having it back, per reconnect.
    outages_s: list[float] = field(default_factory=list)


class Viewer(asyncio.Protocol):
    """One room socket of a `Record`."""

    def __init__(self, record: Record, ready: asyncio.Future[None], *, sio: bool) -> None:
        self.record = record
        self.sio = sio
        self.ready = ready
        self.transport: asyncio.Transport | None = None
        self.lost: asyncio.Future[None] = ready.get_loop().create_future()
        self._buf = bytearray()
        self._upgraded = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        record = self.record
        path = record.path
        if record.snapshot_seq is not None:
            path += f"&since={record.last_seq}" + (f"&epoch={record.epoch}" if record.epoch else "")
        transport.write(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{record.port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self.record.connected = False
        self.record.closes.append(time.time())
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("closed before the first frame"))
        if not self.lost.done():
            self.lost.set_result(None)

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        if not self._upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(buf[: buf.find(b"\r\n")]).decode(errors="replace")
            if " 101 " not in status + " ":
                self.record.refused = status
                if not self.ready.done():
                    self.ready.set_exception(ConnectionError(status))
                return
            self._upgraded = True
            del buf[: end + 4]
        pos, size = 0, len(buf)
        while size - pos >= 2:
            length, header = buf[pos + 1] & 0x7F, 2
            if length == 126:
                if size - pos < 4:
                    break
                length, header = int.from_bytes(buf[pos + 2 : pos + 4], "big"), 4
            elif length == 127:
                if size - pos < 10:
                    break
                length, header = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
            end = pos + header + length
            if end > size:
                break
            self._frame(buf[pos] & 0x0F, bytes(buf[pos + header : end]))
            pos = end
        del buf[:pos]

    def _frame(self, opcode: int, payload: bytes) -> None:
        assert self.transport is not None
        if opcode == 9:  # ping
            self.transport.write(bytes([0x8A, 0x80 | len(payload)]) + b"\0\0\0\0" + payload)
            return
        if opcode == 8:  # close: answer it, the server closes the TCP connection
            self.transport.write(b"\x88\x80\0\0\0\0")
            return
        if opcode != 1:
            return
        if self.sio:
            payload = self._engine_io(payload)
            if payload is None:
                return
        now = time.time()
        first = not self.ready.done()
        if first or _DURABLE_HINT in payload:
            data: Any = orjson.loads(payload)
            for frame in data if isinstance(data, list) else [data]:
                self._event(frame, now)
        if first and self.record.refused is not None:
            # Refused before joining (``busy``): the socket closes next; not connected.
            self.ready.set_exception(ConnectionError(self.record.refused))
            return
        if first:
            self.record.connected = True
            if self.record.joined_s is None:
                self.record.joined_s = now
            self.ready.set_result(None)

    def _engine_io(self, payload: bytes) -> bytes | None:
        """The socket.io event's data as a frame, or None for Engine.IO's own packets."""
        assert self.transport is not None
        if payload == b"2":
            self.transport.write(_SIO_PONG)
        elif payload.startswith(b"0"):
            self.transport.write(_SIO_CONNECT)
        elif payload.startswith(b"42"):
            return orjson.dumps(orjson.loads(payload[2:])[1])
        return None

    def _event(self, frame: dict[str, Any], now: float) -> None:
        record = self.record
        kind = frame.get("type")
        if kind == "snapshot":
            if record.snapshot_seq is None:
                record.snapshot_seq = int(frame["seq"])
            else:
                record.resnapshot_seq = max(record.resnapshot_seq or 0, int(frame["seq"]))
            record.epoch = frame.get("epoch")
            record.last_seq = max(record.last_seq, int(frame["seq"]))
            return
        if kind == "error" and not self.ready.done():
            record.refused = str(frame.get("code"))
            hint = frame.get("retry_after_ms")
            record.retry_after_ms = hint if isinstance(hint, int) else None
            if record.retry_after_ms is not None:
                record.hints_ms.append(record.retry_after_ms)
            return
        seq = frame.get("seq")
        if isinstance(seq, int):
            record.seqs.add(seq)
            record.last_seq = max(record.last_seq, seq)
            if kind == "pin":
                record.pins.append((seq, float(frame.get("ts", 0)) / 1000, now))


class Client:
    """This process's viewers and what it was told to do."""

    def __init__(self, args: argparse.Namespace) -> None:
        lines = [line for line in open(args.paths).read().splitlines() if line]  # noqa: SIM115
        self.records = [Record(path, args.port) for path in lines]
        self.in_flight = args.in_flight
        self.sio = args.sio
        self.timeout_s = args.timeout_s
        self.follow_ports: list[int] | None = None
        self.viewers: dict[int, Viewer] = {}
        self.tasks: set[asyncio.Task[None]] = set()

    async def open(self, index: int) -> Viewer:
        """Open viewer ``index``'s socket; returns once its first frame arrived."""
        loop = asyncio.get_running_loop()
        record = self.records[index]
        record.refused = record.retry_after_ms = None
        ready: asyncio.Future[None] = loop.create_future()
        _, viewer = await loop.create_connection(
            lambda: Viewer(record, ready, sio=self.sio), "127.0.0.1", record.port
        )
        self.viewers[index] = viewer
        await asyncio.wait_for(ready, self.timeout_s)
        return viewer

    async def join(self) -> dict[str, Any]:
        """Open every socket through a gate of ``in_flight`` handshakes."""
        gate = asyncio.Semaphore(self.in_flight)
        started = time.time()
        failures: dict[str, int] = {}

        async def one(index: int) -> None:
            async with gate:
                try:
                    viewer = await self.open(index)
                except (OSError, TimeoutError) as exc:
                    reason = self.records[index].refused or type(exc).__name__
                    failures[reason] = failures.get(reason, 0) + 1
                    return
            self._watch(index, viewer)

        await asyncio.gather(*(one(n) for n in range(len(self.records))))
        joined = [r.joined_s - started for r in self.records if r.joined_s is not None]
        return {
            "joined": len(joined),
            "failed": failures,
            "started": started,
            "last_s": max(joined, default=0.0),
            "join_s": _percentiles(joined),
        }

    def _watch(self, index: int, viewer: Viewer) -> None:
        task = asyncio.create_task(self._on_close(index, viewer))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _on_close(self, index: int, viewer: Viewer) -> None:
        await viewer.lost
        if self.follow_ports is None:
            return
        record = self.records[index]
        lost_at = time.time()
        delay = BACKOFF_FIRST_S
        # Full jitter (the SDK's): a whole node's viewers must not come back in lockstep.
        wait_s = random.uniform(0, delay)
        while True:
            await asyncio.sleep(wait_s)
            if self.follow_ports is None:
                return  # the phase ended (its wait ran out) while this viewer was away
            record.port = self.follow_ports[(index + record.reconnects) % len(self.follow_ports)]
            record.reconnects += 1
            try:
                viewer = await self.open(index)
            except (OSError, TimeoutError):
                delay = min(BACKOFF_MAX_S, delay * 2)
                hint_ms = record.retry_after_ms
                # The SDK's rule for a busy node (4103): come back after the hint, spread over
                # one more hint's length so that the refused do not return together.
                wait_s = (
                    (hint_ms + random.uniform(0, hint_ms)) / 1000
                    if hint_ms
                    else random.uniform(0, delay)
                )
                continue
            record.outages_s.append(time.time() - lost_at)
            self._watch(index, viewer)
            return

    def pins(self, since_ms: float) -> dict[str, Any]:
        """Delays of the pins published at or after ``since_ms``, over every viewer."""
        delays = [
            (received - ts) * 1000
            for record in self.records
            for _, ts, received in record.pins
            if ts * 1000 >= since_ms
        ]
        return {"count": len(delays), "delays_ms": _percentiles(delays)}

    async def settle(self, timeout_s: float) -> dict[str, Any]:
        """Wait until every viewer is connected again."""
        started = time.time()
        while time.time() - started < timeout_s:
            if all(r.connected for r in self.records):
                break
            await asyncio.sleep(0.1)  # a load generator polling its own flags
        return {
            "connected": sum(r.connected for r in self.records),
            "after_s": round(time.time() - started, 2),
            "reconnects": sum(r.reconnects for r in self.records),
            "hints_ms": [h for r in self.records for h in r.hints_ms],
            "outages_s": [round(o, 3) for r in self.records for o in r.outages_s],
        }

    def audit(self, final_seq: int) -> dict[str, Any]:
        """Durable events each viewer missed between its first snapshot and ``final_seq``: not
        received, and not covered by a later snapshot (a reconnect further behind than the
        backlog allows is sent the state instead of each event; ``resynced`` counts those)."""
        missing = 0
        viewers_missing = 0
        resynced = 0
        for record in self.records:
            if record.snapshot_seq is None:
                continue
            covered_until = max(record.snapshot_seq, record.resnapshot_seq or 0)
            resynced += record.resnapshot_seq is not None
            wanted = set(range(covered_until + 1, final_seq + 1))
            gap = len(wanted - record.seqs)
            missing += gap
            viewers_missing += gap > 0
        return {"missing": missing, "viewers_missing": viewers_missing, "resynced": resynced}

    async def closed(self, timeout_s: float, since: float) -> dict[str, Any]:
        """Wait until the server closed every socket (the exodus); close times from ``since``."""
        started = since
        while time.time() - started < timeout_s:
            if not any(r.connected for r in self.records):
                break
            await asyncio.sleep(0.05)  # a load generator polling its own flags
        closes = [r.closes[-1] - started for r in self.records if r.closes]
        return {"closed": len(closes), "close_s": _percentiles(closes)}


def _percentiles(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 4)

    return {"p50": at(0.5), "p99": at(0.99), "max": round(ordered[-1], 4)}


async def serve(client: Client) -> None:
    """Answer the commands of stdin until ``quit``."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    print(orjson.dumps({"ready": len(client.records)}).decode(), flush=True)
    while line := await reader.readline():
        command = orjson.loads(line)
        cmd = command["cmd"]
        answer: dict[str, Any]
        if cmd == "join":
            answer = await client.join()
        elif cmd == "pins":
            answer = client.pins(command["since_ms"])
        elif cmd == "follow":
            client.follow_ports = command["ports"]
            answer = {"following": client.follow_ports}
        elif cmd == "settle":
            answer = await client.settle(command["timeout_s"])
        elif cmd == "last_seq":
            answer = {"last_seq": max((r.last_seq for r in client.records), default=0)}
        elif cmd == "audit":
            answer = client.audit(command["final_seq"])
        elif cmd == "closed":
            answer = await client.closed(command["timeout_s"], command["since"])
        else:
            break
        print(orjson.dumps(answer).decode(), flush=True)
    for viewer in client.viewers.values():
        if viewer.transport is not None:
            viewer.transport.abort()


def main() -> None:
    """Parse the arguments and serve the commands."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--paths", required=True, help="a file with one room socket path a line")
    parser.add_argument("--in-flight", type=int, default=256)
    parser.add_argument("--timeout-s", type=float, default=60)
    parser.add_argument("--sio", action="store_true", help="the peers' socket.io (Engine.IO v4)")
    args = parser.parse_args()
    asyncio.run(serve(Client(args)))


if __name__ == "__main__":
    main()
