"""Join-storm benchmark: a session's start, a node's restart and its end, with the host's
latency taken during each burst.

One run, against `live serve` on one core (``taskset -c 0``) with the client processes on the
other (``--clients`` processes of `loadtests/storm_viewers.py`, each a share of the viewers):

1. **cost**: the viewers open the room socket all at once, nobody else talks to the node:
   joins per second and server CPU per join (utime + stime of the node over the storm, from
   ``/proc``, divided by the joins); then they all disconnect.
2. **storm**: the same viewers open the room again as fast as they can while the host pins a
   product every ``--pin-every-s`` from the first join: the latency of every ``POST .../pin``
   during the storm (p50 / p99 / max), then ``--after-s`` more seconds of pins and their
   delivery delay to every viewer (receive time - the frame's ``ts``).
3. **reconnect**: the node the viewers are on is killed (``SIGKILL``, or ``--restart term``:
   SIGTERM, it drains and tells its viewers to reconnect with 4101); the viewers come back
   with ``since`` and ``epoch`` after the SDK's back-off with full jitter, to the restarted node
   (``--database sqlite``, one node on embedded defaults) or to the surviving second node
   (``--database postgres``: two nodes over PostgreSQL and one private Valkey, the host on the
   second); the host keeps pinning: when everyone is back, the host's latency meanwhile.
4. **exodus**: the host ends the session; every viewer gets ``ended`` and its socket closes;
   a probe reads the session from the node every 50 ms meanwhile (the longest wait is the
   figure). Then every viewer's durable events are audited: none missing between its first
   snapshot and the ``ended`` event, reconnects included (a viewer back from further behind
   than the backlog allows, ``LIVE_BACKLOG_SOFT_FRAMES``, gets a snapshot again, which covers
   the events up to it: counted as ``resynced``).

Loopback only, bounded in count and time; every process started here is stopped here.

    python -m loadtests.join_storm --viewers 10000 --database sqlite
    python -m loadtests.join_storm --viewers 10000 --database postgres
"""

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx

from live.auth import tokens
from live.platform.embedded_valkey import EmbeddedValkey
from loadtests import live_node
from loadtests.live_node import SECRET, pinned
from loadtests.ports import free_ports
from loadtests.server_processes import cpu_s

HERE = Path(__file__).resolve().parent
BRAND = "storm"
SERVER_CORE, CLIENT_CORE = 0, 1
CLIENT_NICENESS = 10
#: Products the host pins in turn.
PIN_PRODUCTS = 3


def _percentiles(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)

    return {"p50": at(0.5), "p99": at(0.99), "max": round(ordered[-1], 1), "n": len(values)}


def _merge(answers: list[dict[str, Any]], key: str) -> dict[str, float] | None:
    """Worst-case merge of the clients' percentile dicts (each client's share is equal)."""
    parts = [a[key] for a in answers if a.get(key)]
    if not parts:
        return None
    return {q: max(p[q] for p in parts) for q in ("p50", "p99", "max")}


class Clients:
    """The client processes, talked to over their stdin/stdout."""

    def __init__(self, processes: list[asyncio.subprocess.Process]) -> None:
        self.processes = processes

    async def ask(self, command: dict[str, Any]) -> list[dict[str, Any]]:
        """Send ``command`` to every client at once; their answers, in order."""
        line = (json.dumps(command) + "\n").encode()
        for process in self.processes:
            assert process.stdin is not None
            process.stdin.write(line)
        await asyncio.gather(*(p.stdin.drain() for p in self.processes if p.stdin))
        return list(await asyncio.gather(*(self._answer(p) for p in self.processes)))

    @staticmethod
    async def _answer(process: asyncio.subprocess.Process) -> dict[str, Any]:
        assert process.stdout is not None
        line = await process.stdout.readline()
        if not line:
            raise RuntimeError("a client process died (see its stderr)")
        answer: dict[str, Any] = json.loads(line)
        return answer


