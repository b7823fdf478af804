"""Issue 6's room workload against `live serve` as deployed, with the real ingest paths.

N viewers join one room; C of them comment once a second each over their own sockets (the
real comment ingest: frame parsing, rate limit, word filter, the comment stream, the tick
sample); P purchases a second arrive over HTTP from distinct buyers (token check, reserve in
Redis, the order row, the purchase ticker and stock in the tick); the host pins a product
S times a second over HTTP (durable class, sent at once). The server runs alone on core 0
(``taskset``), a private Valkey and this load generator share core 1; the record is the
embedded SQLite, or with ``--postgres DSN`` a scratch database on that PostgreSQL server (whose
processes are not pinned). Loopback only; everything started here is stopped here.

It prints, for the measured window: deliveries/s (text frames counted by all viewers), server
CPU per delivery, latencies per class (pin: host's request sent -> viewer; comment: viewer's
frame sent -> the tick frame carrying it at another viewer; purchase: the buyer's request
sent -> the ticker at a viewer), order answer latency, comments the server accepted (from the
host channel's stats), frames dropped for slow viewers, and the server's resident memory per
idle viewer (measured after the joins, before any traffic). Example:

    python -m loadtests.room_load --viewers 10000 --comments-per-s 1000 --purchases-per-s 100

With ``--guides G``, G of the viewers' sockets are guides' instead (``guide`` tokens: each is
that guide's workspace subscription, "my viewers now"), and every other viewer joins through a
guide's share code, round robin, so each guide has about N/G viewers bound and present; the
room keeps N sockets, so the same frames go out plus the guides' ``workspace`` frames.
``workspace_frames`` counts those the sampled guides received.
"""

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

from live.auth import tokens
from live.guides import share_codes
from live.platform.embedded_valkey import EmbeddedValkey
from loadtests import live_node
from loadtests.http_attack import KeepAlive, post
from loadtests.live_node import SECRET
from loadtests.ports import free_port
from loadtests.room_viewers import Stats, Viewer

BRAND = "bench"
PRODUCTS = 3


@dataclass
class Seen:
    """Latencies recorded by the sampled viewers and the host socket."""

    pin_ms: list[float] = field(default_factory=list)
    comment_ms: list[float] = field(default_factory=list)
    purchase_ms: list[float] = field(default_factory=list)
    comments_accepted: int = 0
    workspace_frames: int = 0
    errors: int = 0
    pin_sent: dict[str, float] = field(default_factory=dict)
    #: When each buyer's order was sent, by the buyer's name on the purchase ticker.
    order_sent: dict[str, float] = field(default_factory=dict)


class RoomViewer(Viewer):
    """A fan-out viewer that can also send (masked with a zero key) and records this
    workload's classes."""

    def __init__(self, handshake: bytes, *, sample: bool, stats: Stats, seen: Seen) -> None:
        super().__init__(handshake, sio=False, ready_on_upgrade=False, sample=sample, stats=stats)
        self._seen = seen

    def send_text(self, text: str) -> None:
        """Write one client text frame (a zero mask key leaves the payload as is)."""
        payload = text.encode()
        size = len(payload)
        header = (
            bytes([0x81, 0x80 | size])
            if size < 126
            else bytes([0x81, 0xFE]) + size.to_bytes(2, "big")
        )
        assert self.transport is not None
        self.transport.write(header + b"\0\0\0\0" + payload)

    def _record(self, payload: bytes, *, counting: bool) -> None:
        if not counting:
            return
        now = time.time() * 1000
        data = orjson.loads(payload)
        seen = self._seen
        for frame in data if isinstance(data, list) else [data]:
            kind = frame.get("type")
            if kind == "pin":
                sent = seen.pin_sent.get(frame.get("product_id", ""))
                if sent is not None:
                    seen.pin_ms.append(now - sent)
            elif kind == "comments":
                for item in frame["items"]:
                    text = str(item.get("text", ""))
                    if text.startswith("t="):
                        seen.comment_ms.append(now - float(text[2:].split(" ", 1)[0]))
            elif kind == "purchase":
                sent = seen.order_sent.get(str(frame.get("user")))
                if sent is not None:
                    seen.purchase_ms.append(now - sent)
            elif kind == "stats":
                seen.comments_accepted += int(frame.get("comments", 0))
            elif kind == "workspace":
                seen.workspace_frames += 1
            elif kind == "error":
                seen.errors += 1


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def _metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


