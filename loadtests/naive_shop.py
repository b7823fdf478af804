"""The naive flash-sale design as a server, for a like-for-like comparison with ``live serve``.

Same stack as the real server (Starlette on uvicorn, the same token check), but each purchase is
one PostgreSQL transaction: ``SELECT stock ... FOR UPDATE``, decrement, insert the order,
commit. ``loadtests/flash_sale.py`` starts it as a child process:

    .venv/bin/python -m loadtests.naive_shop --port 8100 --dsn postgresql://... \\
        --secret S --units 500 [--workers N]

With ``--workers N`` it runs N processes on the port (uvicorn's own supervisor, an app factory),
like ``live serve --workers N``, each with its own pool; they share one stock row, so the row
lock is what they queue on.
"""

import argparse
import asyncio
import contextlib
import os
import signal
import uuid
from collections.abc import AsyncIterator
from types import FrameType

import asyncpg
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from common.errors import ClientError
from live.auth import tokens

#: How a worker spawned by uvicorn (``--workers N``) learns what its parent was given.
_ENV = ("NAIVE_SHOP_DSN", "NAIVE_SHOP_SECRET", "NAIVE_SHOP_TABLE")


def create_app(dsn: str, secret: str, table: str) -> Starlette:
    """The shop on tables ``<table>_stock`` and ``<table>_orders`` (made by `main`):
    ``POST /buy`` with a bearer token, ``POST /refuse`` (the stack's floor), ``GET /healthz``,
    ``GET /sold``."""
    lock = f"SELECT stock FROM {table}_stock WHERE id = 1 FOR UPDATE"  # noqa: S608
    take = f"UPDATE {table}_stock SET stock = stock - 1 WHERE id = 1"  # noqa: S608
    record = f"INSERT INTO {table}_orders VALUES ($1)"  # noqa: S608
    pools: list[asyncpg.Pool] = []

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        # The same pool size as the real server's PostgreSQL engine (10 + 20 overflow).
        pool = await asyncpg.create_pool(dsn, min_size=10, max_size=30)
        assert pool is not None
        pools.append(pool)
        try:
            yield
        finally:
            await pool.close()

    async def buy(request: Request) -> JSONResponse:
        header = request.headers.get("authorization", "")
        try:
            viewer = tokens.verify(header.removeprefix("Bearer "), secret)
        except ClientError as exc:
            return JSONResponse({"error": {"code": exc.code}}, status_code=401)
        await request.json()
        async with pools[0].acquire() as conn, conn.transaction():
            stock = await conn.fetchval(lock)
            if stock <= 0:
                return JSONResponse({"error": {"code": "sold_out"}}, status_code=409)
            await conn.execute(take)
            await conn.execute(record, viewer.sub)
        return JSONResponse({"order_id": viewer.sub}, status_code=201)

    async def refuse(request: Request) -> JSONResponse:
        """The floor of this stack: the token check and the body, then "sold out" at once,
        without any engine. No design served by it can answer faster."""
        header = request.headers.get("authorization", "")
        try:
            tokens.verify(header.removeprefix("Bearer "), secret)
        except ClientError as exc:
            return JSONResponse({"error": {"code": exc.code}}, status_code=401)
        await request.json()
        return JSONResponse({"error": {"code": "sold_out"}}, status_code=409)

    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    async def sold(_: Request) -> JSONResponse:
        count = await pools[0].fetchval(f"SELECT count(*) FROM {table}_orders")  # noqa: S608
        return JSONResponse({"sold": count})

    routes = [
        Route("/buy", buy, methods=["POST"]),
        Route("/refuse", refuse, methods=["POST"]),
        Route("/healthz", healthz),
        Route("/sold", sold),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


def app_from_env() -> Starlette:
    """The app factory of each worker under ``--workers N``."""
    dsn, secret, table = (os.environ[name] for name in _ENV)
    return create_app(dsn, secret, table)


async def _tables(dsn: str, table: str, *, units: int | None) -> None:
    """Create the shop's tables with ``units`` in stock, or drop them (``units=None``)."""
    conn = await asyncpg.connect(dsn)
    try:
        if units is None:
            await conn.execute(f"DROP TABLE IF EXISTS {table}_stock, {table}_orders")
            return
        await conn.execute(f"CREATE TABLE {table}_stock (id int PRIMARY KEY, stock int)")
        await conn.execute(f"CREATE TABLE {table}_orders (viewer text PRIMARY KEY)")
        await conn.execute(f"INSERT INTO {table}_stock VALUES (1, $1)", units)  # noqa: S608
    finally:
        await conn.close()


def _exit_cleanly(_signum: int, _frame: FrameType | None) -> None:
    # uvicorn re-raises SIGTERM after its graceful shutdown; the tables must still be dropped.
    raise SystemExit(0)


def main() -> None:
    """Create the tables, serve the shop on loopback until SIGTERM, drop the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--units", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    # The table name is ours (a random suffix), never input: formatting it in is safe.
    table = f"naive_shop_{uuid.uuid4().hex[:8]}"
    asyncio.run(_tables(args.dsn, table, units=args.units))
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _exit_cleanly)
    try:
        # The same log level as `live serve` (uvicorn access lines included), for a
        # like-for-like cost.
        if args.workers == 1:
            app = create_app(args.dsn, args.secret, table)
            uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="info")
        else:
            os.environ.update(zip(_ENV, (args.dsn, args.secret, table), strict=True))
            uvicorn.run(
                "loadtests.naive_shop:app_from_env",
                factory=True,
                workers=args.workers,
                host="127.0.0.1",
                port=args.port,
                log_level="info",
            )
    finally:
        asyncio.run(_tables(args.dsn, table, units=None))


if __name__ == "__main__":
    main()
