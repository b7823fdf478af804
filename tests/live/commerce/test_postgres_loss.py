"""PostgreSQL stops mid-sale (a private server, crashed with ``pg_ctl -m immediate``): orders are
refused with ``unavailable`` (503), nothing is half written (no hold without its order row, no
row without its hold), and sales resume when the database is back."""

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select

from live.commerce import stock_invariant
from live.db import migrate
from live.db.engine import create_engine
from live.db.models import OrderRow
from live.db.unit import transaction
from tests.support.polling import eventually
from tests.support.ports import free_port
from tests.support.private_postgres import PrivatePostgres, available
from tests.support.servers import LiveServer, ServerWith
from tests.support.sessions import open_session
from tests.support.units import UNIT_S

pytestmark = pytest.mark.skipif(not available(), reason="needs Debian's postgresql-15 binaries")


@pytest.fixture
async def private_pg() -> AsyncIterator[PrivatePostgres]:
    """A migrated private PostgreSQL, deleted after the test."""
    server = PrivatePostgres(free_port())
    try:
        await asyncio.to_thread(server.init)
        await asyncio.to_thread(server.start)
        engine = create_engine(server.url)
        await migrate.upgrade(engine)
        await engine.dispose()
        yield server
    finally:
        await asyncio.to_thread(server.destroy)


@pytest.fixture
async def node(private_pg: PrivatePostgres, server_with: ServerWith) -> LiveServer:
    """A node on the private database (stopped before the database is deleted)."""
    return await server_with(database_url=private_pg.url)


async def _buy(node: LiveServer, session_id: str, product_id: str, buyer: str) -> tuple[int, str]:
    async with node.client(node.token("viewer", buyer)) as viewer:
        answer = await viewer.post(
            f"/api/sessions/{session_id}/orders",
            json={"product_id": product_id, "qty": 1},
            headers={"Idempotency-Key": f"k-{buyer}"},
        )
    body = answer.json()
    return answer.status_code, body["error"]["code"] if "error" in body else body["order_id"]


async def test_orders_are_refused_while_postgres_is_down_and_resume_after(
    node: LiveServer, private_pg: PrivatePostgres
) -> None:
    """Before: sold. Down: 503 unavailable, nothing written, readiness fails. Back: sold again;
    the record and Redis agree on every unit."""
    opened = await open_session(node, stock=30, limit=5)
    run = uuid.uuid4().hex[:6]
    before = [
        await _buy(node, opened.session_id, opened.product_id, f"a{run}{n}") for n in range(5)
    ]
    assert [status for status, _ in before] == [201] * 5

    await asyncio.to_thread(private_pg.stop)
    during = [
        await _buy(node, opened.session_id, opened.product_id, f"b{run}{n}") for n in range(8)
    ]
    assert during == [(503, "unavailable")] * 8
    async with node.client() as probe:
        ready = await probe.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["database"].startswith("unavailable")

    await asyncio.to_thread(private_pg.start)
    after: list[tuple[int, str]] = []

    async def sells_again() -> bool:
        after.append(await _buy(node, opened.session_id, opened.product_id, f"c{run}{len(after)}"))
        return after[-1][0] == 201

    await eventually(sells_again, timeout_s=30 * UNIT_S)
    assert all(answer == (503, "unavailable") for answer in after[:-1])
    # A buyer refused during the outage retries with the same key and is served.
    retried = await _buy(node, opened.session_id, opened.product_id, f"b{run}0")
    assert retried[0] == 201

    ctx = node.context
    async with transaction(ctx.db) as db:
        rows = await db.scalar(
            select(func.count())
            .select_from(OrderRow)
            .where(OrderRow.session_id == opened.session_id)
        )
    assert rows == 5 + 1 + 1
    lines = await stock_invariant.check(ctx.db, ctx.redis, opened.session_id)
    assert lines
    assert all(line.consistent for line in lines), lines
    assert sum(line.held + line.sold for line in lines) == rows
