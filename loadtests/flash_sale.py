"""Flash-sale admission: this server against a naive row-lock design, in the same run.

Each design answers ``--attempts`` buy attempts (each from its own viewer with its own key,
limit 1 per viewer) for ``--units`` units, all on loopback, one design after the other:

- ``sqlite`` / ``postgresql``: ``live serve`` over HTTP, its record on embedded SQLite / on
  PostgreSQL (a scratch database created and dropped on the server of ``--dsn``), Redis a
  private Valkey;
- ``socket``: ``live serve`` (record on PostgreSQL) with every viewer connected to the room
  socket first, buying with ``buy`` (`loadtests.ws_attack`); next to it (``--via socket``),
  ``postgresql`` has the same viewers connected to the room while they buy over HTTP, so both
  pay the room's tick traffic;
- ``naive``: the naive design behind the same HTTP stack (``loadtests/naive_shop.py``:
  Starlette on uvicorn, the same token check, one ``SELECT ... FOR UPDATE`` transaction per
  purchase);
- ``floor``: that stack's floor, every attempt refused after the token check;
- ``sql``: the naive design as bare SQL from this process (the database's own ceiling).

``--via http`` (default) runs sqlite, postgresql, naive, floor and sql; ``--via socket`` runs
socket, postgresql (HTTP) and naive in the same run. Attempts run in a closed loop,
``--concurrency`` in flight, each answered before its lane sends the next; with ``--burst-s S``
every attempt is tapped once instead, the taps spread evenly over S seconds whatever the
answers (an HTTP tap opens a connection of its own; a socket tap goes out on the viewer's
open socket). Reports attempts answered per second, admission p50/p99/max, the time until
every attempt was answered, units sold by the record and oversold, and the server's CPU per
attempt (and per refused attempt, after the last order).

    .venv/bin/python -m loadtests.flash_sale --attempts 10000 --units 500 --concurrency 200
    .venv/bin/python -m loadtests.flash_sale --via socket --concurrency 200
    .venv/bin/python -m loadtests.flash_sale --via socket --burst-s 1

With ``--workers N`` (N > 1) the HTTP servers run N worker processes on their port (``live
serve --workers N`` with a Valkey this program starts, uvicorn's ``--workers N`` for the naive
server and the floor); server CPU then sums every process of a server, never Valkey or
PostgreSQL.
"""

import argparse
import asyncio
import contextlib
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import asyncpg
import orjson
import uvloop

from loadtests import http_attack, live_node, sale_servers, ws_attack
from loadtests.sale_servers import Server

#: How often the server's CPU is sampled during a run (to split the selling phase off).
CPU_SAMPLE_S = 0.05
JOINS_AT_ONCE = 200


@dataclass
class Result:
    """One design's figures."""

    name: str
    latencies_s: list[float]
    #: Seconds from the first attempt to the last answer.
    elapsed_s: float
    sold: int
    units: int
    order_latencies_s: list[float]
    #: Seconds from the first attempt to the last order answered: the selling phase.
    selling_s: float
    #: CPU seconds of the server's processes during the attempts (None: no server process).
    server_cpu_s: float | None
    #: CPU seconds per attempt answered after the last order (all refusals), when measured.
    refusal_cpu_s: float | None = None
    cpu_by_process: list[float] = field(default_factory=list)
    retries: int = 0

    def row(self) -> str:
        """A markdown table row."""
        ordered = sorted(self.latencies_s)
        rate = len(ordered) / self.elapsed_s
        selling = self.sold / self.selling_s if self.selling_s else 0.0
        cpu = refusal = "—"
        if self.server_cpu_s is not None:
            cpu = f"{self.server_cpu_s / len(ordered) * 1e6:,.0f} us"
        if self.refusal_cpu_s is not None:
            refusal = f"{self.refusal_cpu_s * 1e6:,.0f} us"
        return (
            f"| {self.name} | {rate:,.0f} | {selling:,.0f} | {cpu} | {refusal} |"
            f" {statistics.median(ordered) * 1000:.1f} ms | {_p99(ordered):.1f} ms |"
            f" {ordered[-1] * 1000:.1f} ms | {_p99(sorted(self.order_latencies_s)):.1f} ms |"
            f" {self.elapsed_s:.2f} s | {self.sold} | {max(0, self.sold - self.units)} |"
        )


