"""Load generator of the fan-out benchmark: N viewers, a publisher, and the measurement.

Run by `loadtests/fanout.py` as `python -m loadtests.room_viewers` (pinned to its own core); prints
one JSON object on stdout. `loadtests/room_load.py` imports its viewer protocol.
With several server nodes (``--ports`` and ``--server-pids`` list them in the same order),
viewer n joins node n mod K, and every figure is also given per node.

Viewers are raw asyncio protocols that speak just enough WebSocket (and Engine.IO v4 for the
socket.io targets) to count frames without decoding them, so one Python core can absorb
~100k frames/s. A few of them (``samples``) also decode every frame and record latencies:
``now - sent`` of every pin (durable class) and ``now - ts`` of every comment inside a tick
frame (tick class, which includes the up-to-one-tick coalescing wait). The sampled viewers
also keep the key of every pin they receive, from the first pin on (the durable ``seq`` for
`live`, the publisher's counter ``n`` for the peers); after the window the publisher stops, the
program waits for the last pin to reach them, and `loadtests/durable_order.py` checks that every
sampled viewer on every node saw the pins published, in order, without a gap or a duplicate.
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

from loadtests import durable_order

SIO_TARGETS = ("sio", "node")
SIO_PATH = "/socket.io/?EIO=4&transport=websocket"
# A masked client frame with an all-zero mask carries its payload as is.
_SIO_PONG = b"\x81\x81\x00\x00\x00\x003"
_SIO_CONNECT = b"\x81\x82\x00\x00\x00\x0040"


@dataclass
class Stats:
    """What the viewers of one node add to while the measurement window is open."""

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
        self.sampled = sample
        self.transport_closed = False
        self._stats = stats
        self._buf = bytearray()
        self._upgraded = False
        #: Keys of the pins received (sampled viewers only), whether or not the window is open.
        self.pins: list[int] = []
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self._handshake)

    def connection_lost(self, exc: Exception | None) -> None:
        self._stats.closed += 1
        self.transport_closed = True
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
        counting = self._stats.counting
        if counting:
            self._stats.frames += 1
        if self.sampled:
            self._record(bytes(buf[start:end]), counting=counting)

    def _record(self, payload: bytes, *, counting: bool) -> None:
        now = time.time() * 1000
        if self._sio:
            if not payload.startswith(b"42"):
                return
            data: Any = orjson.loads(payload[2:])[1]
        else:
            data = orjson.loads(payload)
        for frame in data if isinstance(data, list) else [data]:
            kind = frame.get("type")
            if kind == "pin" and "sent" in frame:
                self.pins.append(frame["seq"] if "seq" in frame else frame["n"])
                if counting:
                    self._stats.pin_ms.append(now - frame["sent"])
            elif kind == "comments" and counting:
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
        #: Key of every pin sent, in order: its ``seq`` for `live`, else its ``n``.
        self.pin_keys: list[int] = []

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
        port = _ports(args)[0]
        self._ws = await connect(f"ws://127.0.0.1:{port}{path}", compression=None)
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
                return
            seq = await self._bus.publish(session_id, kind, fields)
            if kind == "pin":
                self.pin_keys.append(seq)
            return
        assert self._ws is not None
        body = orjson.dumps({"kind": kind, **fields}).decode()
        await self._ws.send(f'42["pub",{body}]' if self._args.target in SIO_TARGETS else body)
        if kind == "pin":
            self.pin_keys.append(fields["n"])

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
                        fields = {"product_id": f"p{n % 3}", "sent": now, "n": n}
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


def _ports(args: argparse.Namespace) -> list[int]:
    return [int(p) for p in args.ports.split(",")]


def _paths(args: argparse.Namespace) -> list[str]:
    if args.target in SIO_TARGETS:
        return [SIO_PATH] * args.viewers
    if args.target != "live":
        return ["/ws"] * args.viewers
    from live.auth import tokens

    return [
        f"/ws/sessions/{args.session_id}?token="
        + tokens.mint(args.secret, sub=f"v{n}", role="viewer", brand="bench")
        for n in range(args.viewers)
    ]


def _sampled(viewers: int, samples: int, nodes: int) -> set[int]:
    """``samples`` viewers drawn evenly from every node's share (viewer n is on node n mod K)."""
    rng = random.Random(1)
    chosen: set[int] = set()
    for node in range(nodes):
        share = range(node, viewers, nodes)
        count = samples // nodes + (1 if node < samples % nodes else 0)
        chosen.update(rng.sample(share, min(count, len(share))))
    return chosen


async def _connect(args: argparse.Namespace, stats: list[Stats]) -> list[Viewer]:
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(50)
    ports = _ports(args)
    sampled = _sampled(args.viewers, args.samples, len(ports))

    async def one(n: int, path: str) -> Viewer:
        node = n % len(ports)
        handshake = (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{ports[node]}\r\nUpgrade: websocket\r\n"
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
                    stats=stats[node],
                ),
                "127.0.0.1",
                ports[node],
            )
            await asyncio.wait_for(viewer.ready, 60)
        return viewer

    return list(await asyncio.gather(*(one(n, p) for n, p in enumerate(_paths(args)))))


