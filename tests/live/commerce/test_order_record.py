"""The record's own checks on writing orders, straight against the database: each condition of
the conditional updates refuses what it must, alone and inside a batch, writes nothing of a
refused order, and holds when two nodes write the same product at once."""

import asyncio
from collections.abc import AsyncIterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.errors import Code
from live.commerce import order_records
from live.commerce.order_records import RESERVED
from live.commerce.order_writer import OrderWriter
from live.db.engine import create_engine, session_factory
from live.db.models import GuideRow, OrderRow, SaleRow, SessionRow
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
from tests.support.units import UNIT_S


@pytest.fixture
async def two_nodes(
    record: async_sessionmaker[AsyncSession], database_url: str
) -> AsyncIterator[tuple[OrderWriter, OrderWriter]]:
    """Two order writers on two engines of the same record, as two nodes have them."""
    engine = create_engine(database_url)
    try:
        yield OrderWriter(record), OrderWriter(session_factory(engine))
    finally:
        await engine.dispose()


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
    assert stored.webhook_pending is True


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
    """A batch of 8 orders in a sale capped at 5, with stock left: the batch is refused as a
    whole, then 5 are written one by one and 3 are sold out; the sale and the product count
    exactly the 5."""
    shelf = await new_shelf(record, stock=10)
    sale_id = await open_sale(shelf, cap=5)
    answers = await write_all(
        OrderWriter(record), [new_order(shelf, sale_id=sale_id) for _ in range(8)]
    )
    assert answers.count(None) == 5
    assert answers.count(Code.SOLD_OUT) == 3
    assert await committed(shelf) == (5, 5)
    assert await sold(shelf, sale_id) == 5


async def _end_session(shelf: Shelf) -> None:
    async with transaction(shelf.db) as unit:
        row = await unit.get(SessionRow, shelf.session_id)
        assert row is not None
        row.status = session_records.ENDED


async def _close_sale(shelf: Shelf, sale_id: str) -> None:
    async with transaction(shelf.db) as unit:
        row = await unit.get(SaleRow, sale_id)
        assert row is not None
        row.status = order_records.SALE_CLOSED


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        ("generation", Code.SALE_PAUSED),
        ("session", Code.SESSION_NOT_LIVE),
        ("sale", Code.SALE_PAUSED),
    ],
)
async def test_a_refused_batch_leaves_every_counter_as_it_was(
    record: async_sessionmaker[AsyncSession], change: str, refusal: Code
) -> None:
    """A batch of one product and sale reserved on a stale generation, in a session since
    ended, or in a sale since closed: each order gets the refusal, and neither the product's
    nor the sale's counter moves."""
    shelf = await new_shelf(record, stock=10)
    sale_id = await open_sale(shelf, cap=10)
    if change == "session":
        await _end_session(shelf)
    elif change == "sale":
        await _close_sale(shelf, sale_id)
    orders = [new_order(shelf, sale_id=sale_id) for _ in range(3)]
    answers = await write_all(
        OrderWriter(record), orders, generation=1 if change == "generation" else 0
    )
    assert answers == [refusal] * 3
    assert await committed(shelf) == (0, 0)
    assert await sold(shelf, sale_id) == 0


async def test_a_duplicate_key_in_a_batch_refuses_only_its_order(
    record: async_sessionmaker[AsyncSession],
) -> None:
    """Two orders of a batch with the same viewer and idempotency key: the insert's conflict
    undoes the batch's units too, and one by one one of the two is written and the other
    refused as a conflict."""
    shelf = await new_shelf(record, stock=10)
    sale_id = await open_sale(shelf, cap=10)
    orders = [new_order(shelf, sale_id=sale_id) for _ in range(4)]
    orders[3].viewer_id, orders[3].idempotency_key = orders[2].viewer_id, orders[2].idempotency_key
    answers = await write_all(OrderWriter(record), orders)
    assert answers[:2] == [None, None]
    assert set(answers[2:]) == {None, Code.CONFLICT}
    assert await committed(shelf) == (3, 3)
    assert await sold(shelf, sale_id) == 3


