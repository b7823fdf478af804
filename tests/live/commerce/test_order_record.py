"""The record's own checks on writing orders, straight against the database: each condition of
the conditional updates refuses what it must, alone and inside a batch, and writes nothing of
a refused order."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.errors import ClientError, Code
from live.commerce import order_records
from live.commerce.order_records import RESERVED
from live.commerce.order_writer import OrderWriter
from live.db import migrate
from live.db.engine import create_engine, session_factory
from live.db.models import OrderRow, ProductRow, SaleRow, SessionRow
from live.db.unit import transaction
from live.sessions import session_records
from loadtests.order_record import reserved_order, seed_live_product


@dataclass(frozen=True)
class Shelf:
    """A live session with one product of ``stock`` units on stock generation 0."""

    db: async_sessionmaker[AsyncSession]
    session_id: str
    product_id: str


@pytest.fixture
async def record(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """The migrated record of this test (its rows carry unique ids)."""
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


async def _shelf(db: async_sessionmaker[AsyncSession], *, stock: int) -> Shelf:
    shelf = Shelf(db, f"s-{uuid.uuid4().hex[:12]}", f"p-{uuid.uuid4().hex[:12]}")
    await seed_live_product(
        db, session_id=shelf.session_id, product_id=shelf.product_id, stock=stock
    )
    return shelf


def _order(shelf: Shelf, *, qty: int = 1, sale_id: str | None = None) -> OrderRow:
    return reserved_order(shelf.session_id, shelf.product_id, qty=qty, sale_id=sale_id)


async def _committed(shelf: Shelf) -> tuple[int, int]:
    """The product's ``committed_qty`` and the number of its orders in the record."""
    async with transaction(shelf.db) as unit:
        committed = await unit.scalar(
            select(ProductRow.committed_qty).where(ProductRow.id == shelf.product_id)
        )
        orders = await unit.scalar(
            select(func.count()).where(OrderRow.product_id == shelf.product_id)
        )
    return int(committed or 0), int(orders or 0)


async def _open_sale(shelf: Shelf, *, cap: int) -> str:
    sale_id = f"sale-{uuid.uuid4().hex[:12]}"
    async with transaction(shelf.db) as unit:
        unit.add(
            SaleRow(
                id=sale_id,
                session_id=shelf.session_id,
                product_id=shelf.product_id,
                brand="b1",
                sale_price_cents=50,
                starts_ms=0,
                ends_ms=10**15,
                stock_cap=cap,
                sold_qty=0,
                status=order_records.SALE_OPEN,
                created_ms=0,
            )
        )
    return sale_id


async def _write_all(
    writer: OrderWriter, orders: list[OrderRow], *, generation: int = 0
) -> list[Code | None]:
    """Write the orders at once (one batch); each one's refusal code, or None when written."""

    async def one(order: OrderRow) -> Code | None:
        try:
            await writer.write(order, None, generation=generation)
        except ClientError as exc:
            return exc.code
        return None

    return list(await asyncio.gather(*(one(order) for order in orders)))


async def test_a_batch_within_the_stock_is_written_with_defaults(
    record: async_sessionmaker[AsyncSession],
) -> None:
    """Orders written together take their units and are stored, with the column defaults."""
    shelf = await _shelf(record, stock=10)
    orders = [_order(shelf, qty=2) for _ in range(3)]
    assert await _write_all(OrderWriter(record), orders) == [None, None, None]
    assert await _committed(shelf) == (6, 3)
    async with transaction(record) as unit:
        stored = await unit.get(OrderRow, orders[0].id)
    assert stored is not None
    assert (stored.discount_cents, stored.qty, stored.status) == (0, 2, RESERVED)


async def test_the_stock_is_never_exceeded_in_a_batch(
    record: async_sessionmaker[AsyncSession],
) -> None:
    """A batch asking more than the stock is refused as a whole and written one by one: the
    orders that fit are written, the rest are sold out, and nothing oversells."""
    shelf = await _shelf(record, stock=3)
    answers = await _write_all(OrderWriter(record), [_order(shelf) for _ in range(5)])
    assert answers.count(None) == 3
    assert answers.count(Code.SOLD_OUT) == 2
    assert await _committed(shelf) == (3, 3)


async def test_a_stale_stock_generation_is_refused(
    record: async_sessionmaker[AsyncSession],
) -> None:
    """An order reserved on an older stock generation (Redis since rebuilt) writes nothing."""
    shelf = await _shelf(record, stock=5)
    answers = await _write_all(OrderWriter(record), [_order(shelf)], generation=1)
    assert answers == [Code.SALE_PAUSED]
    assert await _committed(shelf) == (0, 0)


async def test_orders_of_a_session_no_longer_live_are_refused(
    record: async_sessionmaker[AsyncSession],
) -> None:
    """The session ended between reserve and write: the order is refused, nothing written."""
    shelf = await _shelf(record, stock=5)
    async with transaction(record) as unit:
        row = await unit.get(SessionRow, shelf.session_id)
        assert row is not None
        row.status = session_records.ENDED
    answers = await _write_all(OrderWriter(record), [_order(shelf)])
    assert answers == [Code.SESSION_NOT_LIVE]
    assert await _committed(shelf) == (0, 0)


async def test_an_order_priced_outside_the_open_sale_is_refused(
    record: async_sessionmaker[AsyncSession],
) -> None:
    """A sale opened after the reserve (the order priced without it), or an order priced in a
    sale that is not the open one: the terms changed, nothing is written."""
    shelf = await _shelf(record, stock=5)
    sale_id = await _open_sale(shelf, cap=5)
    writer = OrderWriter(record)
    assert await _write_all(writer, [_order(shelf)]) == [Code.SALE_PAUSED]
    assert await _write_all(writer, [_order(shelf, sale_id="sale-gone")]) == [Code.SALE_PAUSED]
    assert await _committed(shelf) == (0, 0)
    assert await _write_all(writer, [_order(shelf, sale_id=sale_id)]) == [None]
    assert await _committed(shelf) == (1, 1)


async def test_a_sale_cap_is_never_exceeded(record: async_sessionmaker[AsyncSession]) -> None:
    """Orders in a flash sale stop at its cap even with stock left; the sale counts them."""
    shelf = await _shelf(record, stock=10)
    sale_id = await _open_sale(shelf, cap=2)
    answers = await _write_all(
        OrderWriter(record), [_order(shelf, sale_id=sale_id) for _ in range(4)]
    )
    assert answers.count(None) == 2
    assert answers.count(Code.SOLD_OUT) == 2
    assert await _committed(shelf) == (2, 2)
    async with transaction(record) as unit:
        sold = await unit.scalar(select(SaleRow.sold_qty).where(SaleRow.id == sale_id))
    assert sold == 2
