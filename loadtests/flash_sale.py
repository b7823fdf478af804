"""Flash-sale admission: this server against a naive row-lock design, in the same run.

Starts ``live serve`` as a child process in embedded mode (SQLite and a private Valkey under a
temporary data directory, loopback only) and sends ``--attempts`` buy attempts, each from its
own viewer with its own ``Idempotency-Key``, for ``--units`` units (limit 1 per viewer),
``--concurrency`` at a time. Then runs the naive design against PostgreSQL: per attempt one
transaction ``SELECT stock ... FOR UPDATE``, decrement, insert the order, commit, in a table
this program creates and drops. Reports, for each design, attempts admitted (answered) per
second, p50/p99 admission latency (request sent -> answer), units sold and oversold.

    .venv/bin/python -m loadtests.flash_sale --attempts 10000 --units 500 --concurrency 200
"""

import argparse
import asyncio
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import asyncpg

from live import auth

SECRET = secrets.token_urlsafe(32)
PAYMENT_SECRET = secrets.token_urlsafe(32)
BRAND = "bench"


@dataclass
class Result:
    """One design's figures."""

    name: str
    elapsed_s: float
    latencies_s: list[float]
    sold: int
    units: int

    def row(self) -> str:
        """A markdown table row."""
        ordered = sorted(self.latencies_s)
        p50 = statistics.median(ordered) * 1000
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
        rate = len(ordered) / self.elapsed_s
        oversold = max(0, self.sold - self.units)
        return (
            f"| {self.name} | {rate:,.0f} | {p50:.1f} ms | {p99:.1f} ms | {self.sold} | "
            f"{oversold} |"
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _wait_healthy(session: aiohttp.ClientSession, deadline_s: float = 30) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            async with session.get("/healthz") as answer:
                if answer.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.2)
    raise RuntimeError("server did not become healthy")


async def _open_sale(session: aiohttp.ClientSession, units: int) -> tuple[str, str]:
    host = {"Authorization": f"Bearer {auth.mint(SECRET, sub='h', role='host', brand=BRAND)}"}
    async with session.post("/api/sessions", json={"title": "bench"}, headers=host) as answer:
        session_id = str((await answer.json())["id"])
    body = {"sku": "B", "title": "b", "price_cents": 100, "stock": units, "limit_per_viewer": 1}
    async with session.post(
        f"/api/sessions/{session_id}/products", json=body, headers=host
    ) as answer:
        product_id = str((await answer.json())["product_id"])
    async with session.post(f"/api/sessions/{session_id}/start", headers=host) as answer:
        assert answer.status == 200
    return session_id, product_id


async def bench_server(attempts: int, units: int, concurrency: int) -> Result:
    """This server: Redis Lua reserve, then the conditional write in the record."""
    port = _free_port()
    live = Path(sys.executable).parent / "live"
    with tempfile.TemporaryDirectory() as data_dir:
        env = {
            **os.environ,
            "LIVE_DATA_DIR": data_dir,
            "LIVE_SECRET": SECRET,
            "LIVE_PAYMENT_SECRET": PAYMENT_SECRET,
        }
        for name in ("LIVE_DATABASE_URL", "LIVE_REDIS_URL", "LIVE_ARCHIVE_URL"):
            env.pop(name, None)
        server = subprocess.Popen(  # noqa: S603, ASYNC220 - our console script, started once
            [str(live), "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            connector = aiohttp.TCPConnector(limit=concurrency)
            async with aiohttp.ClientSession(
                base_url=f"http://127.0.0.1:{port}", connector=connector
            ) as session:
                await _wait_healthy(session)
                session_id, product_id = await _open_sale(session, units)
                tokens = [
                    auth.mint(SECRET, sub=f"v{n}", role="viewer", brand=BRAND)
                    for n in range(attempts)
                ]
                gate = asyncio.Semaphore(concurrency)
                latencies: list[float] = []
                sold = 0

                async def buy(n: int) -> None:
                    nonlocal sold
                    async with gate:
                        sent = time.perf_counter()
                        async with session.post(
                            f"/api/sessions/{session_id}/orders",
                            json={"product_id": product_id, "qty": 1},
                            headers={
                                "Authorization": f"Bearer {tokens[n]}",
                                "Idempotency-Key": f"k{n}",
                            },
                        ) as answer:
                            await answer.read()
                            latencies.append(time.perf_counter() - sent)
                            sold += answer.status == 201

                started = time.perf_counter()
                await asyncio.gather(*(buy(n) for n in range(attempts)))
                elapsed = time.perf_counter() - started
        finally:
            server.terminate()
            server.wait(timeout=20)
    return Result(
        "this server (Redis Lua reserve + conditional SQL write)", elapsed, latencies, sold, units
    )


async def bench_row_lock(dsn: str, attempts: int, units: int, concurrency: int) -> Result:
    """The naive design: one PostgreSQL transaction with a row lock per purchase."""
    # The table name is ours (a random suffix), never input: formatting it in is safe.
    table = f"flash_bench_{uuid.uuid4().hex[:8]}"
    create_stock = f"CREATE TABLE {table}_stock (id int PRIMARY KEY, stock int)"
    create_orders = f"CREATE TABLE {table}_orders (viewer text PRIMARY KEY)"
    fill = f"INSERT INTO {table}_stock VALUES (1, $1)"  # noqa: S608
    lock = f"SELECT stock FROM {table}_stock WHERE id = 1 FOR UPDATE"  # noqa: S608
    take = f"UPDATE {table}_stock SET stock = stock - 1 WHERE id = 1"  # noqa: S608
    record = f"INSERT INTO {table}_orders VALUES ($1)"  # noqa: S608
    count = f"SELECT count(*) FROM {table}_orders"  # noqa: S608
    drop = f"DROP TABLE IF EXISTS {table}_stock, {table}_orders"
    pool = await asyncpg.create_pool(dsn, min_size=20, max_size=20)
    assert pool is not None
    try:
        async with pool.acquire() as conn:
            await conn.execute(create_stock)
            await conn.execute(create_orders)
            await conn.execute(fill, units)
        gate = asyncio.Semaphore(concurrency)
        latencies: list[float] = []

        async def buy(n: int) -> None:
            async with gate:
                sent = time.perf_counter()
                async with pool.acquire() as conn, conn.transaction():
                    stock = await conn.fetchval(lock)
                    if stock > 0:
                        await conn.execute(take)
                        await conn.execute(record, f"v{n}")
                latencies.append(time.perf_counter() - sent)

        started = time.perf_counter()
        await asyncio.gather(*(buy(n) for n in range(attempts)))
        elapsed = time.perf_counter() - started
        async with pool.acquire() as conn:
            sold = int(await conn.fetchval(count))
    finally:
        async with pool.acquire() as conn:
            await conn.execute(drop)
        await pool.close()
    return Result(
        "naive: PostgreSQL SELECT ... FOR UPDATE per purchase", elapsed, latencies, sold, units
    )


async def main() -> None:
    """Run both designs and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attempts", type=int, default=10_000)
    parser.add_argument("--units", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    ours = await bench_server(args.attempts, args.units, args.concurrency)
    naive = await bench_row_lock(args.dsn, args.attempts, args.units, args.concurrency)
    print("| design | attempts admitted/s | p50 admission | p99 admission | sold | oversold |")
    print("|---|---|---|---|---|---|")
    print(ours.row())
    print(naive.row())


if __name__ == "__main__":
    asyncio.run(main())
