"""Commission: earned on paid orders at the brand's rate (or the product's override), a
second-level share for the upstream guide, reversed on refund, summed in the guide summary."""

import uuid

import orjson

from tests.live.guides.shares import join_and_buy, share_code
from tests.support.clients import sign
from tests.support.servers import LiveServer
from tests.support.sessions import open_session


async def _pay(server: LiveServer, order: dict[str, object], txn: str) -> None:
    body = orjson.dumps(
        {
            "order_id": order["order_id"],
            "paid_amount_cents": order["amount_cents"],
            # Unique: the PostgreSQL run shares one database across the suite.
            "provider_txn_id": f"{txn}-{uuid.uuid4().hex}",
        }
    )
    async with server.client() as provider:
        paid = await provider.post(
            "/api/payments/notify", content=body, headers={"X-Signature": sign(body)}
        )
    assert paid.json()["status"] == "paid", paid.text


async def _summary(server: LiveServer, guide: str, **params: str) -> dict[str, object]:
    async with server.client(server.token("guide", guide)) as client:
        answer = await client.get("/api/guides/me/summary", params=params)
    assert answer.status_code == 200, answer.text
    body: dict[str, object] = answer.json()
    return body


async def test_commission_is_earned_on_payment_and_reversed_on_refund(server: LiveServer) -> None:
    """10 % for the guide, 2 % for its upstream; a product at 15 %; a refund reverses; an
    unpaid order earns nothing; a rate change later does not touch what was earned."""
    async with server.client(server.token("admin", "boss")) as admin:
        plan = await admin.put(
            "/api/brands/me/commission", json={"rate_bp": 1_000, "upstream_rate_bp": 200}
        )
        assert plan.json() == {"rate_bp": 1_000, "upstream_rate_bp": 200}
        await admin.put("/api/org/guides/lead", json={"name": "Lead"})
        await admin.put("/api/org/guides/wei", json={"name": "Wei", "upstream_guide_id": "lead"})
    opened = await open_session(server, stock=10, limit=5, price_cents=20_000)
    async with server.client(opened.host_token) as host:
        special = await host.post(
            f"/api/sessions/{opened.session_id}/products",
            json={
                "sku": "SKU-2",
                "title": "Silk scarf",
                "price_cents": 10_000,
                "stock": 5,
                "commission_bp": 1_500,
            },
        )
        assert special.status_code == 201, special.text
    share = await share_code(server, opened.session_id, "wei")
    code = share["code"]
    first = await join_and_buy(
        server, opened.session_id, opened.product_id, "c1", share=code, key="1"
    )
    second = await join_and_buy(
        server, opened.session_id, special.json()["product_id"], "c2", share=code, key="2"
    )
    unpaid = await join_and_buy(
        server, opened.session_id, opened.product_id, "c3", share=code, key="3"
    )
    assert unpaid["guide_id"] == "wei"
    await _pay(server, first, "t1")
    await _pay(server, second, "t2")
    summary = await _summary(server, "wei")
    assert summary == {
        "guide_id": "wei",
        "viewers_brought": 3,
        "conversion": 0.6667,
        "orders": 3,
        "paid_orders": 2,
        "buyers": 2,
        "gmv_cents": 30_000,
        "commission_cents": 2_000 + 1_500,
        "upstream_commission_cents": 0,
        "reversed_commission_cents": 0,
    }
    lead = await _summary(server, "lead")
    assert (lead["orders"], lead["upstream_commission_cents"]) == (0, 400 + 200)
    async with server.client(server.token("admin", "boss")) as admin:
        await admin.put("/api/brands/me/commission", json={"rate_bp": 5_000, "upstream_rate_bp": 0})
        refunded = await admin.post(f"/api/orders/{second['order_id']}/refund")
        assert refunded.json()["status"] == "refunded", refunded.text
        again = await admin.post(f"/api/orders/{second['order_id']}/refund")
        assert again.json()["status"] == "refunded"
        not_paid = await admin.post(f"/api/orders/{unpaid['order_id']}/refund")
        assert not_paid.json()["error"]["code"] == "conflict"
    after = await _summary(server, "wei")
    assert (after["commission_cents"], after["reversed_commission_cents"]) == (2_000, 1_500)
    assert (await _summary(server, "lead"))["upstream_commission_cents"] == 400
    assert (await _summary(server, "wei", status="refunded"))["orders"] == 1
    assert (await _summary(server, "wei", session_id="ses_none"))["orders"] == 0
    async with server.client(server.token("guide", "wei")) as guide:
        page = await guide.get("/api/guides/me/orders", params={"status": "paid"})
        assert [item["commission_cents"] for item in page.json()["items"]] == [2_000]
        bad = await guide.get("/api/guides/me/orders", params={"status": "lost"})
        assert bad.json()["error"]["code"] == "invalid_request"


async def test_only_admins_set_rates_and_refund(server: LiveServer) -> None:
    """A guide reads the plan but cannot change it or refund; another brand's order is unknown."""
    opened = await open_session(server, stock=2)
    order = await join_and_buy(
        server, opened.session_id, opened.product_id, "c", share=None, key="k"
    )
    await _pay(server, order, "t")
    async with server.client(server.token("guide", "g")) as guide:
        assert (await guide.get("/api/brands/me/commission")).json() == {
            "rate_bp": 0,
            "upstream_rate_bp": 0,
        }
        changed = await guide.put(
            "/api/brands/me/commission", json={"rate_bp": 1, "upstream_rate_bp": 1}
        )
        assert changed.json()["error"]["code"] == "forbidden"
        refused = await guide.post(f"/api/orders/{order['order_id']}/refund")
        assert refused.json()["error"]["code"] == "forbidden"
    async with server.client(server.token("admin", "a", brand="rival")) as rival:
        unknown = await rival.post(f"/api/orders/{order['order_id']}/refund")
        assert unknown.status_code == 404
    async with server.client(server.token("admin", "a")) as admin:
        too_high = await admin.put(
            "/api/brands/me/commission", json={"rate_bp": 10_001, "upstream_rate_bp": 0}
        )
        assert too_high.json()["error"]["code"] == "invalid_request"