HEADER = (
    "| design | attempts answered/s | orders/s while selling | server CPU per attempt"
    " | server CPU per refusal | p50 admission | p99 admission | max admission"
    " | p99 of the orders | all answered after | sold | oversold |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def _p99(ordered: list[float]) -> float:
    """The 99th percentile of sorted seconds, in milliseconds (0 for none)."""
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000


class CpuSampler:
    """The server's CPU seconds sampled every `CPU_SAMPLE_S` while a run lasts."""

    def __init__(self, server: Server) -> None:
        self._server = server
        self.samples: list[tuple[float, float]] = []
        self.before: list[float] = []
        self.split: list[float] = []

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Sample while the block runs."""
        self.before = self._server.cpu_s()

        async def sample() -> None:
            while True:
                self.samples.append((time.perf_counter(), sum(self._server.cpu_s())))
                await asyncio.sleep(CPU_SAMPLE_S)

        task = asyncio.create_task(sample())
        try:
            yield
        finally:
            task.cancel()
            self.samples.append((time.perf_counter(), sum(self._server.cpu_s())))
            self.split = [
                now - then for now, then in zip(self._server.cpu_s(), self.before, strict=True)
            ]

    def since(self, moment: float) -> float:
        """CPU seconds from the first sample at or after ``moment`` to the end."""
        later = [cpu for at, cpu in self.samples if at >= moment]
        return later[-1] - later[0] if len(later) > 1 else 0.0


def _result(
    name: str,
    run: http_attack.Attack | ws_attack.Attack,
    sold: int,
    units: int,
    cpu: CpuSampler | None,
    *,
    ordered_status: int = 201,
    refused_status: int = 409,
) -> Result:
    """A design's figures from its run; any answer but an order or a refusal is an error."""
    failed = sorted({s for s in run.statuses if s not in (ordered_status, refused_status)})
    if failed:
        detail = getattr(run, "errors", [])[:3]
        raise RuntimeError(f"{name}: attempts failed with {failed} {detail}")
    answers = list(zip(run.latencies_s, run.statuses, run.answered_at, strict=True))
    ordered = [latency for latency, status, _ in answers if status == ordered_status]
    last_sale = max((at for _, s, at in answers if s == ordered_status), default=run.started_at)
    refusal_cpu = None
    if cpu is not None:
        after = sum(1 for _, _, at in answers if at > last_sale)
        # Only a refusal phase long enough for a few CPU samples says anything.
        if after >= 100:
            refusal_cpu = cpu.since(last_sale) / after
    return Result(
        name,
        run.latencies_s,
        run.elapsed_s,
        sold,
        units,
        ordered,
        last_sale - run.started_at,
        sum(cpu.split) if cpu else None,
        refusal_cpu,
        cpu.split if cpu and len(cpu.split) > 1 else [],
        getattr(run, "retries", 0),
    )


def _requests(port: int, path: str, body: dict[str, object], attempts: int) -> list[bytes]:
    payload = orjson.dumps(body)
    host = f"127.0.0.1:{port}"
    return [
        http_attack.post(
            path,
            host,
            {"Authorization": f"Bearer {sale_servers.viewer_token(n)}", "Idempotency-Key": f"k{n}"},
            payload,
        )
        for n in range(attempts)
    ]


async def _http_run(
    server: Server, requests: list[bytes], concurrency: int, burst_s: float | None
) -> tuple[http_attack.Attack, CpuSampler]:
    cpu = CpuSampler(server)
    async with cpu.running():
        if burst_s is None:
            run = await http_attack.attack(server.port, requests, concurrency)
        else:
            run = await http_attack.burst(server.port, requests, burst_s)
    return run, cpu


def _named(name: str, workers: int) -> str:
    return name if workers == 1 else f"{name}, {workers} workers"


async def _join_room(
    server: Server, session_id: str, viewers: int, report: Callable[[str], None]
) -> list[ws_attack.RoomSocket]:
    """Every viewer on the room socket (the sale's viewers watch the room, whatever path they
    buy through), before anything is timed."""
    paths = [
        f"/ws/sessions/{session_id}?token={sale_servers.viewer_token(n)}" for n in range(viewers)
    ]
    joining = time.perf_counter()
    cpu_before = sum(server.cpu_s())
    sockets = await ws_attack.connect_all(server.port, paths, at_once=JOINS_AT_ONCE)
    join_cpu = sum(server.cpu_s()) - cpu_before
    report(
        f"{len(sockets):,} viewers joined the room in {time.perf_counter() - joining:.1f} s,"
        f" server CPU {join_cpu / max(1, len(sockets)) * 1e3:.2f} ms per join"
    )
    # The joins' presence and tick traffic settles before the sale is timed.
    await asyncio.sleep(2)
    return sockets


async def bench_http(
    sizes: tuple[int, int, int],
    burst_s: float | None,
    *,
    database_url: str | None,
    workers: int,
    watchers: int,
    report: Callable[[str], None],
) -> Result:
    """This server over HTTP: terms from the node cache, Redis Lua reserve, group-committed
    conditional SQL write; ``watchers`` viewers on the room socket meanwhile (they get its
    ticks, as the socket design's buyers do)."""
    attempts, units, concurrency = sizes
    async with sale_servers.live_serve(database_url, workers) as server:
        session_id, product_id = await sale_servers.open_sale(server.http, units)
        sockets = await _join_room(server, session_id, watchers, report) if watchers else []
        path = f"/api/sessions/{session_id}/orders"
        requests = _requests(server.port, path, {"product_id": product_id, "qty": 1}, attempts)
        run, cpu = await _http_run(server, requests, concurrency, burst_s)
        sold = await sale_servers.sold(server.http, session_id)
        for socket in sockets:
            socket.close()
    record = "PostgreSQL" if database_url else "SQLite"
    name = f"this server over HTTP, record on {record}"
    if watchers:
        name += f", {watchers:,} viewers in the room"
    return _result(_named(name, workers), run, sold, units, cpu)


async def bench_socket(
    sizes: tuple[int, int, int],
    burst_s: float | None,
    *,
    database_url: str | None,
    report: Callable[[str], None],
) -> Result:
    """This server over the room socket: every viewer joins first, then buys with ``buy``."""
    attempts, units, concurrency = sizes
    async with sale_servers.live_serve(database_url, 1) as server:
        session_id, product_id = await sale_servers.open_sale(server.http, units)
        sockets = await _join_room(server, session_id, attempts, report)
        refs = [f"b{n}".encode() for n in range(attempts)]
        frames = [
            ws_attack.client_frame(
                orjson.dumps(
                    {
                        "type": "buy",
                        "ref": ref.decode(),
                        "product_id": product_id,
                        "qty": 1,
                        "key": f"k{n}",
                        # Each key is sent once, and said to be new, as the SDK's first send.
                        "first": True,
                    }
                )
            )
            for n, ref in enumerate(refs)
        ]
        cpu = CpuSampler(server)
        async with cpu.running():
            if burst_s is None:
                run = await ws_attack.closed_loop(sockets, frames, refs, concurrency)
            else:
                run = await ws_attack.burst(sockets, frames, refs, burst_s)
        sold = await sale_servers.sold(server.http, session_id)
        for socket in sockets:
            socket.close()
    record = "PostgreSQL" if database_url else "SQLite"
    return _result(f"this server over the room socket, record on {record}", run, sold, units, cpu)


async def bench_naive(
    dsn: str, sizes: tuple[int, int, int], burst_s: float | None, *, floor: bool, workers: int
) -> Result:
    """The naive design behind the same HTTP stack; with ``floor``, that stack's floor: every
    attempt refused after the token check."""
    attempts, units, concurrency = sizes
    async with sale_servers.naive_shop(dsn, units, workers) as server:
        path = "/refuse" if floor else "/buy"
        requests = _requests(server.port, path, {"qty": 1}, attempts)
        run, cpu = await _http_run(server, requests, concurrency, burst_s)
        sold = 0
        if not floor:
            async with server.http.get("/sold") as answer:
                sold = int((await answer.json())["sold"])
    if floor:
        name = "stack floor: token check, then 409 without any engine"
    else:
        name = "naive server: SELECT ... FOR UPDATE per purchase"
    return _result(_named(name, workers), run, sold, units, cpu)


async def bench_row_lock(dsn: str, sizes: tuple[int, int, int]) -> Result:
    """The naive design: one PostgreSQL transaction with a row lock per purchase, bare SQL."""
    attempts, units, concurrency = sizes
    # The table name is ours (a random suffix), never input: formatting it in is safe.
    table = f"flash_bench_{uuid.uuid4().hex[:8]}"
    lock = f"SELECT stock FROM {table}_stock WHERE id = 1 FOR UPDATE"  # noqa: S608
    take = f"UPDATE {table}_stock SET stock = stock - 1 WHERE id = 1"  # noqa: S608
    record = f"INSERT INTO {table}_orders VALUES ($1)"  # noqa: S608
    pool = await asyncpg.create_pool(dsn, min_size=20, max_size=20)
    assert pool is not None
    run = http_attack.Attack()
    try:
        async with pool.acquire() as conn:
            await conn.execute(f"CREATE TABLE {table}_stock (id int PRIMARY KEY, stock int)")
            await conn.execute(f"CREATE TABLE {table}_orders (viewer text PRIMARY KEY)")
            await conn.execute(f"INSERT INTO {table}_stock VALUES (1, $1)", units)  # noqa: S608
        gate = asyncio.Semaphore(concurrency)

        async def buy(n: int) -> None:
            async with gate:
                sent = time.perf_counter()
                async with pool.acquire() as conn, conn.transaction():
                    stock = await conn.fetchval(lock)
                    if stock > 0:
                        await conn.execute(take)
                        await conn.execute(record, f"v{n}")
                now = time.perf_counter()
                run.latencies_s.append(now - sent)
                run.statuses.append(201 if stock > 0 else 409)
                run.answered_at.append(now)

        run.started_at = time.perf_counter()
        await asyncio.gather(*(buy(n) for n in range(attempts)))
        run.elapsed_s = time.perf_counter() - run.started_at
        async with pool.acquire() as conn:
            sold = int(await conn.fetchval(f"SELECT count(*) FROM {table}_orders"))  # noqa: S608
    finally:
        async with pool.acquire() as conn:
            await conn.execute(f"DROP TABLE IF EXISTS {table}_stock, {table}_orders")
        await pool.close()
    return _result("bare SQL, no HTTP: SELECT ... FOR UPDATE per purchase", run, sold, units, None)


DEFAULT_DESIGNS = {"http": "sqlite,postgresql,naive,floor,sql", "socket": "socket,postgresql,naive"}


async def main() -> None:
    """Run the designs, one after the other, and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attempts", type=int, default=10_000)
    parser.add_argument("--units", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--via", choices=sorted(DEFAULT_DESIGNS), default="http")
    parser.add_argument("--designs", help="comma-separated designs (default: those of --via)")
    parser.add_argument("--burst-s", type=float, help="tap every attempt once within this time")
    parser.add_argument("--workers", type=int, default=1, help="worker processes of HTTP servers")
    args = parser.parse_args()
    if args.workers < 1:
        parser.error(f"--workers must be at least 1, not {args.workers}")
    designs = (args.designs or DEFAULT_DESIGNS[args.via]).split(",")
    sizes = (args.attempts, args.units, args.concurrency)
    workers, burst_s = args.workers, args.burst_s
    if workers > 1 and "sqlite" in designs:
        print(
            "skipping sqlite: live serve refuses several workers in embedded mode", file=sys.stderr
        )
        designs.remove("sqlite")

    def report(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    results = []
    for design in designs:
        report(f"running {design} ...")
        if design == "sqlite":
            results.append(
                await bench_http(
                    sizes, burst_s, database_url=None, workers=1, watchers=0, report=report
                )
            )
        elif design in ("postgresql", "socket"):
            async with live_node.scratch_database(args.dsn) as database_url:
                if design == "socket":
                    results.append(
                        await bench_socket(sizes, burst_s, database_url=database_url, report=report)
                    )
                else:
                    # Next to the socket design, its buyers watch the room here too.
                    watchers = args.attempts if args.via == "socket" else 0
                    results.append(
                        await bench_http(
                            sizes,
                            burst_s,
                            database_url=database_url,
                            workers=workers,
                            watchers=watchers,
                            report=report,
                        )
                    )
        elif design in ("naive", "floor"):
            results.append(
                await bench_naive(
                    args.dsn, sizes, burst_s, floor=design == "floor", workers=workers
                )
            )
        elif design == "sql":
            results.append(await bench_row_lock(args.dsn, sizes))
        else:
            parser.error(f"unknown design {design!r}")
    print(HEADER)
    for result in results:
        print(result.row())
    for result in results:
        if result.retries:
            print(f"\n{result.name}: {result.retries:,} taps sent again after a refused connection")
    for result in results:
        if result.cpu_by_process:
            supervisor, *others = (f"{seconds:.2f}" for seconds in result.cpu_by_process)
            print(
                f"\n{result.name}: CPU seconds during the attempts, supervisor {supervisor},"
                f" its children {', '.join(others)}"
            )


if __name__ == "__main__":
    uvloop.run(main())
