"""CPU per order written to the record alone: the order writer's transaction, nothing else.

In a live room orders arrive a few at a time, so each group commit holds one order and pays a
whole transaction (the conditional updates, the insert, the commit). This program writes
``--orders`` orders one after the other through `live.commerce.order_writer.OrderWriter`, on a fresh
SQLite file and on a scratch database of the PostgreSQL server of ``--dsn`` (created with the
app's migrations, dropped afterwards), and prints the process CPU time and the wall time per
order for each. The event loop is uvloop, as in ``live serve``. Example:

    python -m loadtests.order_record --orders 2000
"""

import argparse
import tempfile
import time
import uuid
from pathlib import Path

import uvloop
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from live.commerce.order_records import RESERVED
from live.commerce.order_writer import OrderWriter
from live.db import migrate
from live.db.engine import create_engine, session_factory
from live.db.models import OrderRow, ProductRow, SessionRow
from live.db.unit import transaction
from live.sessions import session_records
from loadtests.live_node import scratch_database

WARMUP_ORDERS = 100
SESSION, PRODUCT = "bench-session", "bench-product"


async def seed_live_product(
    db: async_sessionmaker[AsyncSession], *, session_id: str, product_id: str, stock: int
) -> None:
    """A live session of brand ``b1`` with one product of ``stock`` units on generation 0."""
    async with transaction(db) as unit:
        unit.add(
            SessionRow(
                id=session_id,
                brand="b1",
                title="t",
                status=session_records.LIVE,
                host_id="h",
                created_ms=0,
            )
        )
        await unit.flush()
        unit.add(
            ProductRow(
                id=product_id,
                session_id=session_id,
                brand="b1",
                sku="sku",
                title="t",
                price_cents=100,
                stock=stock,
                committed_qty=0,
                stock_generation=0,
                created_ms=0,
            )
        )


def reserved_order(
    session_id: str, product_id: str, *, qty: int = 1, sale_id: str | None = None
) -> OrderRow:
    """A reserved order of one viewer as the order path builds it (``discount_cents`` unset:
    the column's default, 0, applies)."""
    n = uuid.uuid4().hex[:16]
    return OrderRow(
        id=f"o{n}",
        brand="b1",
        session_id=session_id,
        product_id=product_id,
        viewer_id=f"v{n}",
        qty=qty,
        unit_price_cents=100,
        amount_cents=100 * qty,
        status=RESERVED,
        idempotency_key=f"k{n}",
        request_hash="h",
        created_ms=1,
        expires_ms=2,
        sale_id=sale_id,
    )


async def measure(database_url: str, orders: int) -> tuple[float, float]:
    """Microseconds of CPU and of wall time per order written alone."""
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine)
        db = session_factory(engine)
        await seed_live_product(db, session_id=SESSION, product_id=PRODUCT, stock=10**9)
        writer = OrderWriter(db)
        for _ in range(WARMUP_ORDERS):
            await writer.write(reserved_order(SESSION, PRODUCT), None, generation=0)
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(orders):
            await writer.write(reserved_order(SESSION, PRODUCT), None, generation=0)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        await engine.dispose()
    return cpu / orders * 1e6, wall / orders * 1e6


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        sqlite = await measure(f"sqlite+aiosqlite:///{Path(scratch) / 'live.db'}", args.orders)
    async with scratch_database(args.dsn) as url:
        postgres = await measure(url, args.orders)
    print(f"| record | CPU per order | wall per order |  ({args.orders} orders, one at a time)")
    print("|---|---|---|")
    for name, (cpu_us, wall_us) in (("SQLite", sqlite), ("PostgreSQL", postgres)):
        print(f"| {name} | {cpu_us:,.0f} us | {wall_us:,.0f} us |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=2_000)
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/test")
    uvloop.run(main(parser.parse_args()))