async def test_attributed_orders_of_a_batch_carry_their_upstream_guide(
    record: async_sessionmaker[AsyncSession],
) -> None:
    """Each order of a batch gets its guide's upstream guide in the brand's organisation (none
    for a guide without one, an unknown guide or no guide), in the record and on the row."""
    shelf = await new_shelf(record, stock=10)
    async with transaction(record) as unit:
        for brand, guide_id, upstream in (
            ("b1", "g-lead", None),
            ("b1", "g-wei", "g-lead"),
            ("b2", "g-lead", "g-other-brand"),
        ):
            unit.add(
                GuideRow(
                    brand=brand,
                    id=guide_id,
                    name=guide_id,
                    upstream_guide_id=upstream,
                    created_ms=0,
                    updated_ms=0,
                )
            )
    guides = ["g-wei", "g-lead", "g-ghost", None]
    orders = [new_order(shelf) for _ in guides]
    for order, attributed_to in zip(orders, guides, strict=True):
        order.guide_id = attributed_to
    assert await write_all(OrderWriter(record), orders) == [None] * 4
    expected = ["g-lead", None, None, None]
    assert [order.upstream_guide_id for order in orders] == expected
    async with transaction(record) as unit:
        stored = dict(
            (
                await unit.execute(
                    select(OrderRow.id, OrderRow.upstream_guide_id).where(
                        OrderRow.product_id == shelf.product_id
                    )
                )
            ).all()
        )
    assert [stored[order.id] for order in orders] == expected


@pytest.mark.parametrize(
    "stock", [120, 250], ids=["the-stock-refuses-the-later-batch", "the-cap-refuses-it"]
)
async def test_two_nodes_never_write_past_the_stock_or_the_cap(
    record: async_sessionmaker[AsyncSession],
    two_nodes: tuple[OrderWriter, OrderWriter],
    stock: int,
) -> None:
    """Two nodes write a batch of 100 orders each on the same product and sale (cap 110) at
    the same time: exactly 110 are written, and the product and the sale count them."""
    shelf = await new_shelf(record, stock=stock)
    sale_id = await open_sale(shelf, cap=110)
    answers = await asyncio.gather(
        *(
            write_all(writer, [new_order(shelf, sale_id=sale_id) for _ in range(100)])
            for writer in two_nodes
        )
    )
    written = [answer for answers_of_node in answers for answer in answers_of_node]
    assert written.count(None) == 110
    assert written.count(Code.SOLD_OUT) == 90
    assert await committed(shelf) == (110, 110)
    assert await sold(shelf, sale_id) == 110


BURSTS = st.tuples(
    st.integers(1, 30),
    st.integers(1, 30),
    st.lists(st.tuples(st.integers(0, 1), st.integers(1, 3)), min_size=1, max_size=40),
)


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
async def test_generated_bursts_on_two_nodes_keep_the_counters_true(
    record: async_sessionmaker[AsyncSession], two_nodes: tuple[OrderWriter, OrderWriter]
) -> None:
    """Per generated burst (stock, cap, orders of 1-3 units on either node, all at once): the
    written units stay within the stock and the cap, the product and the sale count exactly
    them, and an order is refused only when its units no longer fit."""
    loop = asyncio.get_running_loop()
    problems: list[str] = []

    async def burst(stock: int, cap: int, orders: list[tuple[int, int]]) -> None:
        shelf = await new_shelf(record, stock=stock)
        sale_id = await open_sale(shelf, cap=cap)
        rows = [(node, new_order(shelf, qty=qty, sale_id=sale_id)) for node, qty in orders]
        answers = await asyncio.gather(
            *(
                write_all(writer, [row for node, row in rows if node == n])
                for n, writer in enumerate(two_nodes)
            )
        )
        by_node = {n: iter(answers[n]) for n in range(2)}
        outcome = [(row.qty, next(by_node[node])) for node, row in rows]
        units = sum(qty for qty, answer in outcome if answer is None)
        left = min(stock, cap) - units
        counters = (await committed(shelf), await sold(shelf, sale_id))
        written = sum(1 for _, answer in outcome if answer is None)
        if left < 0 or counters != ((units, written), units):
            problems.append(f"{stock=} {cap=} {orders=}: {outcome}, counters {counters}")
        if any(answer not in (None, Code.SOLD_OUT) for _, answer in outcome):
            problems.append(f"{stock=} {cap=} {orders=}: {outcome}")
        if any(answer == Code.SOLD_OUT and qty <= left for qty, answer in outcome):
            problems.append(f"{stock=} {cap=} {orders=}: refused with {left} left: {outcome}")

    @settings(
        max_examples=15,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(burst_=BURSTS)
    def check(burst_: tuple[int, int, list[tuple[int, int]]]) -> None:
        asyncio.run_coroutine_threadsafe(burst(*burst_), loop).result(timeout=60 * UNIT_S)

    await asyncio.to_thread(check)
    assert not problems, "\n".join(problems[:5])
