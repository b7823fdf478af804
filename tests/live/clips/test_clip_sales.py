"""Buying from a clip after its session ended: attributed to the guide of the clip's share
code, judged by the record (never more than the allocation), with per-clip stats."""

import asyncio
import uuid
from collections import Counter
from typing import Any

import httpx
import orjson

from live.commerce import stock_invariant
from live.db.models import ProductRow
from live.db.unit import transaction
from tests.support.clients import sign
from tests.support.polling import eventually
from tests.support.servers import LiveServer
from tests.support.sessions import open_session


async def _ended_clip(server: LiveServer, *, stock: int, limit: int | None) -> tuple[str, str, str]:
    """A session whose product was pinned, then ended and archived: (session, product, clip)."""
    opened = await open_session(server, stock=stock, limit=limit, price_cents=5_000)
    sid = opened.session_id
    async with server.client(opened.host_token) as host:
        pinned = await host.post(f"/api/sessions/{sid}/pin", json={"product_id": opened.product_id})
        assert pinned.status_code == 200, pinned.text
        await host.post(f"/api/sessions/{sid}/end")

        async def archived() -> bool:
            return (await host.get(f"/api/sessions/{sid}/clips")).status_code == 200

        await eventually(archived)
        clips = (await host.get(f"/api/sessions/{sid}/clips")).json()
    return sid, opened.product_id, clips[0]["clip_id"]


async def _buy(
    server: LiveServer, viewer: str, sid: str, clip_id: str, *, key: str, **body: Any
) -> httpx.Response:
    async with server.client(server.token("viewer", viewer)) as client:
        return await client.post(
            f"/api/sessions/{sid}/clips/{clip_id}/orders",
            json={"qty": 1, **body},
            headers={"Idempotency-Key": key},
        )


async def _pay(server: LiveServer, order: dict[str, Any]) -> None:
    body = orjson.dumps(
        {
            "order_id": order["order_id"],
            "paid_amount_cents": order["amount_cents"],
            "provider_txn_id": f"clip-{uuid.uuid4().hex}",
        }
    )
    async with server.client() as provider:
        paid = await provider.post(
            "/api/payments/notify", content=body, headers={"X-Signature": sign(body)}
        )
    assert paid.json()["status"] == "paid", paid.text


async def _committed(server: LiveServer, product_id: str) -> int:
    async with transaction(server.context.db) as db:
        product = await db.get(ProductRow, product_id)
    assert product is not None
    return product.committed_qty


async def test_a_clip_order_is_attributed_to_the_guide_of_the_share_code(
    server: LiveServer,
) -> None:
    """A viewer buying through a guide's clip code after the end gets a reserved order with the
    clip and the guide; a viewer who opened the clip through the code and buys later too; a
    retried key answers the same order; the stats count views, orders, purchases and GMV."""
    sid, _, clip_id = await _ended_clip(server, stock=5, limit=None)
    async with server.client(server.token("guide", "ann")) as guide:
        shared = await guide.get(
            "/api/guides/me/share", params={"session_id": sid, "clip_id": clip_id}
        )
    code = shared.json()["code"]
    first = await _buy(server, "fan-1", sid, clip_id, key="k1", share=code)
    assert first.status_code == 201, first.text
    again = await _buy(server, "fan-1", sid, clip_id, key="k1", share=code)
    reused = await _buy(server, "fan-1", sid, clip_id, key="k1", qty=2)
    async with server.client(server.token("viewer", "fan-2")) as viewer:
        opened = await viewer.get(f"/api/sessions/{sid}/clips/{clip_id}", params={"share": code})
        assert opened.status_code == 200
    second = await _buy(server, "fan-2", sid, clip_id, key="k2")
    assert second.status_code == 201, second.text
    await _pay(server, first.json())
    async with server.client(server.token("host", "h")) as host:
        stats = (await host.get(f"/api/sessions/{sid}/clips/{clip_id}/stats")).json()
    async with server.client(server.token("guide", "ann")) as guide:
        credited = (await guide.get("/api/guides/me/orders", params={"session_id": sid})).json()

    order = first.json()
    assert (order["status"], order["clip_id"], order["guide_id"]) == ("reserved", clip_id, "ann")
    assert order["amount_cents"] == 5_000
    assert again.json()["order_id"] == order["order_id"]
    assert reused.status_code == 422
    assert reused.json()["error"]["code"] == "idempotency_key_reused"
    assert second.json()["guide_id"] == "ann"
    assert stats == {
        "clip_id": clip_id,
        "session_id": sid,
        "product_id": order["product_id"],
        "views": 1,
        "orders": 2,
        "purchases": 1,
        "units": 1,
        "gmv_cents": 5_000,
    }
    assert {item["order_id"] for item in credited["items"]} == {
        order["order_id"],
        second.json()["order_id"],
    }
    # Clip sales never touched Redis: the live stock invariant still holds for the session.
    lines = await stock_invariant.check(server.context.db, server.context.redis, sid)
    assert all(line.consistent for line in lines), [line.describe() for line in lines]


