"""Flash-sale admission: this server against a naive row-lock design, in the same run.

Four designs, one after the other, each answering ``--attempts`` buy attempts (each from its
own viewer with its own ``Idempotency-Key``) for ``--units`` units, ``--concurrency`` at a time,
all on loopback:

1. ``live serve`` in embedded mode (SQLite and a private Valkey in a temporary directory);
2. ``live serve`` with its record on PostgreSQL (a scratch database created and dropped on the
   server of ``--dsn``) and a private Valkey;
3. the naive design behind the same HTTP stack (``loadtests/naive_shop.py``: Starlette on
   uvicorn, the same token check, one ``SELECT ... FOR UPDATE`` transaction per purchase);
4. the naive design as bare SQL from this process (no HTTP, no tokens): the database's own
   ceiling, for reference.

Reports attempts admitted (answered) per second, p50/p99 admission latency (request sent ->
answer), units sold and oversold.

    .venv/bin/python -m loadtests.flash_sale --attempts 10000 --units 500 --concurrency 200

With ``--workers N`` (N > 1) both servers run N worker processes on their port: ``live serve
--workers N`` with its record on PostgreSQL, its Redis a Valkey this program starts (several
workers need a shared Redis: ``live serve`` refuses them in embedded mode, so design 1 is
skipped), and the naive server and the floor under uvicorn's ``--workers N``. Server CPU per
attempt then sums every process of the server (supervisor and workers), never Valkey or
PostgreSQL.
"""

import argparse
import asyncio
import contextlib
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import asyncpg
import orjson
import uvloop

from live.auth import tokens
from live.platform.embedded_valkey import EmbeddedValkey
from loadtests import http_attack, live_node, server_processes
from loadtests.ports import free_port

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
    #: Latencies of the attempts that got an order (the others were refused).
    order_latencies_s: list[float]
    #: Seconds from the first attempt to the last order answered: the selling phase.
    selling_s: float
    #: CPU seconds the server's processes used during the attempts (None: no server process).
    server_cpu_s: float | None
    #: Of those, the seconds of each process (the supervisor first) when it has several.
    cpu_by_process: list[float] = field(default_factory=list)

    def row(self) -> str:
        """A markdown table row."""
        ordered = sorted(self.latencies_s)
        p50 = statistics.median(ordered) * 1000
        rate = len(ordered) / self.elapsed_s
        oversold = max(0, self.sold - self.units)
        selling = self.sold / self.selling_s if self.selling_s else 0.0
        cpu = "—"
        if self.server_cpu_s is not None:
            cpu = f"{self.server_cpu_s / len(ordered) * 1e6:,.0f} us"
        return (
            f"| {self.name} | {rate:,.0f} | {selling:,.0f} | {cpu} | {p50:.1f} ms | "
            f"{_p99(ordered):.1f} ms | {_p99(sorted(self.order_latencies_s)):.1f} ms | "
            f"{self.sold} | {oversold} |"
        )


def _cpu_split(pids: list[int]) -> list[float]:
    """CPU seconds each of ``pids`` has used so far."""
    return [server_processes.cpu_s(pid) for pid in pids]


def _cpu_since(pids: list[int], before: list[float]) -> list[float]:
    """CPU seconds each of ``pids`` has used since ``before`` (from `_cpu_split`)."""
    return [now - then for now, then in zip(_cpu_split(pids), before, strict=True)]


def _p99(ordered: list[float]) -> float:
    """The 99th percentile of sorted seconds, in milliseconds (0 for none)."""
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000


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
    host = {"Authorization": f"Bearer {tokens.mint(SECRET, sub='h', role='host', brand=BRAND)}"}
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


async def _attack(
    port: int,
    path: str,
    body: dict[str, object],
    attempts: int,
    concurrency: int,
) -> tuple[http_attack.Attack, list[float], float]:
    """``attempts`` buys, each from its own viewer and key, ``concurrency`` at a time:
    (what the run saw, latencies of those answered 201, seconds until the last 201). Any answer
    but 201 (order) or 409 (sold out) stops the benchmark: it is an error, not an admission."""
    payload = orjson.dumps(body)
    tokens = [tokens.mint(SECRET, sub=f"v{n}", role="viewer", brand=BRAND) for n in range(attempts)]
    host = f"127.0.0.1:{port}"
    requests = [
        http_attack.post(
            path, host, {"Authorization": f"Bearer {token}", "Idempotency-Key": f"k{n}"}, payload
        )
        for n, token in enumerate(tokens)
    ]
    run = await http_attack.attack(port, requests, concurrency)
    failed = sorted({status for status in run.statuses if status not in (201, 409)})
    if failed:
        raise RuntimeError(f"attempts failed with statuses {failed}")
    ordered = [
        latency
        for latency, status in zip(run.latencies_s, run.statuses, strict=True)
        if status == 201
    ]
    last_sale = max(
        (at for at, status in zip(run.answered_at, run.statuses, strict=True) if status == 201),
        default=run.started_at,
    )
    return run, ordered, last_sale - run.started_at


