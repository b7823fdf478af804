"""Group commit of orders: a burst is written in a few transactions, and each order still gets
its own answer from the record (sold out, stale generation, session over)."""

import asyncio
from collections import Counter

import pytest
from sqlalchemy import func, select

from common.errors import ClientError
from live.commerce import order_writer
from live.commerce.order_writer import OrderWriter
from live.db.models import OrderRow, ProductRow
from live.db.unit import transaction
from live.platform.clock import now_ms
from tests.support.servers import LiveServer
from tests.support.sessions import open_session


def _order(server: LiveServer, session_id: str, product_id: str, n: int) -> OrderRow:
    return OrderRow(
        id=f"ord_w{n}_{now_ms()}",
        brand=server.brand,
        session_id=session_id,
        product_id=product_id,
        viewer_id=f"v{n}",
        qty=1,
        unit_price_cents=100,
        discount_cents=0,
        amount_cents=100,
        status="reserved",
        idempotency_key=f"k{n}",
        request_hash="h",
        created_ms=now_ms(),
        expires_ms=now_ms() + 60_000,
    )


async def _outcomes(writer: OrderWriter, orders: list[tuple[OrderRow, int]]) -> Counter[str]:
    async def one(order: OrderRow, generation: int) -> str:
        try:
            await writer.write(order, None, generation=generation)
        except ClientError as exc:
            return exc.code
        return "written"

    return Counter(await asyncio.gather(*(one(o, g) for o, g in orders)))


async def _recorded(server: LiveServer, product_id: str) -> tuple[int, int]:
    async with transaction(server.context.db) as db:
        rows = await db.scalar(
            select(func.count()).select_from(OrderRow).where(OrderRow.product_id == product_id)
        )
        product = await db.get(ProductRow, product_id)
    assert product is not None
    return int(rows or 0), product.committed_qty


async def test_a_burst_is_written_in_a_few_transactions(server: LiveServer) -> None:
    """120 orders arriving at once take far fewer transactions than orders, all written."""
    opened = await open_session(server, stock=500, limit=None)
    writer = OrderWriter(server.context.db)
    burst = [(_order(server, opened.session_id, opened.product_id, n), 0) for n in range(120)]
    assert await _outcomes(writer, burst) == {"written": 120}
    assert writer.batches <= 10
    assert await _recorded(server, opened.product_id) == (120, 120)


async def test_each_order_of_a_refused_batch_gets_its_own_answer(server: LiveServer) -> None:
    """One stale generation and one unit too many in a batch: the rest are still written."""
    opened = await open_session(server, stock=5, limit=None)
    writer = OrderWriter(server.context.db)
    orders = [(_order(server, opened.session_id, opened.product_id, n), 0) for n in range(6)]
    orders.append((_order(server, opened.session_id, opened.product_id, 99), 7))
    outcome = await _outcomes(writer, orders)
    assert outcome == {"written": 5, "sold_out": 1, "sale_paused": 1}
    assert await _recorded(server, opened.product_id) == (5, 5)


async def test_orders_of_an_ended_session_are_refused(server: LiveServer) -> None:
    """The record judges the session's status for every order of a batch."""
    opened = await open_session(server, stock=5, limit=None)
    async with server.client(opened.host_token) as host:
        ended = await host.post(f"/api/sessions/{opened.session_id}/end")
        assert ended.status_code == 200, ended.text
    writer = OrderWriter(server.context.db)
    orders = [(_order(server, opened.session_id, opened.product_id, n), 0) for n in range(3)]
    assert await _outcomes(writer, orders) == {"session_not_live": 3}
    assert await _recorded(server, opened.product_id) == (0, 0)


async def test_it_is_busy_while_a_batch_is_written_and_a_moment_after(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the rooms' ticks give way to: busy from the first order queued until `BUSY_AFTER_S`
    after the last batch, idle before and after."""
    opened = await open_session(server, stock=50, limit=None)
    writer = OrderWriter(server.context.db)
    assert not writer.busy()
    orders = [_order(server, opened.session_id, opened.product_id, n) for n in range(20)]
    writes = [asyncio.create_task(writer.write(o, None, generation=0)) for o in orders]
    await asyncio.sleep(0)
    assert writer.busy(), "orders queued"
    seen_busy = []
    while not all(write.done() for write in writes):
        seen_busy.append(writer.busy())
        await asyncio.sleep(0)
    await asyncio.gather(*writes)
    assert seen_busy
    assert all(seen_busy), "busy through every batch"
    assert await _recorded(server, opened.product_id) == (20, 20)
    assert writer.busy(), "just after the last batch"
    monkeypatch.setattr(order_writer, "BUSY_AFTER_S", 0.0)
    assert not writer.busy()