@contextlib.asynccontextmanager
async def clients(
    count: int, port: int, paths: list[str], work: Path, in_flight: int, target: str = "live"
) -> AsyncIterator[Clients]:
    """``count`` client processes on the client core, the paths dealt out between them."""
    processes = []
    try:
        for n in range(count):
            share = work / f"paths-{n}.txt"
            share.write_text("\n".join(paths[n::count]))
            # Niced: on the shared client core the host's requests and the probe (this process)
            # go first, so their latency is the server's, not the load generator's.
            command = pinned(
                CLIENT_CORE,
                ["nice", "-n", str(CLIENT_NICENESS), sys.executable, "-m",
                 "loadtests.storm_viewers", "--port", str(port), "--paths", str(share),
                 "--in-flight", str(in_flight), *(["--sio"] if target == "node" else [])],
            )  # fmt: skip
            processes.append(
                await asyncio.create_subprocess_exec(
                    *command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, limit=2**24
                )
            )
        for process in processes:
            await Clients._answer(process)  # {"ready": n}
        yield Clients(processes)
    finally:
        for process in processes:
            if process.stdin is not None:
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    process.stdin.write(b'{"cmd": "quit"}\n')
        for process in processes:
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()


class Host:
    """The host's panel: pins on a schedule, each request timed."""

    def __init__(self, base_url: str, session_id: str, products: list[str]) -> None:
        token = tokens.mint(SECRET, sub="host", role="host", brand=BRAND)
        self.http = httpx.AsyncClient(
            base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60
        )
        self.session_id = session_id
        self.products = products
        self.pins_ms: list[float] = []
        self.failed = 0

    async def pin_every(self, every_s: float, stop: asyncio.Event) -> list[float]:
        """Pin every ``every_s`` until ``stop``; the latency of each pin of this call, in ms."""
        timings: list[float] = []
        n = 0
        due = time.monotonic()
        while not stop.is_set():
            started = time.perf_counter()
            try:
                answer = await self.http.post(
                    f"/api/sessions/{self.session_id}/pin",
                    json={"product_id": self.products[n % len(self.products)]},
                )
            except httpx.TransportError:
                self.failed += 1  # the node is down (killed, restarting): nothing to time
            else:
                self.failed += answer.status_code != 200
                timings.append((time.perf_counter() - started) * 1000)
            n += 1
            due += every_s
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(0.0, due - time.monotonic()))
        self.pins_ms += timings
        return timings

    async def close(self) -> None:
        """Close the client."""
        await self.http.aclose()


async def _probe(
    base_url: str, path: str, headers: dict[str, str], stop: asyncio.Event
) -> list[float]:
    """Read ``path`` every 50 ms until ``stop``; each answer's latency in ms."""
    timings = []
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as http:
        while not stop.is_set():
            started = time.perf_counter()
            await http.get(path)
            timings.append((time.perf_counter() - started) * 1000)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.05)
    return timings