@contextlib.contextmanager
def _child(command: list[str], env: dict[str, str]) -> Iterator[int]:
    """A server child process (its pid), terminated (and waited for) when the block ends."""
    server = subprocess.Popen(  # noqa: S603 - our own programs, started once
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        yield server.pid
    finally:
        server.terminate()
        server.wait(timeout=20)


@contextlib.contextmanager
def _shared_valkey(data_dir: str, workers: int) -> Iterator[dict[str, str]]:
    """With several workers, a Valkey started here, configured as the embedded one (append-only
    file, fsync every second), and the settings that point the workers at it; else nothing."""
    if workers == 1:
        yield {}
        return
    valkey = EmbeddedValkey(Path(data_dir) / "valkey", persistent=True)
    valkey.start()
    try:
        # Text lines, as the embedded mode logs by default: the same cost per access line.
        yield {"LIVE_REDIS_URL": valkey.url, "LIVE_LOG_FORMAT": "text"}
    finally:
        valkey.stop()


async def _server_pids(port: int, pid: int, workers: int) -> list[int]:
    """The server's processes: ``pid``, then (with several workers, once every one of them
    answers) its children: the workers and the supervisor's multiprocessing helper."""
    if workers == 1:
        return [pid]
    await server_processes.wait_workers(port, pid, workers)
    return [pid, *server_processes.children(pid)]


def _named(name: str, workers: int) -> str:
    return name if workers == 1 else f"{name}, {workers} workers"


async def bench_server(
    attempts: int,
    units: int,
    concurrency: int,
    *,
    database_url: str | None = None,
    workers: int = 1,
) -> Result:
    """This server: terms from the node cache, Redis Lua reserve, conditional SQL write.

    Embedded SQLite by default; with ``database_url`` the record is on PostgreSQL (schema
    applied with ``live db upgrade`` first). Redis is a private Valkey either way: the embedded
    one with one worker, one started by `_shared_valkey` for several.
    """
    port = free_port()
    with tempfile.TemporaryDirectory() as data_dir, _shared_valkey(data_dir, workers) as shared:
        env = {
            **os.environ,
            "LIVE_DATA_DIR": data_dir,
            "LIVE_SECRET": SECRET,
            "LIVE_PAYMENT_SECRET": PAYMENT_SECRET,
        }
        for name in ("LIVE_DATABASE_URL", "LIVE_REDIS_URL", "LIVE_ARCHIVE_URL", "LIVE_WORKERS"):
            env.pop(name, None)
        env.update(shared)
        if database_url:
            env["LIVE_DATABASE_URL"] = database_url
            live_node.upgrade(env, database_url)
        command = live_node.serve_command(port)
        if workers > 1:
            command += ["--workers", str(workers)]
        with _child(command, env) as pid:
            async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{port}") as session:
                await _wait_healthy(session)
                pids = await _server_pids(port, pid, workers)
                session_id, product_id = await _open_sale(session, units)
                cpu_before = _cpu_split(pids)
                run, ordered, selling_s = await _attack(
                    port,
                    f"/api/sessions/{session_id}/orders",
                    {"product_id": product_id, "qty": 1},
                    attempts,
                    concurrency,
                )
                split = _cpu_since(pids, cpu_before)
    record = "PostgreSQL" if database_url else "SQLite"
    name = _named(f"this server, record on {record}", workers)
    return Result(
        name,
        run.elapsed_s,
        run.latencies_s,
        len(ordered),
        units,
        ordered,
        selling_s,
        sum(split),
        split if workers > 1 else [],
    )


async def bench_naive_server(
    dsn: str, attempts: int, units: int, concurrency: int, *, floor: bool = False, workers: int = 1
) -> Result:
    """The naive design behind the same HTTP stack (``loadtests/naive_shop.py``, ``workers``
    processes); with ``floor``, that stack's floor instead: every attempt refused after the
    token check."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "loadtests.naive_shop",
        "--port",
        str(port),
        "--dsn",
        dsn,
        "--secret",
        SECRET,
        "--units",
        str(units),
    ]
    if workers > 1:
        command += ["--workers", str(workers)]
    with _child(command, dict(os.environ)) as pid:
        async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{port}") as session:
            await _wait_healthy(session)
            pids = await _server_pids(port, pid, workers)
            cpu_before = _cpu_split(pids)
            path = "/refuse" if floor else "/buy"
            run, ordered, selling_s = await _attack(port, path, {"qty": 1}, attempts, concurrency)
            split = _cpu_since(pids, cpu_before)
            shown = split if workers > 1 else []
            if floor:
                name = _named("stack floor: token check, then 409 without any engine", workers)
                return Result(
                    name, run.elapsed_s, run.latencies_s, 0, units, [], 0.0, sum(split), shown
                )
            async with session.get("/sold") as answer:
                sold = int((await answer.json())["sold"])
    name = _named("naive server: SELECT ... FOR UPDATE per purchase", workers)
    return Result(
        name, run.elapsed_s, run.latencies_s, sold, units, ordered, selling_s, sum(split), shown
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
        ordered: list[float] = []
        last_sale = [0.0]

        async def buy(n: int) -> None:
            async with gate:
                sent = time.perf_counter()
                async with pool.acquire() as conn, conn.transaction():
                    stock = await conn.fetchval(lock)
                    if stock > 0:
                        await conn.execute(take)
                        await conn.execute(record, f"v{n}")
                latencies.append(time.perf_counter() - sent)
                if stock > 0:
                    ordered.append(latencies[-1])
                    last_sale[0] = time.perf_counter()

        started = time.perf_counter()
        await asyncio.gather(*(buy(n) for n in range(attempts)))
        elapsed = time.perf_counter() - started
        selling_s = max(0.0, last_sale[0] - started)
        async with pool.acquire() as conn:
            sold = int(await conn.fetchval(count))
    finally:
        async with pool.acquire() as conn:
            await conn.execute(drop)
        await pool.close()
    name = "bare SQL, no HTTP: SELECT ... FOR UPDATE per purchase"
    return Result(name, elapsed, latencies, sold, units, ordered, selling_s, None)


async def main() -> None:
    """Run every design, one after the other, and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attempts", type=int, default=10_000)
    parser.add_argument("--units", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument(
        "--designs",
        default="sqlite,postgresql,naive,floor,sql",
        help="which designs to run, comma-separated (default: all five)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes of each server (this one, the naive one, the floor); default 1",
    )
    args = parser.parse_args()
    if args.workers < 1:
        parser.error(f"--workers must be at least 1, not {args.workers}")
    designs = set(args.designs.split(","))
    sizes = (args.attempts, args.units, args.concurrency)
    workers = args.workers
    if workers > 1 and "sqlite" in designs:
        print(
            "skipping sqlite: live serve refuses several workers in embedded mode", file=sys.stderr
        )
        designs.discard("sqlite")
    results = []
    if "sqlite" in designs:
        results.append(await bench_server(*sizes))
    if "postgresql" in designs:
        async with live_node.scratch_database(args.dsn) as database_url:
            results.append(await bench_server(*sizes, database_url=database_url, workers=workers))
    if "naive" in designs:
        results.append(await bench_naive_server(args.dsn, *sizes, workers=workers))
    if "floor" in designs:
        results.append(await bench_naive_server(args.dsn, *sizes, floor=True, workers=workers))
    if "sql" in designs:
        results.append(await bench_row_lock(args.dsn, *sizes))
    print(
        "| design | attempts answered/s | orders/s while selling | server CPU per attempt"
        " | p50 admission | p99 admission | p99 of the orders | sold | oversold |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for result in results:
        print(result.row())
    for result in results:
        if result.cpu_by_process:
            supervisor, *others = (f"{seconds:.2f}" for seconds in result.cpu_by_process)
            print(
                f"\n{result.name}: CPU seconds during the attempts, supervisor {supervisor},"
                f" its children {', '.join(others)}"
            )


if __name__ == "__main__":
    uvloop.run(main())
