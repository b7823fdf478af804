"""Redis dies mid-sale, with and without persistence: sales pause, state is rebuilt from the
record, and exactly the stock is sold with no acknowledged order lost.

These tests kill their own Valkey server, never the shared one.
"""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import func, select

from common.errors import ClientError, Code
from inventory import keys
from inventory import recovery as inventory_recovery
from inventory.errors import InventoryUnavailable
from inventory.stock import Reserved, Stock
from live.commerce import (
    order_records,
    order_writer,
    stock_invariant,
    stock_recovery,
    terms,
)
from live.db.models import OrderRow, ProductRow
from live.db.unit import transaction
from live.platform.clock import now_ms
from live.platform.embedded_valkey import EmbeddedValkey
from tests.live.commerce.buyers import RETRIED, crowd
from tests.support.polling import eventually
from tests.support.servers import LiveServer, ServerWith
from tests.support.sessions import open_session
from tests.support.units import UNIT_S

UNITS = 40
BUYERS = 120


@pytest.fixture(params=[True, False], ids=["persistent", "volatile"])
async def own_valkey(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[EmbeddedValkey]:
    """A private Valkey server that the test may kill and restart on the same port and data."""
    server = EmbeddedValkey(tmp_path / "valkey", persistent=request.param)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def node(own_valkey: EmbeddedValkey, server_with: ServerWith) -> LiveServer:
    """One app instance on the private Valkey (stopped before the Valkey is)."""
    return await server_with(redis_url=own_valkey.url)


async def test_restart_mid_sale_sells_exactly_the_stock(
    own_valkey: EmbeddedValkey, node: LiveServer
) -> None:
    """Valkey is killed and restarted while buyers keep buying and retrying their keys."""
    opened = await open_session(node, stock=UNITS, limit=1)
    ctx = node.context

    async def some_sold() -> bool:
        async with transaction(ctx.db) as db:
            product = await db.get(ProductRow, opened.product_id)
        return product is not None and product.committed_qty >= UNITS // 4

    async def kill_and_restart() -> None:
        await eventually(some_sold)
        await asyncio.to_thread(own_valkey.kill)
        await asyncio.to_thread(own_valkey.start)

    sale = asyncio.create_task(
        crowd([node], opened.session_id, opened.product_id, buyers=BUYERS, repeat_every=2)
    )
    await kill_and_restart()
    outcome = await sale
    sold = {order_id for ids in outcome.orders.values() for order_id in ids}
    assert all(len(ids) == 1 for ids in outcome.orders.values())
    assert len(sold) == UNITS
    assert set(outcome.refused.values()) <= {"sold_out"}
    # Every buyer got exactly one final answer: no key got both an order and a refusal.
    assert not set(outcome.orders) & set(outcome.refused)
    assert len(outcome.orders) + len(outcome.refused) == BUYERS
    async with transaction(ctx.db) as db:
        product = await db.get(ProductRow, opened.product_id)
        recorded = set(
            await db.scalars(
                select(OrderRow.id).where(
                    OrderRow.product_id == opened.product_id, OrderRow.status == "reserved"
                )
            )
        )
    assert product is not None
    assert product.committed_qty == UNITS
    assert recorded == sold

    async def consistent() -> bool:
        try:
            lines = await stock_invariant.check(ctx.db, ctx.redis, opened.session_id, readings=1)
        except InventoryUnavailable:  # a pooled connection to the killed server
            return False
        return all(line.consistent for line in lines)

    await eventually(consistent)


async def test_lost_state_is_rebuilt_from_the_record(
    own_valkey: EmbeddedValkey, node: LiveServer
) -> None:
    """After a restart: holds, per-viewer counters and replayed keys come back from the record."""
    opened = await open_session(node, stock=10, limit=2)
    ctx = node.context
    async with node.client(node.token("viewer", "keeper")) as keeper:

        async def buy(qty: int, key: str) -> httpx.Response:
            # As a client does: answers that say "retry" (a pooled connection to the dead
            # server, sales paused during the rebuild) are retried with the same key.
            while True:
                answer = await keeper.post(
                    f"/api/sessions/{opened.session_id}/orders",
                    json={"product_id": opened.product_id, "qty": qty},
                    headers={"Idempotency-Key": key},
                )
                if answer.status_code == 201 or answer.json()["error"]["code"] not in RETRIED:
                    return answer
                await asyncio.sleep(0.05)  # a client's back-off before retrying

        first = await buy(2, "keep")
        assert first.status_code == 201
        await asyncio.to_thread(own_valkey.kill)
        await asyncio.to_thread(own_valkey.start)
        if not own_valkey.persistent:
            fresh = Redis.from_url(own_valkey.url)
            assert not await fresh.exists(keys.stock(opened.session_id))
            await fresh.aclose()
        replayed = await asyncio.wait_for(buy(2, "keep"), timeout=10 * UNIT_S)
        assert replayed.status_code == 201, replayed.text
        assert replayed.json()["order_id"] == first.json()["order_id"]
        over = await asyncio.wait_for(buy(1, "more"), timeout=10 * UNIT_S)
        assert over.json()["error"]["code"] == "limit_exceeded", over.text
    # Read through a new client: the app's pool may still hold connections to the dead server.
    fresh = Redis.from_url(own_valkey.url)
    try:
        stock = Stock(fresh)
        assert await stock.is_held(opened.session_id, first.json()["order_id"])
        assert (await stock.levels(opened.session_id))[opened.product_id] == 8
    finally:
        await fresh.aclose()
    async with transaction(ctx.db) as db:
        recorded = await db.scalar(
            select(func.count())
            .select_from(OrderRow)
            .where(OrderRow.session_id == opened.session_id)
        )
    assert recorded == 1


async def test_an_order_recorded_after_a_rebuild_read_the_record_is_refused(
    server: LiveServer,
) -> None:
    """The rebuild fence: an order reserved before a rebuild whose row would only be written
    after the rebuild read the record is refused (retry), so Redis never misses an order."""
    opened = await open_session(server, stock=5, limit=None)
    ctx = server.context
    late = await ctx.stock.reserve(
        opened.session_id,
        product_id=opened.product_id,
        viewer_id="late",
        qty=2,
        limit_per_viewer=None,
        order_id="ord_late",
        expires_ms=now_ms() + 60_000,
        idempotency_key="k",
        request_hash="h",
        terms_version=await terms.current_version(ctx.redis, opened.session_id),
    )
    assert isinstance(late, Reserved)
    epoch = await inventory_recovery.run_id(ctx.redis)
    assert await stock_recovery.rebuild(ctx, [opened.session_id], epoch=epoch) == [
        opened.session_id
    ]
    row = OrderRow(
        id="ord_late",
        brand=server.brand,
        session_id=opened.session_id,
        product_id=opened.product_id,
        viewer_id="late",
        qty=2,
        unit_price_cents=100,
        discount_cents=0,
        amount_cents=200,
        status=order_records.RESERVED,
        idempotency_key="k",
        request_hash="h",
        created_ms=now_ms(),
        expires_ms=now_ms() + 60_000,
    )
    with pytest.raises(ClientError) as refused:
        await order_writer.record(ctx.db, row, None, generation=late.generation)
    assert refused.value.code == Code.SALE_PAUSED
    async with transaction(ctx.db) as db:
        product = await db.get(ProductRow, opened.product_id)
        assert await db.get(OrderRow, "ord_late") is None
    assert product is not None
    assert product.committed_qty == 0
    assert product.stock_generation == late.generation + 1
    assert (await ctx.stock.levels(opened.session_id))[opened.product_id] == 5
    async with server.client(server.token("viewer", "after")) as buyer:
        placed = await buyer.post(
            f"/api/sessions/{opened.session_id}/orders",
            json={"product_id": opened.product_id, "qty": 2},
            headers={"Idempotency-Key": "after"},
        )
    assert placed.status_code == 201, placed.text
    lines = await stock_invariant.check(ctx.db, ctx.redis, opened.session_id, readings=1)
    assert all(line.consistent for line in lines)
