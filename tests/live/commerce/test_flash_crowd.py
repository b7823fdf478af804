"""2,000 concurrent buyers for 500 units across three app instances: exactly 500 sold."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from live.db.models import OrderRow, ProductRow
from live.db.unit import transaction
from tests.live.commerce.buyers import crowd
from tests.support.servers import LiveServer, cluster
from tests.support.sessions import open_session

UNITS = 500
BUYERS = 2_000


@pytest.fixture
async def trio(
    tmp_path: Path, database_url: str, redis_url: str
) -> AsyncIterator[list[LiveServer]]:
    """Three instances on their own ports over the same engines."""
    async with cluster(tmp_path, 3, database_url=database_url, redis_url=redis_url) as nodes:
        yield nodes


async def test_two_thousand_buyers_for_five_hundred_units(trio: list[LiveServer]) -> None:
    """Buyers over three nodes, a quarter of them sending twice with one key: 500 orders."""
    opened = await open_session(trio[0], stock=UNITS, limit=1)
    outcome = await crowd(
        trio, opened.session_id, opened.product_id, buyers=BUYERS, repeat_every=4, in_flight=96
    )
    assert all(len(ids) == 1 for ids in outcome.orders.values())
    assert len(outcome.orders) == UNITS
    assert set(outcome.refused.values()) == {"sold_out"}
    assert len(outcome.refused) == BUYERS - UNITS
    ctx = trio[0].context
    async with transaction(ctx.db) as db:
        product = await db.get(ProductRow, opened.product_id)
        orders = await db.scalar(
            select(func.count())
            .select_from(OrderRow)
            .where(OrderRow.product_id == opened.product_id)
        )
    assert product is not None
    assert (product.committed_qty, orders) == (UNITS, UNITS)
    assert (await ctx.stock.levels(opened.session_id))[opened.product_id] == 0