class Node:
    """One server process on the server core: `live serve`, or a peer."""

    def __init__(
        self, port: int, env: dict[str, str], log: Path, command: list[str] | None = None
    ) -> None:
        self.port = port
        self.env = env
        self.log = log
        self.command = command or live_node.serve_command(port)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start it and wait until it answers; its embedded Valkey (if any) moves to the
        client core, so the server core runs the node alone."""
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - fixed command
                pinned(SERVER_CORE, self.command),
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        live_node.wait_healthy([self.port])
        for child in _children(self.process.pid, "valkey-server"):
            live_node.pin_pid(CLIENT_CORE, child)

    @property
    def pid(self) -> int:
        """The node's process id."""
        assert self.process is not None
        return self.process.pid

    def kill(self, how: str) -> None:
        """``kill``: SIGKILL, as a crashed or evicted node goes; ``term``: SIGTERM, the node
        drains (its viewers are told to reconnect, 4101) and exits."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL if how == "kill" else signal.SIGTERM)
        self.process.wait()

    def stop(self) -> None:
        """SIGTERM, and wait."""
        if self.process is not None and self.process.poll() is None:
            live_node.stop([self.process])


def _children(pid: int, name: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                status = (entry / "status").read_text()
                if f"\nPPid:\t{pid}\n" in status and (entry / "comm").read_text().strip() == name:
                    found.append(int(entry.name))
    return found


async def _session(node: Node, products: int) -> tuple[str, list[str]]:
    token = tokens.mint(SECRET, sub="host", role="host", brand=BRAND)
    async with httpx.AsyncClient(
        base_url=node.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as http:
        session_id = (await http.post("/api/sessions", json={"title": "Storm"})).json()["id"]
        ids = []
        for n in range(products):
            body = {"sku": f"SKU-{n}", "title": f"Product {n}", "price_cents": 9_900 + n,
                    "stock": 100_000, "limit_per_viewer": 5}  # fmt: skip
            answer = await http.post(f"/api/sessions/{session_id}/products", json=body)
            ids.append(answer.json()["product_id"])
        await http.post(f"/api/sessions/{session_id}/start")
    return session_id, ids


def _paths(session_id: str, viewers: int) -> list[str]:
    return [
        f"/ws/sessions/{session_id}?token="
        + tokens.mint(SECRET, sub=f"v{n}", role="viewer", brand=BRAND, ttl_s=3600)
        for n in range(viewers)
    ]


async def _join(group: Clients, node: Node) -> dict[str, Any]:
    cpu_before = cpu_s(node.pid)
    started = time.monotonic()
    answers = await group.ask({"cmd": "join"})
    elapsed = time.monotonic() - started
    cpu = cpu_s(node.pid) - cpu_before
    joined = sum(a["joined"] for a in answers)
    failed: dict[str, int] = {}
    for answer in answers:
        for reason, count in answer["failed"].items():
            failed[reason] = failed.get(reason, 0) + count
    return {
        "joined": joined,
        "failed": failed,
        "seconds": round(elapsed, 2),
        "joins_per_s": round(joined / elapsed, 1) if elapsed else None,
        "server_cpu_s": round(cpu, 2),
        "server_cpu_ms_per_join": round(cpu * 1000 / joined, 3) if joined else None,
        "join_s": _merge(answers, "join_s"),
    }


async def _cost(
    args: argparse.Namespace, node: Node, paths: list[str], work: Path
) -> dict[str, Any]:
    async with clients(args.clients, node.port, paths, work, args.in_flight, args.target) as group:
        return await _join(group, node)


async def _storm_and_after(
    args: argparse.Namespace, group: Clients, node: Node, host: Host
) -> dict[str, Any]:
    stop = asyncio.Event()
    pinning = asyncio.create_task(host.pin_every(args.pin_every_s, stop))
    joined = await _join(group, node)
    stop.set()
    during = await pinning
    after_from_ms = time.time() * 1000
    stop = asyncio.Event()
    pinning = asyncio.create_task(host.pin_every(args.pin_every_s, stop))
    await asyncio.sleep(args.after_s)
    stop.set()
    after = await pinning
    await asyncio.sleep(1)  # the last pin's frames reach the viewers
    delivered = await group.ask({"cmd": "pins", "since_ms": after_from_ms})
    return {
        **joined,
        "host_pin_ms_during": _percentiles(during),
        "host_pin_ms_after": _percentiles(after),
        "pin_delivery_ms_after": _merge(delivered, "delays_ms"),
        "pin_deliveries_after": sum(d["count"] for d in delivered),
    }


async def _reconnect(
    args: argparse.Namespace, group: Clients, victim: Node, survivors: list[Node], host: Host
) -> dict[str, Any]:
    await group.ask({"cmd": "follow", "ports": [n.port for n in survivors]})
    stop = asyncio.Event()
    pinning = asyncio.create_task(host.pin_every(args.pin_every_s, stop))
    started = time.monotonic()
    await asyncio.to_thread(victim.kill, args.restart)
    if victim in survivors:
        await asyncio.to_thread(victim.start)  # a restart on the same data: embedded defaults
    settled = await group.ask({"cmd": "settle", "timeout_s": args.settle_s})
    back_s = time.monotonic() - started
    stop.set()
    during = await pinning
    await group.ask({"cmd": "follow", "ports": None})
    return {
        "back": sum(s["connected"] for s in settled),
        "all_back_s": round(back_s, 2),
        "reconnect_attempts": sum(s["reconnects"] for s in settled),
        # From a viewer's socket lost to its socket back, over every reconnect.
        "outage_s": _percentiles([o for s in settled for o in s["outages_s"]]),
        "busy_refusals": sum(len(s["hints_ms"]) for s in settled),
        "busy_hint_ms": _percentiles([h for s in settled for h in s["hints_ms"]]),
        "host_pin_ms_during": _percentiles(during),
    }


async def _exodus(group: Clients, node: Node, host: Host, settle_s: float) -> dict[str, Any]:
    stop = asyncio.Event()
    token = tokens.mint(SECRET, sub="host", role="host", brand=BRAND)
    probing = asyncio.create_task(
        _probe(
            node.base_url,
            f"/api/sessions/{host.session_id}",
            {"Authorization": f"Bearer {token}"},
            stop,
        )
    )
    await asyncio.sleep(0.3)
    started, sent = time.perf_counter(), time.time()
    ended = await host.http.post(f"/api/sessions/{host.session_id}/end")
    end_ms = (time.perf_counter() - started) * 1000
    closed = await group.ask({"cmd": "closed", "timeout_s": settle_s, "since": sent})
    await asyncio.sleep(1)  # what the node does right after: the collector, the rooms closing
    stop.set()
    probes = await probing
    return {
        "end_status": ended.status_code,
        "end_ms": round(end_ms, 1),
        "closed": sum(c["closed"] for c in closed),
        "close_s": _merge(closed, "close_s"),
        "probe_ms": _percentiles(probes),
    }


@contextlib.contextmanager
def _engines(args: argparse.Namespace, work: Path) -> Iterator[dict[str, str]]:
    """The environment of the nodes: embedded defaults, or PostgreSQL + a private Valkey."""
    base = live_node.node_env(work / "node-0", "", live_node.server_env_options(args.server_env))
    base.setdefault("LIVE_LOG_FORMAT", "text")
    base.pop("LIVE_REDIS_URL")
    if args.database == "sqlite":
        yield base
        return
    valkey = EmbeddedValkey(work / "valkey", persistent=False)
    valkey.start()
    assert valkey.pid is not None
    live_node.pin_pid(CLIENT_CORE, valkey.pid)
    try:
        with _postgres(args.postgres_dsn) as database_url:
            env = base | {"LIVE_REDIS_URL": valkey.url, "LIVE_DATABASE_URL": database_url}
            live_node.upgrade(env, database_url)
            yield env
    finally:
        valkey.stop()


@contextlib.contextmanager
def _postgres(dsn: str) -> Iterator[str]:
    name, url = asyncio.run(live_node.create_scratch_database(dsn))
    try:
        yield url
    finally:
        asyncio.run(live_node.drop_scratch_database(dsn, name))


def _peer_command(target: str, port: int) -> list[str]:
    if target == "starlette":
        return [sys.executable, str(HERE / "peers" / "join_peer.py"), f"--port={port}"]
    return ["node", str(HERE / "peers" / "join_peer.js"), str(port)]


async def run(args: argparse.Namespace, env: dict[str, str], work: Path) -> dict[str, Any]:
    """The phases against fresh nodes; the figures as one dict."""
    if args.target != "live":
        return await _run_peer(args, env, work)
    count = 1 if args.database == "sqlite" else 2
    ports = free_ports(count)
    nodes = [
        Node(port, env | {"LIVE_DATA_DIR": str(work / f"node-{n}")}, work / f"node-{n}.log")
        for n, port in enumerate(ports)
    ]
    for node in nodes:
        node.start()
    viewers_node, host_node = nodes[0], nodes[-1]
    try:
        session_id, products = await _session(host_node, PIN_PRODUCTS)
        paths = _paths(session_id, args.viewers)
        figures: dict[str, Any] = {}
        if "cost" in args.phases:
            figures["cost"] = await _cost(args, viewers_node, paths, work)
            await asyncio.sleep(args.pause_s)
        host = Host(host_node.base_url, session_id, products)
        try:
            async with clients(
                args.clients, viewers_node.port, paths, work, args.in_flight
            ) as group:
                figures["storm"] = await _storm_and_after(args, group, viewers_node, host)
                exodus_node = viewers_node
                if "reconnect" in args.phases:
                    survivors = [nodes[1]] if count == 2 else [viewers_node]
                    figures["reconnect"] = await _reconnect(
                        args, group, viewers_node, survivors, host
                    )
                    exodus_node = survivors[0]
                figures["exodus"] = await _exodus(group, exodus_node, host, args.settle_s)
                final = max(a["last_seq"] for a in await group.ask({"cmd": "last_seq"}))
                audits = await group.ask({"cmd": "audit", "final_seq": final})
                figures["audit"] = {
                    "final_seq": final,
                    "missing": sum(a["missing"] for a in audits),
                    "viewers_missing": sum(a["viewers_missing"] for a in audits),
                    "resynced": sum(a.get("resynced", 0) for a in audits),
                }
            figures["host_failed_requests"] = host.failed
        finally:
            await host.close()
    finally:
        for node in nodes:
            node.stop()
    return figures


async def _run_peer(args: argparse.Namespace, env: dict[str, str], work: Path) -> dict[str, Any]:
    """The join storm, the host's pins and the exodus against a peer (it keeps no history, so
    there is no reconnect with ``since`` to audit)."""
    (port,) = free_ports(1)
    node_modules = HERE / ".peers" / "node" / "node_modules"
    node = Node(
        port,
        env | {"NODE_PATH": str(node_modules)},
        work / "peer.log",
        _peer_command(args.target, port),
    )
    node.start()
    path = "/socket.io/?EIO=4&transport=websocket" if args.target == "node" else "/ws/sessions/peer"
    paths = [path] * args.viewers
    figures: dict[str, Any] = {}
    try:
        if "cost" in args.phases:
            figures["cost"] = await _cost(args, node, paths, work)
            await asyncio.sleep(args.pause_s)
        host = Host(node.base_url, "peer", [f"p{n}" for n in range(PIN_PRODUCTS)])
        try:
            async with clients(
                args.clients, port, paths, work, args.in_flight, args.target
            ) as group:
                figures["storm"] = await _storm_and_after(args, group, node, host)
                figures["exodus"] = await _exodus(group, node, host, args.settle_s)
        finally:
            await host.close()
    finally:
        node.stop()
    return figures


def main() -> None:
    """Parse the arguments, run once, print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, default=2000)
    parser.add_argument("--target", choices=("live", "starlette", "node"), default="live")
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--postgres-dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--in-flight", type=int, default=256, help="handshakes per client")
    parser.add_argument("--pin-every-s", type=float, default=0.5)
    parser.add_argument("--after-s", type=float, default=5)
    parser.add_argument("--pause-s", type=float, default=5, help="quiet between phases")
    parser.add_argument("--settle-s", type=float, default=60)
    parser.add_argument(
        "--restart", choices=("kill", "term"), default="kill", help="how the node goes down"
    )
    parser.add_argument(
        "--phases",
        type=lambda raw: set(raw.split(",")),
        default={"cost", "storm", "reconnect", "exodus"},
        help="cost,storm,reconnect,exodus (the storm and the exodus always run)",
    )
    parser.add_argument(
        "--server-env", action="append", default=[], help="LIVE_NAME=value for the nodes"
    )
    parser.add_argument("--keep-logs", type=Path, help="copy the nodes' logs into this folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="join-storm-") as tmp:
        work = Path(tmp)
        try:
            with _engines(args, work) as env:
                figures = asyncio.run(run(args, env, work))
        finally:
            if args.keep_logs is not None:
                args.keep_logs.mkdir(parents=True, exist_ok=True)
                for log in work.glob("*.log"):
                    shutil.copy(log, args.keep_logs / log.name)
    setup = {"target": args.target, "viewers": args.viewers, "database": args.database}
    print(json.dumps({**setup, **figures}, indent=1))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