class Load:
    """The traffic: viewers, commenters, buyers and the host, against one server."""

    def __init__(
        self, args: argparse.Namespace, port: int, session_id: str, product_ids: list[str]
    ) -> None:
        self.args = args
        self.port = port
        self.session_id = session_id
        self.product_ids = product_ids
        self.stats = Stats()
        self.seen = Seen()
        self.viewers: list[RoomViewer] = []
        self.order_ms: list[float] = []
        self.order_status: dict[int, int] = {}
        self.sent = {"comment": 0, "purchase": 0, "pin": 0}
        self.counting = False

    def _path(self, sub: str, role: str = "viewer", share: str | None = None) -> str:
        token = tokens.mint(SECRET, sub=sub, role=role, brand=BRAND)
        path = f"/ws/sessions/{self.session_id}?token={token}"
        return path + (f"&share={share}" if share else "")

    def _viewer_path(self, n: int) -> str:
        """Viewer ``n``'s socket: with guides, the first G are guides, the rest come through
        guide ``n mod G``'s share code."""
        guides = self.args.guides
        if not guides:
            return self._path(f"v{n}")
        if n < guides:
            return self._path(f"g{n}", "guide")
        code = share_codes.ShareCode(
            guide_id=f"g{n % guides}",
            brand=BRAND,
            session_id=self.session_id,
            store=None,
            expires_s=int(time.time()) + 86_400,
        )
        return self._path(f"v{n}", share=share_codes.issue(SECRET, code))

    async def _join(self, path: str, *, sample: bool, gate: asyncio.Semaphore) -> RoomViewer:
        handshake = (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        loop = asyncio.get_running_loop()
        async with gate:
            _, viewer = await loop.create_connection(
                lambda: RoomViewer(handshake, sample=sample, stats=self.stats, seen=self.seen),
                "127.0.0.1",
                self.port,
            )
            await asyncio.wait_for(viewer.ready, 120)
        return viewer

    async def join_all(self) -> None:
        """Every viewer, 50 joins in flight; the sampled ones are spread over the room, and
        the host's socket (for the accepted-comment count) is sampled too."""
        gate = asyncio.Semaphore(50)
        step = max(1, self.args.viewers // self.args.samples)
        self.viewers = list(
            await asyncio.gather(
                *(
                    self._join(
                        self._viewer_path(n),
                        # With guides, a few guides are sampled too (their workspace frames).
                        sample=n % step == step // 2 or n < min(self.args.guides, 5),
                        gate=gate,
                    )
                    for n in range(self.args.viewers)
                )
            )
        )
        self.viewers.append(await self._join(self._path("host", "host"), sample=True, gate=gate))

    async def comment(self, stop: asyncio.Event) -> None:
        """The first C viewers comment once a second each, spread evenly."""
        first = self.args.guides  # guides do not flood the room
        commenters = self.viewers[first : first + self.args.comments_per_s]
        started = time.monotonic()
        while not stop.is_set():
            due = int((time.monotonic() - started) * len(commenters))
            while self.sent["comment"] < due:
                n = self.sent["comment"]
                text = f"t={time.time() * 1000:.1f} comment {n} from the flood"
                commenters[n % len(commenters)].send_text(
                    orjson.dumps({"type": "comment", "text": text}).decode()
                )
                self.sent["comment"] += 1
            await asyncio.sleep(0.01)

    async def buy(self, stop: asyncio.Event) -> None:
        """P orders a second, each from its own buyer, over a pool of keep-alive connections."""
        loop = asyncio.get_running_loop()
        pool: asyncio.Queue[KeepAlive] = asyncio.Queue()
        for _ in range(32):
            pool.put_nowait((await loop.create_connection(KeepAlive, "127.0.0.1", self.port))[1])
        started = time.monotonic()
        pending: set[asyncio.Task[None]] = set()

        async def one(n: int) -> None:
            token = tokens.mint(SECRET, sub=f"b{n}", role="viewer", brand=BRAND)
            body = orjson.dumps({"product_id": self.product_ids[n % PRODUCTS], "qty": 1})
            request = post(
                f"/api/sessions/{self.session_id}/orders",
                f"127.0.0.1:{self.port}",
                {"Authorization": f"Bearer {token}", "Idempotency-Key": f"k{n}"},
                body,
            )
            connection = await pool.get()
            self.seen.order_sent[f"b{n}"] = time.time() * 1000
            sent = time.perf_counter()
            status = await connection.exchange(request)
            if self.counting:
                self.order_ms.append((time.perf_counter() - sent) * 1000)
                self.order_status[status] = self.order_status.get(status, 0) + 1
            pool.put_nowait(connection)

        while not stop.is_set():
            due = int((time.monotonic() - started) * self.args.purchases_per_s)
            while self.sent["purchase"] < due:
                task = asyncio.create_task(one(self.sent["purchase"]))
                pending.add(task)
                task.add_done_callback(pending.discard)
                self.sent["purchase"] += 1
            await asyncio.sleep(0.01)
        await asyncio.gather(*pending)
        while not pool.empty():
            pool.get_nowait().close()

    async def pin(self, stop: asyncio.Event) -> None:
        """The host pins the products in turn, S times a second."""
        loop = asyncio.get_running_loop()
        _, connection = await loop.create_connection(KeepAlive, "127.0.0.1", self.port)
        token = tokens.mint(SECRET, sub="host", role="host", brand=BRAND)
        started = time.monotonic()
        while not stop.is_set():
            due = int((time.monotonic() - started) * self.args.pins_per_s)
            while self.sent["pin"] < due:
                product_id = self.product_ids[self.sent["pin"] % PRODUCTS]
                request = post(
                    f"/api/sessions/{self.session_id}/pin",
                    f"127.0.0.1:{self.port}",
                    {"Authorization": f"Bearer {token}"},
                    orjson.dumps({"product_id": product_id}),
                )
                self.seen.pin_sent[product_id] = time.time() * 1000
                self.sent["pin"] += 1
                status = await connection.exchange(request)
                if status != 200:
                    raise RuntimeError(f"pin answered {status}")
            await asyncio.sleep(0.01)
        connection.close()


async def _drive(
    args: argparse.Namespace,
    port: int,
    session_id: str,
    products: list[str],
    server_pid: int,
    redis_pid: int,
) -> dict[str, Any]:
    load = Load(args, port, session_id, products)
    rss_before = _rss_bytes(server_pid)
    started = time.monotonic()
    await load.join_all()
    connect_s = time.monotonic() - started
    await asyncio.sleep(2)  # joins settle: snapshots written, writers idle
    rss_after = _rss_bytes(server_pid)
    stop = asyncio.Event()
    traffic = [
        asyncio.create_task(load.comment(stop)),
        asyncio.create_task(load.buy(stop)),
        asyncio.create_task(load.pin(stop)),
    ]
    await asyncio.sleep(args.warmup)
    cpu_before, redis_before = _cpu_s(server_pid), _cpu_s(redis_pid)
    own_before = time.process_time()
    sent_before = dict(load.sent)
    t0 = time.monotonic()
    load.stats.counting = load.counting = True
    await asyncio.sleep(args.duration)
    load.stats.counting = load.counting = False
    window = time.monotonic() - t0
    cpu = _cpu_s(server_pid) - cpu_before
    redis_cpu = _cpu_s(redis_pid) - redis_before
    own_cpu = time.process_time() - own_before
    sent = {k: load.sent[k] - sent_before[k] for k in sent_before}
    stop.set()
    await asyncio.gather(*traffic)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        metrics = (await client.get("/metrics")).text
    for viewer in load.viewers:
        if viewer.transport is not None:
            viewer.transport.abort()
    seen = load.seen
    return {
        "viewers": args.viewers,
        "connect_s": round(connect_s, 1),
        "joins_per_s": round(args.viewers / connect_s),
        "window_s": round(window, 2),
        "sent": sent,
        "deliveries": load.stats.frames,
        "deliveries_per_s": round(load.stats.frames / window),
        "server_cpu_s": round(cpu, 2),
        "server_cpu_us_per_delivery": round(cpu / max(1, load.stats.frames) * 1e6, 2),
        "server_cpu_share": round(cpu / window, 2),
        "redis_cpu_share": round(redis_cpu / window, 2),
        "loadgen_cpu_share": round(own_cpu / window, 2),
        "rss_mib_before_joins": round(rss_before / 2**20, 1),
        "rss_mib_after_joins": round(rss_after / 2**20, 1),
        "kib_per_idle_viewer": round((rss_after - rss_before) / args.viewers / 1024, 1),
        "pin_p50_ms": _percentile(seen.pin_ms, 0.5),
        "pin_p99_ms": _percentile(seen.pin_ms, 0.99),
        "comment_p50_ms": _percentile(seen.comment_ms, 0.5),
        "comment_p99_ms": _percentile(seen.comment_ms, 0.99),
        "purchase_p50_ms": _percentile(seen.purchase_ms, 0.5),
        "purchase_p99_ms": _percentile(seen.purchase_ms, 0.99),
        "samples": {
            "pin": len(seen.pin_ms),
            "comment": len(seen.comment_ms),
            "purchase": len(seen.purchase_ms),
        },
        "order_p50_ms": _percentile(load.order_ms, 0.5),
        "order_p99_ms": _percentile(load.order_ms, 0.99),
        "order_statuses": load.order_status,
        "comments_accepted_per_s": round(seen.comments_accepted / window),
        "guides": args.guides,
        "workspace_frames": seen.workspace_frames,
        "error_frames_seen": seen.errors,
        "closed_during_run": load.stats.closed,
        "frames_dropped_total": _metric(metrics, "live_frames_dropped_total"),
        "frames_queued_total": _metric(metrics, "live_frames_queued_total"),
        "slow_closes_total": _metric(metrics, "live_slow_viewers_closed_total"),
        # How late the room ticks ran: a late tick is an event loop that was busy or blocked.
        "tick_lag_buckets": {
            line.split('le="')[1].split('"')[0]: int(float(line.split()[1]))
            for line in metrics.splitlines()
            if line.startswith("live_tick_lag_seconds_bucket")
        },
        "load_before": args.load_before,
    }


def _setup(port: int) -> tuple[str, list[str]]:
    base = f"http://127.0.0.1:{port}"
    live_node.wait_healthy([port])
    host = tokens.mint(SECRET, sub="host", role="host", brand=BRAND)
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {host}"}) as client:
        session_id: str = client.post("/api/sessions", json={"title": "room load"}).json()["id"]
        products = []
        for n in range(PRODUCTS):
            added = client.post(
                f"/api/sessions/{session_id}/products",
                json={
                    "sku": f"SKU-{n}",
                    "title": f"Product {n}",
                    "price_cents": 9_900,
                    "stock": 10_000_000,
                    "limit_per_viewer": None,
                },
            )
            added.raise_for_status()
            products.append(added.json()["product_id"])
        client.post(f"/api/sessions/{session_id}/start").raise_for_status()
    return session_id, products


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Start Valkey and the server, drive the room, stop everything, return the figures."""
    if args.comments_per_s > args.viewers - args.guides:
        raise SystemExit(
            "--comments-per-s: each commenter sends one a second; need that many viewers"
        )
    data = Path(tempfile.mkdtemp(prefix="bench-room-load-"))
    valkey = EmbeddedValkey(data / "valkey", persistent=False)
    server: subprocess.Popen[bytes] | None = None
    scratch: str | None = None
    args.load_before = round(os.getloadavg()[0], 2)
    try:
        valkey.start()
        port = free_port()
        env = live_node.node_env(data, valkey.url, live_node.server_env_options(args.server_env))
        if args.postgres:
            # The record on PostgreSQL, as in production: a scratch database, dropped after.
            scratch, database_url = asyncio.run(live_node.create_scratch_database(args.postgres))
            env["LIVE_DATABASE_URL"] = database_url
            live_node.upgrade(env, database_url)
        with (data / "server.log").open("wb") as log:
            server = subprocess.Popen(  # noqa: S603 - fixed command
                live_node.pinned(0, live_node.serve_command(port)),
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        session_id, products = _setup(port)
        if shutil.which("taskset"):
            # The load generator and Valkey share core 1; the server's core is its own.
            os.sched_setaffinity(0, {1})
            live_node.pin_pid(1, valkey.pid or 0)
        budget = 120 + args.viewers / 20 + args.warmup + args.duration
        return asyncio.run(
            asyncio.wait_for(
                _drive(args, port, session_id, products, server.pid, valkey.pid or 0), budget
            )
        )
    finally:
        if server is not None:
            live_node.stop([server])
        valkey.stop()
        if scratch is not None:
            asyncio.run(live_node.drop_scratch_database(args.postgres, scratch))
        if args.server_log is not None:
            shutil.copyfile(data / "server.log", args.server_log)
        shutil.rmtree(data, ignore_errors=True)


def main() -> None:
    """Parse arguments, run once, print the figures as a table row and as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=50, help="viewers that decode every frame")
    parser.add_argument("--comments-per-s", type=int, default=1_000)
    parser.add_argument("--purchases-per-s", type=float, default=100)
    parser.add_argument("--pins-per-s", type=float, default=1)
    parser.add_argument(
        "--guides",
        type=int,
        default=0,
        help="sockets of guides among the viewers' (their workspaces); the others bound to them",
    )
    parser.add_argument("--duration", type=float, default=20, help="measured window, seconds")
    parser.add_argument("--warmup", type=float, default=5)
    parser.add_argument("--json-out", type=Path)
    parser.add_argument("--server-log", type=Path, help="keep the server's log here")
    parser.add_argument(
        "--postgres",
        metavar="DSN",
        help="keep the record on this PostgreSQL server (a scratch database, dropped after) "
        "instead of the embedded SQLite, e.g. postgresql://postgres@127.0.0.1:5432/test",
    )
    parser.add_argument(
        "--server-env",
        action="append",
        default=[],
        metavar="LIVE_NAME=value",
        help="a setting for the server (repeatable), e.g. LIVE_GC_SWEEP_S=20",
    )
    args = parser.parse_args()
    figures = run(args)
    print(json.dumps(figures, indent=2))
    if args.json_out:
        args.json_out.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
