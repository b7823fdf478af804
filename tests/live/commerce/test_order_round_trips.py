"""What writing a batch of orders costs on the wire to PostgreSQL, read through a tap on the
protocol: a batch of one product is one statement outside any transaction, any other batch one
transaction, and the connection goes back to the pool transactional. SQLite writes every batch
in a transaction, and has no wire to read."""

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from live.commerce.order_writer import OrderWriter
from live.db.engine import create_engine, session_factory
from live.db.models import ProductRow
from live.db.unit import transaction
from tests.live.commerce.shelves import (
    Shelf,
    committed,
    new_order,
    new_shelf,
    open_sale,
    write_all,
)
from tests.support.ports import free_port
from tests.support.postgres_tap import PostgresTap, RoundTrip

#: The pool's ping on checkout (`live.db.engine`): one query, one round trip.
PRE_PING = [("SELECT 1",)]


@dataclass(frozen=True)
class Tapped:
    """The record through a tap, on a pool of one connection (every unit of work on it)."""

    db: async_sessionmaker[AsyncSession]
    tap: PostgresTap

    def since(self, start: int) -> list[RoundTrip]:
        """The round trips from the ``start``-th on."""
        return self.tap.round_trips[start:]


@pytest.fixture
async def tapped(database_url: str) -> AsyncIterator[Tapped]:
    """The test's PostgreSQL database (already migrated) through a `PostgresTap`."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        pytest.skip(
            "one statement per batch is PostgreSQL's; SQLite writes a batch in a transaction"
        )
    tap = PostgresTap(url.host or "127.0.0.1", url.port or 5432, free_port())
    await tap.open()
    through = url.set(host="127.0.0.1", port=tap.port, query={"ssl": "disable"})
    engine = create_engine(through.render_as_string(hide_password=False), pool_size=1)
    try:
        yield Tapped(session_factory(engine), tap)
    finally:
        await engine.dispose()
        await tap.close()


@pytest.mark.parametrize("in_sale", [False, True], ids=["no-sale", "in-a-sale"])
async def test_a_batch_of_one_product_is_one_statement_outside_a_transaction(
    tapped: Tapped, in_sale: bool
) -> None:
    """Five orders of one product (and sale) cost the pre-ping and one statement, which the
    server runs and commits on its own: no BEGIN, no COMMIT, idle after it."""
    shelf = await new_shelf(tapped.db, stock=100)
    sale_id = await open_sale(shelf, cap=100) if in_sale else None
    writer = OrderWriter(tapped.db)
    # The first batch prepares the statement on the connection, once.
    assert await write_all(writer, [new_order(shelf, sale_id=sale_id)]) == [None]
    start = len(tapped.tap.round_trips)
    orders = [new_order(shelf, sale_id=sale_id) for _ in range(5)]
    assert await write_all(writer, orders) == [None] * 5
    trips = tapped.since(start)
    assert [trip.statements for trip in trips[:1]] == PRE_PING
    (batch,) = trips[1:]
    (statement,) = batch.statements
    assert statement.startswith("WITH take AS")
    assert batch.status == "I"
    assert await committed(shelf) == (6, 6)


async def test_a_batch_of_two_products_is_one_transaction(tapped: Tapped) -> None:
    """Orders of two products in one batch are written in a transaction, committed once."""
    shelves = [await new_shelf(tapped.db, stock=10) for _ in range(2)]
    writer = OrderWriter(tapped.db)
    start = len(tapped.tap.round_trips)
    orders = [new_order(shelf) for shelf in shelves for _ in range(2)]
    assert await write_all(writer, orders) == [None] * 4
    trips = tapped.since(start)
    assert [trip.statements for trip in trips[:1]] == PRE_PING
    assert trips[1].statements[0].startswith("BEGIN")
    assert trips[-1].statements == ("COMMIT;",)
    assert [await committed(shelf) for shelf in shelves] == [(2, 2), (2, 2)]


async def _abandon_emptying(tapped: Tapped, shelf: Shelf) -> None:
    """Set the product's stock to 0 in a unit of work that then fails."""
    async with transaction(tapped.db) as unit:
        product = await unit.get(ProductRow, shelf.product_id)
        assert product is not None
        product.stock = 0
        await unit.flush()
        raise LookupError("abandon the unit of work")


async def test_the_connection_goes_back_to_the_pool_transactional(tapped: Tapped) -> None:
    """After a batch in autocommit, a unit of work on the same connection is a transaction
    again: its update is not committed on its own, and an error rolls it back."""
    shelf = await new_shelf(tapped.db, stock=10)
    assert await write_all(OrderWriter(tapped.db), [new_order(shelf)]) == [None]
    start = len(tapped.tap.round_trips)
    with pytest.raises(LookupError):
        await _abandon_emptying(tapped, shelf)
    assert [trip.status for trip in tapped.since(start)][-2:] == ["T", "I"]
    async with transaction(tapped.db) as unit:
        product = await unit.get(ProductRow, shelf.product_id)
    assert product is not None
    assert product.stock == 10
