"""Cancelling orders and racing reapers: a hold's units go back to stock exactly once."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from live.commerce import holds
from live.db.models import CouponClaimRow, OrderRow, ProductRow
from live.db.unit import transaction
from live.platform.clock import now_ms
from tests.support.clients import Room
from tests.support.polling import eventually
from tests.support.servers import LiveServer, cluster
from tests.support.sessions import open_session


async def _order(
    server: LiveServer,
    session_id: str,
    product_id: str,
    viewer: str,
    *,
    qty: int = 1,
    coupon_id: str | None = None,
) -> dict[str, object]:
    async with server.client(server.token("viewer", viewer)) as client:
        answer = await client.post(
            f"/api/sessions/{session_id}/orders",
            json={"product_id": product_id, "qty": qty, "coupon_id": coupon_id},
            headers={"Idempotency-Key": f"{viewer}-{coupon_id}-{qty}"},
        )
    assert answer.status_code == 201, answer.text
    order: dict[str, object] = answer.json()
    return order


async def _stock(server: LiveServer, host_token: str, session_id: str) -> int:
    async with server.client(host_token) as host:
        session = (await host.get(f"/api/sessions/{session_id}")).json()
    level: int = session["products"][0]["stock"]
    return level


async def test_buyer_cancels_once_and_gets_the_coupon_back(server: LiveServer) -> None:
    """A cancel returns the units and the coupon claim once; repeating it changes nothing."""
    opened = await open_session(server, stock=5, limit=5, price_cents=1_000)
    room = await Room.join(server.ws_url(opened.session_id, server.token("viewer", "ann")))
    await room.wait_type("snapshot")
    async with server.client(opened.host_token) as host:
        dropped = await host.post(
            f"/api/sessions/{opened.session_id}/coupons",
            json={"title": "10%", "kind": "percent_off", "value": 10, "quantity": 5},
        )
    coupon_id = dropped.json()["coupon_id"]
    await room.send({"type": "claim", "coupon_id": coupon_id, "ref": "c"})
    assert (await room.wait_for(lambda f: f.get("ref") == "c"))["type"] == "ack"
    order = await _order(
        server, opened.session_id, opened.product_id, "ann", qty=2, coupon_id=coupon_id
    )
    assert order["amount_cents"] == 1_800
    assert await _stock(server, opened.host_token, opened.session_id) == 3
    async with server.client(server.token("viewer", "ann")) as ann:
        first, second = await asyncio.gather(
            ann.post(f"/api/orders/{order['order_id']}/cancel"),
            ann.post(f"/api/orders/{order['order_id']}/cancel"),
        )
        assert (first.status_code, second.status_code) == (200, 200)
        assert first.json()["status"] == second.json()["status"] == "cancelled"
        again = await ann.post(f"/api/orders/{order['order_id']}/cancel")
        assert again.json()["status"] == "cancelled"
    back = await room.wait_for(
        lambda f: f.get("type") == "stock" and f["levels"].get(opened.product_id) == 5
    )
    assert back["levels"][opened.product_id] == 5
    assert await _stock(server, opened.host_token, opened.session_id) == 5
    reused = await _order(
        server, opened.session_id, opened.product_id, "ann", qty=1, coupon_id=coupon_id
    )
    assert reused["amount_cents"] == 900
    ctx = server.context
    async with transaction(ctx.db) as db:
        product = await db.get(ProductRow, opened.product_id)
        claims = list(
            await db.scalars(select(CouponClaimRow).where(CouponClaimRow.coupon_id == coupon_id))
        )
    assert product is not None
    assert product.committed_qty == 1
    assert [claim.order_id for claim in claims] == [reused["order_id"]]
    await room.close()


async def test_who_may_cancel(server: LiveServer) -> None:
    """Another viewer cannot see the order; the brand's host can cancel it; paid is final."""
    opened = await open_session(server, stock=5, limit=5)
    order = await _order(server, opened.session_id, opened.product_id, "bob")
    async with server.client(server.token("viewer", "eve")) as eve:
        stranger = await eve.post(f"/api/orders/{order['order_id']}/cancel")
    assert stranger.json()["error"]["code"] == "not_found"
    other_brand = server.token("host", "h", brand="other-brand")
    async with server.client(other_brand) as foreign:
        foreign_host = await foreign.post(f"/api/orders/{order['order_id']}/cancel")
    assert foreign_host.json()["error"]["code"] == "not_found"
    async with server.client(opened.host_token) as host:
        cancelled = await host.post(f"/api/orders/{order['order_id']}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"


@pytest.fixture
async def short_hold_pair(
    tmp_path: Path, database_url: str, redis_url: str
) -> AsyncIterator[tuple[LiveServer, LiveServer]]:
    """Two instances over the same engines whose holds last one second."""
    async with cluster(
        tmp_path, 2, database_url=database_url, redis_url=redis_url, hold_ttl_s=1
    ) as nodes:
        yield nodes[0], nodes[1]


async def test_two_reapers_race_and_stock_returns_once(
    short_hold_pair: tuple[LiveServer, LiveServer],
) -> None:
    """Both instances settle the same expired holds at once: each unit comes back once."""
    a, b = short_hold_pair
    opened = await open_session(a, stock=12, limit=2)
    orders = [
        await _order(a if n % 2 else b, opened.session_id, opened.product_id, f"r{n}", qty=2)
        for n in range(6)
    ]
    order_ids = [str(order["order_id"]) for order in orders]
    contexts = [a.context, b.context]
    expiries = [int(str(order["expires_at"])) for order in orders]

    async def lapsed() -> bool:
        return now_ms() > max(expiries)

    await eventually(lapsed)
    calls = len(contexts) * 2
    returned = await asyncio.gather(
        *(
            holds.expire(ctx, opened.session_id, order_id)
            for order_id in order_ids
            for ctx in contexts * 2
        )
    )
    # Per order, at most one of the racing calls returned its units (the nodes' own sweeps
    # may have settled some first, then none of ours did).
    per_order = [sum(returned[n * calls : (n + 1) * calls]) for n in range(len(order_ids))]
    assert max(per_order) <= 1, per_order
    assert await _stock(a, opened.host_token, opened.session_id) == 12
    async with transaction(contexts[0].db) as db:
        product = await db.get(ProductRow, opened.product_id)
        rows = [await db.get(OrderRow, order_id) for order_id in order_ids]
    statuses = {row.status for row in rows if row is not None}
    assert product is not None
    assert product.committed_qty == 0
    assert statuses == {"expired"}
