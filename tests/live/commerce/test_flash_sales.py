"""Flash sales: the host opens and closes a sale; orders in its window use its price, limit and
cap; orders outside the window are refused; viewers get the events and the countdown."""

import asyncio
import contextlib
from pathlib import Path

import httpx

from live.commerce import flash_sales, order_records
from live.db.models import SaleRow
from live.db.unit import transaction
from live.platform.clock import now_ms
from tests.live.commerce.buyers import crowd
from tests.support.clients import Room
from tests.support.servers import LiveServer, cluster
from tests.support.sessions import open_session
from tests.support.units import UNIT_S


async def _order(
    server: LiveServer, session_id: str, product_id: str, viewer: str, qty: int = 1
) -> httpx.Response:
    async with server.client(server.token("viewer", viewer)) as client:
        return await client.post(
            f"/api/sessions/{session_id}/orders",
            json={"product_id": product_id, "qty": qty},
            headers={"Idempotency-Key": f"{viewer}-{qty}-{now_ms()}"},
        )


async def test_sale_prices_limits_and_events(server: LiveServer) -> None:
    """During the window: sale price and limit; ``sale_open``/``sale_close`` reach viewers,
    the snapshot lists the open sale; after closing, the normal price applies again."""
    opened = await open_session(server, stock=20, limit=5, price_cents=10_000)
    room = await Room.join(server.ws_url(opened.session_id, server.token("viewer", "w")))
    await room.wait_type("snapshot")
    async with server.client(opened.host_token) as host:
        answer = await host.post(
            f"/api/sessions/{opened.session_id}/sales",
            json={
                "product_id": opened.product_id,
                "sale_price_cents": 4_900,
                "duration_s": 600,
                "stock_cap": 3,
                "per_viewer_limit": 1,
            },
        )
        assert answer.status_code == 201, answer.text
        sale = answer.json()
        assert sale["ends_at"] - sale["starts_at"] == 600_000
        event = await room.wait_type("sale_open")
        assert (event["sale_id"], event["ends_at"]) == (sale["sale_id"], sale["ends_at"])
        late = await Room.join(server.ws_url(opened.session_id, server.token("viewer", "l")))
        snapshot = await late.wait_type("snapshot")
        assert [s["sale_id"] for s in snapshot["sales"]] == [sale["sale_id"]]
        await late.close()
        first = await _order(server, opened.session_id, opened.product_id, "a")
        assert first.json()["unit_price_cents"] == 4_900
        again = await _order(server, opened.session_id, opened.product_id, "a")
        assert again.json()["error"]["code"] == "limit_exceeded"
        for viewer in ("b", "c"):
            assert (
                await _order(server, opened.session_id, opened.product_id, viewer)
            ).status_code == 201
        capped = await _order(server, opened.session_id, opened.product_id, "d")
        assert capped.json()["error"]["code"] == "sold_out"
        closed = await host.post(f"/api/sessions/{opened.session_id}/sales/{sale['sale_id']}/close")
        assert closed.json()["status"] == "closed"
        assert (await room.wait_type("sale_close"))["sale_id"] == sale["sale_id"]
        twice = await host.post(f"/api/sessions/{opened.session_id}/sales/{sale['sale_id']}/close")
        assert twice.status_code == 200
    after = await _order(server, opened.session_id, opened.product_id, "d", qty=2)
    assert after.json()["unit_price_cents"] == 10_000
    levels = await server.context.stock.levels(opened.session_id)
    assert levels[opened.product_id] == 20 - 3 - 2
    await room.close()


async def test_orders_outside_the_window_are_refused(server: LiveServer) -> None:
    """A sale that has not started refuses orders of its product with ``sale_not_open``."""
    opened = await open_session(server, stock=5, limit=5)
    async with server.client(opened.host_token) as host:
        answer = await host.post(
            f"/api/sessions/{opened.session_id}/sales",
            json={
                "product_id": opened.product_id,
                "sale_price_cents": 1,
                "starts_in_s": 3_600,
                "duration_s": 60,
                "stock_cap": 5,
            },
        )
        assert answer.status_code == 201, answer.text
        refused = await _order(server, opened.session_id, opened.product_id, "early")
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "sale_not_open"
        bad = await host.post(
            f"/api/sessions/{opened.session_id}/sales",
            json={"product_id": opened.product_id, "sale_price_cents": 1, "stock_cap": 1},
        )
        assert bad.json()["error"]["code"] == "invalid_request"


async def test_sale_cap_holds_under_a_crowd(server: LiveServer) -> None:
    """150 buyers for a sale capped at 20 units of a 100-unit product: exactly 20 sold."""
    opened = await open_session(server, stock=100, limit=None)
    async with server.client(opened.host_token) as host:
        answer = await host.post(
            f"/api/sessions/{opened.session_id}/sales",
            json={
                "product_id": opened.product_id,
                "sale_price_cents": 100,
                "duration_s": 600,
                "stock_cap": 20,
                "per_viewer_limit": 1,
            },
        )
        assert answer.status_code == 201
    outcome = await crowd([server], opened.session_id, opened.product_id, buyers=150)
    assert len(outcome.orders) == 20
    assert set(outcome.refused.values()) == {"sold_out"}
    levels = await server.context.stock.levels(opened.session_id)
    assert levels[opened.product_id] == 80


async def test_a_sale_closes_itself_at_its_end(
    tmp_path: Path, database_url: str, redis_url: str
) -> None:
    """At ``ends_at`` the sale closes once (two nodes race for it): one ``sale_close``, the
    record says closed, and the product sells at its normal price again."""
    async with cluster(tmp_path, 2, database_url=database_url, redis_url=redis_url) as nodes:
        opened = await open_session(nodes[0], stock=10, limit=None, price_cents=10_000)
        room = await Room.join(nodes[1].ws_url(opened.session_id, nodes[1].token("viewer", "w")))
        await room.wait_type("snapshot")
        async with nodes[0].client(opened.host_token) as host:
            answer = await host.post(
                f"/api/sessions/{opened.session_id}/sales",
                json={
                    "product_id": opened.product_id,
                    "sale_price_cents": 4_900,
                    "duration_s": 1,
                    "stock_cap": 5,
                },
            )
            assert answer.status_code == 201, answer.text
        sale = answer.json()
        in_sale = await _order(nodes[1], opened.session_id, opened.product_id, "early")
        assert in_sale.json()["unit_price_cents"] == 4_900
        closed = await room.wait_type("sale_close", timeout_s=10 * UNIT_S)
        assert closed["sale_id"] == sale["sale_id"]
        assert closed["ts"] >= sale["ends_at"]
        after = await _order(nodes[0], opened.session_id, opened.product_id, "after")
        assert after.json()["unit_price_cents"] == 10_000
        # Give the other node's closer two passes: still only one sale_close.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2 * flash_sales.CLOSE_INTERVAL_S):
                while True:
                    await room.next_frame()
        assert not [f for f in room.frames if f.get("type") == "sale_close"]
        async with transaction(nodes[0].context.db) as db:
            row = await db.get(SaleRow, sale["sale_id"])
        assert row is not None
        assert row.status == order_records.SALE_CLOSED
        await room.close()