async def test_many_buyers_on_few_units_sell_exactly_the_stock(server: LiveServer) -> None:
    """30 concurrent clip buyers of 8 units: exactly 8 orders, the record at its allocation;
    a cancelled clip order frees its unit for exactly one more buyer."""
    sid, product_id, clip_id = await _ended_clip(server, stock=8, limit=None)
    assert await _committed(server, product_id) == 0
    answers = await asyncio.gather(
        *(_buy(server, f"crowd-{n}", sid, clip_id, key=f"c{n}") for n in range(30))
    )
    statuses = Counter(answer.status_code for answer in answers)
    codes = Counter(a.json()["error"]["code"] for a in answers if a.status_code != 201)
    assert statuses == {201: 8, 409: 22}
    assert codes == {"sold_out": 22}
    assert await _committed(server, product_id) == 8
    sold = next(a.json() for a in answers if a.status_code == 201)
    async with server.client(server.token("admin", "root")) as admin:
        cancelled = await admin.post(f"/api/orders/{sold['order_id']}/cancel")
        assert cancelled.json()["status"] == "cancelled", cancelled.text
    late = await asyncio.gather(
        *(_buy(server, f"late-{n}", sid, clip_id, key=f"l{n}") for n in range(5))
    )
    assert sorted(answer.status_code for answer in late) == [201, 409, 409, 409, 409]
    assert await _committed(server, product_id) == 8


async def test_live_holds_count_against_what_a_clip_can_sell(server: LiveServer) -> None:
    """Units a viewer held in the live session are not sold again from the clip."""
    opened = await open_session(server, stock=3, limit=None, price_cents=5_000)
    sid = opened.session_id
    async with server.client(server.token("viewer", "live-buyer")) as buyer:
        held = await buyer.post(
            f"/api/sessions/{sid}/orders",
            json={"product_id": opened.product_id, "qty": 2},
            headers={"Idempotency-Key": "live"},
        )
        assert held.status_code == 201, held.text
    async with server.client(opened.host_token) as host:
        await host.post(f"/api/sessions/{sid}/pin", json={"product_id": opened.product_id})
        await host.post(f"/api/sessions/{sid}/end")

        async def archived() -> bool:
            return (await host.get(f"/api/sessions/{sid}/clips")).status_code == 200

        await eventually(archived)
        clip_id = (await host.get(f"/api/sessions/{sid}/clips")).json()[0]["clip_id"]
    answers = await asyncio.gather(
        *(_buy(server, f"v{n}", sid, clip_id, key=f"k{n}") for n in range(4))
    )
    assert sorted(answer.status_code for answer in answers) == [201, 409, 409, 409]


async def test_limit_and_lapsed_clip_orders(short_holds: LiveServer) -> None:
    """The per-viewer limit holds for clip orders; an unpaid clip order lapses and gives its
    units back."""
    server = short_holds
    sid, product_id, clip_id = await _ended_clip(server, stock=5, limit=2)
    two = await _buy(server, "fan", sid, clip_id, key="a", qty=2)
    assert two.status_code == 201, two.text
    over = await _buy(server, "fan", sid, clip_id, key="b")
    assert over.status_code == 409
    assert over.json()["error"]["code"] == "limit_exceeded"
    assert await _committed(server, product_id) == 2

    async def lapsed() -> bool:
        async with server.client(server.token("viewer", "fan")) as viewer:
            order = await viewer.get(f"/api/orders/{two.json()['order_id']}")
        return bool(order.json()["status"] == "expired")

    await eventually(lapsed)
    assert await _committed(server, product_id) == 0
    assert (await _buy(server, "fan", sid, clip_id, key="c", qty=2)).status_code == 201


async def test_clip_orders_are_refused_when_they_cannot_be_placed(server: LiveServer) -> None:
    """Not a viewer, no key, a coupon, an unknown clip, another brand, a live session: each
    has its catalog code; stats are for the brand's staff only."""
    sid, _, clip_id = await _ended_clip(server, stock=5, limit=None)
    live = await open_session(server)
    async with server.client(server.token("host", "h")) as host:
        by_host = await host.post(
            f"/api/sessions/{sid}/clips/{clip_id}/orders",
            json={"qty": 1},
            headers={"Idempotency-Key": "h"},
        )
    async with server.client(server.token("viewer", "v")) as viewer:
        no_key = await viewer.post(f"/api/sessions/{sid}/clips/{clip_id}/orders", json={"qty": 1})
        stats = await viewer.get(f"/api/sessions/{sid}/clips/{clip_id}/stats")
    coupon = await _buy(server, "v", sid, clip_id, key="c", coupon_id="cpn_x")
    unknown = await _buy(server, "v", sid, "nope", key="u")
    while_live = await _buy(server, "v", live.session_id, "any", key="l")
    async with server.client(server.token("viewer", "v", brand="other-brand")) as stranger:
        foreign = await stranger.post(
            f"/api/sessions/{sid}/clips/{clip_id}/orders",
            json={"qty": 1},
            headers={"Idempotency-Key": "f"},
        )
    async with server.client(server.token("host", "h", brand="other-brand")) as stranger:
        foreign_stats = await stranger.get(f"/api/sessions/{sid}/clips/{clip_id}/stats")

    def code(answer: httpx.Response) -> tuple[int, str]:
        return answer.status_code, answer.json()["error"]["code"]

    assert code(by_host) == (403, "forbidden")
    assert code(no_key) == (400, "idempotency_key_required")
    assert code(stats) == (403, "forbidden")
    assert code(coupon) == (422, "invalid_request")
    assert code(unknown) == (404, "not_found")
    assert code(while_live) == (409, "session_not_live")
    assert code(foreign) == (404, "not_found")
    assert code(foreign_stats) == (404, "not_found")
