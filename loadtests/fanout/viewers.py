"""Load generator of the fan-out benchmark: N viewers, a publisher, and the measurement.

Run by `loadtests/fanout.py` (pinned to its own core); prints one JSON object on stdout.

Viewers are raw asyncio protocols that speak just enough WebSocket (and Engine.IO v4 for the
socket.io targets) to count frames without decoding them, so one Python core can absorb
~100k frames/s. A few of them (``samples``) also decode every frame and record latencies:
``now - sent`` of every pin (durable class) and ``now - ts`` of every comment inside a tick
frame (tick class, which includes the up-to-one-tick coalescing wait).
"""

import argparse
import asyncio
import json
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect

SIO_TARGETS = ("sio", "node")
SIO_PATH = "/socket.io/?EIO=4&transport=websocket"
# A masked client frame with an all-zero mask carries its payload as is.
_SIO_PONG = b"\x81\x81\x00\x00\x00\x003"
_SIO_CONNECT = b"\x81\x82\x00\x00\x00\x0040"


@dataclass
class Stats:
    """What every viewer adds to while the measurement window is open."""

    counting: bool = False
    frames: int = 0
    closed: int = 0
    pin_ms: list[float] = field(default_factory=list)
    tick_ms: list[float] = field(default_factory=list)


class Viewer(asyncio.Protocol):
    """One room socket; counts text frames, answers pings, optionally records latencies."""

    def __init__(
        self, handshake: bytes, *, sio: bool, ready_on_upgrade: bool, sample: bool, stats: Stats
    ) -> None:
        self._handshake = handshake
        # Raw peers have nothing to say on join; live sends a snapshot, socket.io a "40".
        self._ready_on_upgrade = ready_on_upgrade
        self._sio = sio
        self._sample = sample
        self._stats = stats
        self._buf = bytearray()
        self._upgraded = False
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self._handshake)

    def connection_lost(self, exc: Exception | None) -> None:
        self._stats.closed += 1
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("closed before ready"))

    def data_received(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        if not self._upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            if b" 101 " not in buf[:end]:
                self.ready.set_exception(ConnectionError(bytes(buf[:end]).decode()))
                return
            self._upgraded = True
            del buf[: end + 4]
            if self._ready_on_upgrade:
                self.ready.set_result(None)
        pos = 0
        size = len(buf)
        while size - pos >= 2:
            length = buf[pos + 1] & 0x7F
            header = 2
            if length == 126:
                if size - pos < 4:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 4], "big")
                header = 4
            elif length == 127:
                if size - pos < 10:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                header = 10
            end = pos + header + length
            if end > size:
                break
            self._frame(buf[pos] & 0x0F, buf, pos + header, end)
            pos = end
        del buf[:pos]

    def _frame(self, opcode: int, buf: bytearray, start: int, end: int) -> None:
        if opcode == 9:
            payload = bytes(buf[start:end])
            assert self.transport is not None
            self.transport.write(bytes([0x8A, 0x80 | len(payload)]) + b"\0\0\0\0" + payload)
            return
        if opcode != 1:
            return
        if self._sio:
            first = buf[start]
            if first == 0x32 and end - start == 1:  # "2": Engine.IO ping
                assert self.transport is not None
                self.transport.write(_SIO_PONG)
                return
            if first == 0x30:  # "0{...}": Engine.IO open; join the default namespace
                assert self.transport is not None
                self.transport.write(_SIO_CONNECT)
                return
            if end - start >= 2 and buf[start + 1] == 0x30:  # "40{sid}": namespace joined
                if not self.ready.done():
                    self.ready.set_result(None)
                return
        elif not self.ready.done():
            self.ready.set_result(None)  # the live snapshot, or the first frame of a peer
        if not self._stats.counting:
            return
        self._stats.frames += 1
        if self._sample:
            self._record(bytes(buf[start:end]))

    def _record(self, payload: bytes) -> None:
        now = time.time() * 1000
        if self._sio:
            message = orjson.loads(payload[2:])
            data: Any = message[1]
        else:
            data = orjson.loads(payload)
        for frame in data if isinstance(data, list) else [data]:
            kind = frame.get("type")
            if kind == "pin" and "sent" in frame:
                self._stats.pin_ms.append(now - frame["sent"])
            elif kind == "comments":
                self._stats.tick_ms.extend(now - item["ts"] for item in frame["items"])


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Publisher:
    """Sends the workload: comments, stock levels, pins, each stamped with its send time."""

    def __init__(self, args: argparse.Namespace) -> None:
        self._args = args
        self._bus: Any = None
        self._redis: Any = None
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self.sent = {"comment": 0, "stock": 0, "pin": 0}

    async def open(self) -> None:
        """Connect to the bus (live) or to the target's publisher socket (peers)."""
        args = self._args
        if args.target == "live":
            from redis.asyncio import Redis

            from realtime.bus import EventBus

            self._redis = Redis.from_url(args.redis_url)
            self._bus = EventBus(self._redis)
            return
        path = f"{SIO_PATH}&role=pub" if args.target in SIO_TARGETS else "/pub"
        self._ws = await connect(f"ws://127.0.0.1:{args.port}{path}", compression=None)
        if args.target in SIO_TARGETS:
            await self._ws.recv()  # Engine.IO open
            await self._ws.send("40")
            await self._ws.recv()  # namespace joined
        self._reader = asyncio.create_task(self._drain())

    async def _drain(self) -> None:
        assert self._ws is not None
        async for message in self._ws:
            if message == "2":
                await self._ws.send("3")

    async def _send(self, kind: str, fields: dict[str, Any]) -> None:
        self.sent[kind] += 1
        if self._bus is not None:
            session_id = self._args.session_id
            if kind == "comment":
                author = fields["user"]
                await self._bus.publish_comment(session_id, fields, author_id=author)
            else:
                await self._bus.publish(session_id, kind, fields)
            return
        assert self._ws is not None
        body = orjson.dumps({"kind": kind, **fields}).decode()
        await self._ws.send(f'42["pub",{body}]' if self._args.target in SIO_TARGETS else body)

    async def run(self, stop: asyncio.Event) -> None:
        """Paced loop: every 10 ms, send what the rates say is due."""
        args = self._args
        started = time.monotonic()
        rates = {"comment": args.comments_per_s, "stock": args.stock_per_s, "pin": args.pins_per_s}
        while not stop.is_set():
            elapsed = time.monotonic() - started
            for kind, rate in rates.items():
                while self.sent[kind] < int(elapsed * rate):
                    n = self.sent[kind]
                    now = time.time() * 1000
                    if kind == "comment":
                        fields: dict[str, Any] = {
                            "user": f"u{n % 1000}",
                            "text": f"comment {n} from the flood",
                            "ts": now,
                        }
                    elif kind == "stock":
                        fields = {"levels": {"p1": 100_000 - n}}
                    else:
                        fields = {"product_id": f"p{n % 3}", "sent": now}
                    await self._send(kind, fields)
            await asyncio.sleep(0.01)

    async def close(self) -> None:
        """Close the bus client or the publisher socket."""
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
        if self._redis is not None:
            await self._redis.aclose()