async def _drain(viewers: dict[str, Viewer], published: int, timeout_s: float) -> float:
    """Wait until every open sampled viewer has every pin (or ``timeout_s``); seconds waited."""
    started = time.monotonic()
    # Polling: the last pin is only known once publishing stopped, and this is a load
    # generator checking a few dozen lists, not a test synchronising on an event.
    while time.monotonic() - started < timeout_s:
        waiting = [
            v for v in viewers.values() if len(v.pins) < published and not v.transport_closed
        ]
        if not waiting:
            break
        await asyncio.sleep(0.05)
    return time.monotonic() - started


def _node_figures(stats: Stats, cpu_s: float) -> dict[str, Any]:
    return {
        "deliveries": stats.frames,
        "server_cpu_s": round(cpu_s, 3),
        "closed_during_run": stats.closed,
        "pin_samples": len(stats.pin_ms),
        "pin_p50_ms": _percentile(stats.pin_ms, 0.5),
        "pin_p99_ms": _percentile(stats.pin_ms, 0.99),
        "tick_p50_ms": _percentile(stats.tick_ms, 0.5),
        "tick_p99_ms": _percentile(stats.tick_ms, 0.99),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Connect, publish, measure one window, check the pin order, and return the figures."""
    pids = [int(p) for p in args.server_pids.split(",")]
    stats = [Stats() for _ in pids]
    started = time.monotonic()
    viewers = await _connect(args, stats)
    connect_s = time.monotonic() - started
    publisher = Publisher(args)
    await publisher.open()
    stop = asyncio.Event()
    publishing = asyncio.create_task(publisher.run(stop))
    await asyncio.sleep(args.warmup)
    cpu_before = [_cpu_s(p) for p in pids]
    redis_before = _cpu_s(args.redis_pid) if args.redis_pid else 0.0
    own_before = time.process_time()
    sent_before = dict(publisher.sent)
    t0 = time.monotonic()
    for node in stats:
        node.counting = True
    await asyncio.sleep(args.duration)
    for node in stats:
        node.counting = False
    window = time.monotonic() - t0
    cpu = [_cpu_s(p) - before for p, before in zip(pids, cpu_before, strict=True)]
    redis_cpu = (_cpu_s(args.redis_pid) - redis_before) if args.redis_pid else None
    own_cpu = time.process_time() - own_before
    sent = {k: publisher.sent[k] - sent_before[k] for k in sent_before}
    stop.set()
    await publishing
    await publisher.close()
    sampled = {
        f"viewer {n} (node {n % len(pids) + 1})": v for n, v in enumerate(viewers) if v.sampled
    }
    drain_s = await _drain(sampled, len(publisher.pin_keys), args.drain_s)
    verdict = durable_order.check(publisher.pin_keys, {k: v.pins for k, v in sampled.items()})
    for viewer in viewers:
        if viewer.transport is not None:
            viewer.transport.abort()
    total = Stats(
        frames=sum(s.frames for s in stats),
        closed=sum(s.closed for s in stats),
        pin_ms=[ms for s in stats for ms in s.pin_ms],
        tick_ms=[ms for s in stats for ms in s.tick_ms],
    )
    return {
        "target": args.target,
        "nodes": len(pids),
        "viewers": args.viewers,
        "connect_s": round(connect_s, 2),
        "window_s": round(window, 3),
        "sent": sent,
        **_node_figures(total, sum(cpu)),
        "redis_cpu_s": None if redis_cpu is None else round(redis_cpu, 3),
        "loadgen_cpu_s": round(own_cpu, 3),
        "tick_samples": len(total.tick_ms),
        "per_node": [_node_figures(s, c) for s, c in zip(stats, cpu, strict=True)],
        "order": {
            "ok": verdict.ok,
            "summary": verdict.summary(),
            "published": verdict.published,
            "viewers": verdict.viewers,
            "complete": verdict.complete,
            "cut": verdict.cut,
            "problems": verdict.problems,
            "drain_s": round(drain_s, 2),
        },
    }


def main() -> None:
    """Parse arguments, run, print the JSON result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True)
    parser.add_argument("--ports", required=True, help="comma-separated, one per node")
    parser.add_argument("--server-pids", required=True, help="comma-separated, as --ports")
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
    parser.add_argument("--drain-s", type=float, default=10, help="wait for the last pin")
    args = parser.parse_args()
    if len(_ports(args)) != len(args.server_pids.split(",")):
        parser.error("--ports and --server-pids must list the same nodes")
    print(json.dumps(asyncio.run(run(args))))


if __name__ == "__main__":
    main()
