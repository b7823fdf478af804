"""Webhook deliveries: how many events a node delivers a second, and its CPU per delivery.

A `live serve` on embedded defaults (SQLite, private Valkey), ``--brands`` brands each with an
endpoint on a receiver in this process (answering 200 at once); the endpoints are paused while
``--events`` events are written to the node's outbox and fanned out, then resumed together;
reported: events delivered per second until the receiver has every one, and the server
process's CPU per delivery. Loopback only. What the outbox adds to an order is measured with
`loadtests.order_record` on this tree and on the tree before webhooks (docs/benchmarks.md).

    python -m loadtests.webhooks --events 4000 --brands 8
"""

import argparse
import asyncio
import os
import subprocess
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import uvloop
from aiohttp import web

from live.auth import tokens
from live.db.engine import create_engine, session_factory
from live.db.unit import transaction
from live.webhooks import outbox
from loadtests import live_node
from loadtests.ports import free_port


class Receiver:
    """An endpoint answering 200 at once, counting distinct webhook ids."""

    def __init__(self) -> None:
        self.ids: set[str] = set()
        self.requests = 0
        self.done = asyncio.Event()
        self.wanted = 0

    async def handle(self, request: web.Request) -> web.Response:
        await request.read()
        self.requests += 1
        self.ids.add(request.headers["webhook-id"])
        if len(self.ids) >= self.wanted:
            self.done.set()
        return web.Response(text="ok")


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _until(check: Callable[[], Awaitable[bool]], timeout_s: float) -> None:
    async with asyncio.timeout(timeout_s):
        while not await check():  # noqa: ASYNC110 - polling the node's /metrics
            await asyncio.sleep(0.1)


async def deliver(args: argparse.Namespace) -> None:
    receiver = Receiver()
    receiver.wanted = args.events
    app = web.Application()
    app.router.add_post("/hooks/{brand}", receiver.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    hook_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    port = free_port()
    with tempfile.TemporaryDirectory() as scratch:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LIVE_")}
        env |= {
            "LIVE_DATA_DIR": scratch,
            "LIVE_SECRET": live_node.SECRET,
            "LIVE_PAYMENT_SECRET": live_node.SECRET,
            "LIVE_ACCESS_LOG": "false",
            "LIVE_WRITE_RATE_PER_S": "1000000",
            "LIVE_WRITE_BURST": "1000000",
        }
        node = subprocess.Popen(live_node.serve_command(port), env=env)  # noqa: S603, ASYNC220
        print(f"node pid {node.pid}", flush=True)
        try:
            await asyncio.to_thread(live_node.wait_healthy, [port])
            database_url = f"sqlite+aiosqlite:///{Path(scratch) / 'live.db'}"
            await _run_delivery(args, receiver, port, hook_port, node.pid, database_url)
        finally:
            live_node.stop([node])
    await runner.cleanup()


async def _write_events(database_url: str, brands: list[str], per_brand: int) -> None:
    """``per_brand`` session.scheduled events of each brand, written to the node's outbox as
    the app writes them (the node fans them out to the paused endpoints)."""
    engine = create_engine(database_url)
    now = int(time.time() * 1000)
    try:
        db = session_factory(engine)
        for brand in brands:
            for start in range(0, per_brand, 500):
                async with transaction(db) as unit:
                    for n in range(start, min(per_brand, start + 500)):
                        data = {"session_id": f"ses_{brand}_{n}", "title": "t", "status": "draft"}
                        await outbox.add(unit, brand, "session.scheduled", data, now_ms=now + n)
    finally:
        await engine.dispose()


async def _run_delivery(
    args: argparse.Namespace,
    receiver: Receiver,
    port: int,
    hook_port: int,
    pid: int,
    database_url: str,
) -> None:
    brands = [f"bench-{uuid.uuid4().hex[:6]}" for _ in range(args.brands)]
    base = f"http://127.0.0.1:{port}"
    endpoints: dict[str, str] = {}
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        for brand in brands:
            admin = tokens.mint(live_node.SECRET, sub="a", role="admin", brand=brand)
            made = await client.post(
                "/api/webhooks/endpoints",
                json={
                    "url": f"http://127.0.0.1:{hook_port}/hooks/{brand}",
                    "event_types": ["session.scheduled"],
                },
                headers={"Authorization": f"Bearer {admin}"},
            )
            made.raise_for_status()
            endpoints[brand] = made.json()["endpoint_id"]
            paused = await client.patch(
                f"/api/webhooks/endpoints/{endpoints[brand]}",
                json={"active": False},
                headers={"Authorization": f"Bearer {admin}"},
            )
            paused.raise_for_status()
        per_brand = args.events // args.brands
        await _write_events(database_url, brands, per_brand)

        async def fanned() -> bool:
            text = (await client.get("/metrics")).text
            line = next(x for x in text.splitlines() if x.startswith("live_webhook_backlog "))
            return float(line.split()[1]) >= per_brand * args.brands

        await _until(fanned, 120)
        receiver.wanted = per_brand * args.brands
        print("delivering", flush=True)
        cpu, started = _cpu_s(pid), time.perf_counter()
        for brand in brands:
            admin = tokens.mint(live_node.SECRET, sub="a", role="admin", brand=brand)
            resumed = await client.patch(
                f"/api/webhooks/endpoints/{endpoints[brand]}",
                json={"active": True},
                headers={"Authorization": f"Bearer {admin}"},
            )
            resumed.raise_for_status()
        await asyncio.wait_for(receiver.done.wait(), 600)
        wall, cpu = time.perf_counter() - started, _cpu_s(pid) - cpu
    count = len(receiver.ids)
    print("| events | brands | wall | delivered/s | server CPU per delivery | requests |")
    print("|---|---|---|---|---|---|")
    print(
        f"| {count} | {args.brands} | {wall:.1f} s | {count / wall:,.0f} | "
        f"{cpu / count * 1e6:,.0f} us | {receiver.requests} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=4_000)
    parser.add_argument("--brands", type=int, default=8)
    args = parser.parse_args()
    uvloop.run(deliver(args))


if __name__ == "__main__":
    main()
