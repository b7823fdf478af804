"""The record's own checks on writing orders, straight against the database: each condition of
the conditional updates refuses what it must, alone and inside a batch, and writes nothing of
a refused order."""

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.errors import Code
from live.commerce.order_records import RESERVED
from live.commerce.order_writer import OrderWriter
from live.db.models import OrderRow, SessionRow
from live.db.unit import transaction
from live.sessions import session_records
from tests.live.commerce.shelves import (
    Shelf,
    committed,
    new_order,
    new_shelf,
    open_sale,
    sold,
    write_all,
)


async def test_a_batch_within_the_stock_is_written_with_defaults(
    record: async_sessionmaker[AsyncSession],
) -> None:
    """Orders written together take their units and are stored, with the column defaults."""
    shelf = await new_shelf(record, stock=10)
    orders = [new_order(shelf, qty=2) for _ in range(3)]
    assert await write_all(OrderWriter(record), orders) == [None, None, None]
    assert await committed(shelf) == (6, 3)
    async with transaction(record) as unit:
        stored = await unit.get(OrderRow, orders[0].id)
    assert stored is not None
    assert (stored.discount_cents, stored.qty, stored.status) == (0, 2, RESERVED)


async def test_the_stock_is_never_exceeded_in_a_batch(
    record: async_sessionmaker[AsyncSession],
) -> None:
    """A batch asking more than the stock is refused as a whole and written one by one: the
    orders that fit are written, the rest are sold out, and nothing oversells."""
    shelf = await new_shelf(record, stock=3)
    answers = await write_all(OrderWriter(record), [new_order(shelf) for _ in range(5)])
    assert answers.count(None) == 3
    assert answers.count(Code.SOLD_OUT) == 2
    assert await committed(shelf) == (3, 3)


async def test_a_stale_stock_generation_is_refused(
    record: async_sessionmaker[AsyncSession],
) -> None:
    """An order reserved on an older stock generation (Redis since rebuilt) writes nothing."""
    shelf = await new_shelf(record, stock=5)
    answers = await write_all(OrderWriter(record), [new_order(shelf)], generation=1)
    assert answers == [Code.SALE_PAUSED]
    assert await committed(shelf) == (0, 0)


async def test_orders_of_a_session_no_longer_live_are_refused(
    record: async_sessionmaker[AsyncSession],
) -> None:
    """The session ended between reserve and write: the order is refused, nothing written."""
    shelf = await new_shelf(record, stock=5)
    await _end_session(shelf)
    answers = await write_all(OrderWriter(record), [new_order(shelf)])
    assert answers == [Code.SESSION_NOT_LIVE]
    assert await committed(shelf) == (0, 0)


async def test_an_order_priced_outside_the_open_sale_is_refused(
    record: async_sessionmaker[AsyncSession],
) -> None:
    """A sale opened after the reserve (the order priced without it), or an order priced in a
    sale that is not the open one: the terms changed, nothing is written."""
    shelf = await new_shelf(record, stock=5)
    sale_id = await open_sale(shelf, cap=5)
    writer = OrderWriter(record)
    assert await write_all(writer, [new_order(shelf)]) == [Code.SALE_PAUSED]
    assert await write_all(writer, [new_order(shelf, sale_id="sale-gone")]) == [Code.SALE_PAUSED]
    assert await committed(shelf) == (0, 0)
    assert await write_all(writer, [new_order(shelf, sale_id=sale_id)]) == [None]
    assert await committed(shelf) == (1, 1)


async def test_a_sale_cap_is_never_exceeded(record: async_sessionmaker[AsyncSession]) -> None:
    """Orders in a flash sale stop at its cap even with stock left; the sale counts them."""
    shelf = await new_shelf(record, stock=10)
    sale_id = await open_sale(shelf, cap=2)
    answers = await write_all(
        OrderWriter(record), [new_order(shelf, sale_id=sale_id) for _ in range(4)]
    )
    assert answers.count(None) == 2
    assert answers.count(Code.SOLD_OUT) == 2
    assert await committed(shelf) == (2, 2)
    assert await sold(shelf, sale_id) == 2


async def _end_session(shelf: Shelf) -> None:
    async with transaction(shelf.db) as unit:
        row = await unit.get(SessionRow, shelf.session_id)
        assert row is not None
        row.status = session_records.ENDED