def _paths(args: argparse.Namespace) -> list[str]:
    if args.target in SIO_TARGETS:
        return [SIO_PATH] * args.viewers
    if args.target != "live":
        return ["/ws"] * args.viewers
    from live import auth

    return [
        f"/ws/sessions/{args.session_id}?token="
        + auth.mint(args.secret, sub=f"v{n}", role="viewer", brand="bench")
        for n in range(args.viewers)
    ]


async def _connect(args: argparse.Namespace, stats: Stats) -> list[Viewer]:
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(50)
    sampled = set(random.Random(1).sample(range(args.viewers), min(args.samples, args.viewers)))

    async def one(n: int, path: str) -> Viewer:
        handshake = (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{args.port}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        async with gate:
            _, viewer = await loop.create_connection(
                lambda: Viewer(
                    handshake,
                    sio=args.target in SIO_TARGETS,
                    ready_on_upgrade=args.target not in ("live", *SIO_TARGETS),
                    sample=n in sampled,
                    stats=stats,
                ),
                "127.0.0.1",
                args.port,
            )
            await asyncio.wait_for(viewer.ready, 60)
        return viewer

    return list(await asyncio.gather(*(one(n, p) for n, p in enumerate(_paths(args)))))


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Connect, publish, measure one window, and return the figures."""
    stats = Stats()
    started = time.monotonic()
    viewers = await _connect(args, stats)
    connect_s = time.monotonic() - started
    publisher = Publisher(args)
    await publisher.open()
    stop = asyncio.Event()
    publishing = asyncio.create_task(publisher.run(stop))
    await asyncio.sleep(args.warmup)
    pids = [int(p) for p in args.server_pids.split(",")]
    cpu_before = [_cpu_s(p) for p in pids]
    redis_before = _cpu_s(args.redis_pid) if args.redis_pid else 0.0
    own_before = time.process_time()
    sent_before = dict(publisher.sent)
    t0 = time.monotonic()
    stats.counting = True
    await asyncio.sleep(args.duration)
    stats.counting = False
    window = time.monotonic() - t0
    cpu = sum(_cpu_s(p) for p in pids) - sum(cpu_before)
    redis_cpu = (_cpu_s(args.redis_pid) - redis_before) if args.redis_pid else None
    own_cpu = time.process_time() - own_before
    sent = {k: publisher.sent[k] - sent_before[k] for k in sent_before}
    stop.set()
    await publishing
    await publisher.close()
    for viewer in viewers:
        if viewer.transport is not None:
            viewer.transport.abort()
    return {
        "target": args.target,
        "viewers": args.viewers,
        "connect_s": round(connect_s, 2),
        "window_s": round(window, 3),
        "closed_during_run": stats.closed,
        "sent": sent,
        "deliveries": stats.frames,
        "server_cpu_s": round(cpu, 3),
        "redis_cpu_s": None if redis_cpu is None else round(redis_cpu, 3),
        "loadgen_cpu_s": round(own_cpu, 3),
        "pin_samples": len(stats.pin_ms),
        "tick_samples": len(stats.tick_ms),
        "pin_p50_ms": _percentile(stats.pin_ms, 0.5),
        "pin_p99_ms": _percentile(stats.pin_ms, 0.99),
        "tick_p50_ms": _percentile(stats.tick_ms, 0.5),
        "tick_p99_ms": _percentile(stats.tick_ms, 0.99),
    }


def main() -> None:
    """Parse arguments, run, print the JSON result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--server-pids", required=True)
    parser.add_argument("--redis-pid", type=int, default=0)
    parser.add_argument("--redis-url", default="")
    parser.add_argument("--session-id", default="")
    parser.add_argument("--secret", default="")
    parser.add_argument("--viewers", type=int, default=2000)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--comments-per-s", type=float, default=200)
    parser.add_argument("--stock-per-s", type=float, default=10)
    parser.add_argument("--pins-per-s", type=float, default=5)
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--warmup", type=float, default=3)
    print(json.dumps(asyncio.run(run(parser.parse_args()))))


if __name__ == "__main__":
    main()
