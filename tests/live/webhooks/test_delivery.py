"""Events reach a brand's endpoint signed per Standard Webhooks, with the data a backend needs:
the session's life, an order's life with its guide and commission, clips."""

import hashlib
import hmac
import uuid

import orjson

from tests.live.webhooks.hooks import register
from tests.live.webhooks.receiver import Receiver
from tests.support.clients import Room
from tests.support.servers import PAYMENT_SECRET, LiveServer
from tests.support.sessions import open_session
from tests.support.units import UNIT_S


async def _bind_guide(server: LiveServer, session_id: str, viewer: str) -> None:
    """The viewer arrives through guide g1's share code (the guide of the brand's plan)."""
    admin = server.token("admin", "admin-1")
    async with server.client(admin) as client:
        assert (await client.put("/api/org/stores/s1", json={"name": "Store"})).status_code == 200
        made = await client.put("/api/org/guides/g1", json={"name": "Ann", "store_id": "s1"})
        assert made.status_code == 200, made.text
        plan = await client.put(
            "/api/brands/me/commission", json={"rate_bp": 1000, "upstream_rate_bp": 0}
        )
        assert plan.status_code == 200, plan.text
    async with server.client(server.token("guide", "g1", store="s1")) as guide:
        share = (await guide.get(f"/api/guides/me/share?session_id={session_id}")).json()
    room = await Room.join(
        server.ws_url(session_id, server.token("viewer", viewer), share=share["code"])
    )
    await room.wait_type("snapshot")
    await room.close()


async def _pay(server: LiveServer, order: dict[str, object]) -> None:
    body = orjson.dumps(
        {
            "order_id": order["order_id"],
            "paid_amount_cents": order["amount_cents"],
            "provider_txn_id": f"txn-{uuid.uuid4().hex}",
        }
    )
    signature = hmac.new(PAYMENT_SECRET.encode(), body, hashlib.sha256).hexdigest()
    async with server.client() as client:
        paid = await client.post(
            "/api/payments/notify", content=body, headers={"X-Signature": signature}
        )
    assert paid.status_code == 200, paid.text


async def test_an_order_life_arrives_signed_with_guide_and_commission(
    hooked: LiveServer, receiver: Receiver
) -> None:
    """scheduled, started, reserved, paid (guide and commission), refunded, cancelled and
    ended arrive, each signed (checked by an independent verifier), in the spec's shape."""
    await register(hooked, receiver, "shop")
    opened = await open_session(hooked, stock=5, limit=None)
    await _bind_guide(hooked, opened.session_id, "v1")
    viewer = hooked.token("viewer", "v1")
    async with hooked.client(viewer) as client:
        first = await client.post(
            f"/api/sessions/{opened.session_id}/orders",
            json={"product_id": opened.product_id, "qty": 2},
            headers={"Idempotency-Key": "k1"},
        )
        second = await client.post(
            f"/api/sessions/{opened.session_id}/orders",
            json={"product_id": opened.product_id, "qty": 1},
            headers={"Idempotency-Key": "k2"},
        )
    assert first.status_code == second.status_code == 201
    await _pay(hooked, first.json())
    admin = hooked.token("admin", "admin-1")
    async with hooked.client(admin) as client:
        refunded = await client.post(f"/api/orders/{first.json()['order_id']}/refund")
        assert refunded.status_code == 200, refunded.text
    async with hooked.client(viewer) as client:
        cancelled = await client.post(f"/api/orders/{second.json()['order_id']}/cancel")
        assert cancelled.status_code == 200, cancelled.text
    async with hooked.client(opened.host_token) as client:
        assert (await client.post(f"/api/sessions/{opened.session_id}/end")).status_code == 200

    got = await receiver.wait_for("shop", 8, timeout_s=10 * UNIT_S)
    assert all(d.verified for d in got), [d.headers for d in got]
    by_type: dict[str, list[dict[str, object]]] = {}
    for delivery in got:
        payload = delivery.payload
        assert set(payload) == {"type", "timestamp", "data"}
        assert str(payload["timestamp"]).endswith("Z")
        by_type.setdefault(str(payload["type"]), []).append(payload["data"])
    assert sorted(by_type) == [
        "order.cancelled",
        "order.paid",
        "order.refunded",
        "order.reserved",
        "session.ended",
        "session.scheduled",
        "session.started",
    ]
    assert len(by_type["order.reserved"]) == 2
    paid = by_type["order.paid"][0]
    assert paid["order_id"] == first.json()["order_id"]
    assert paid["status"] == "paid"
    assert paid["guide_id"] == "g1"
    assert paid["guide_store"] == "s1"
    assert paid["commission_cents"] == first.json()["amount_cents"] // 10
    assert by_type["order.refunded"][0]["status"] == "refunded"
    assert by_type["order.cancelled"][0]["status"] == "cancelled"
    assert by_type["session.ended"][0]["session_id"] == opened.session_id
    assert len({d.webhook_id for d in got}) == len(got), "one webhook-id per event"


async def test_an_endpoint_gets_only_its_types_and_its_brand(
    hooked: LiveServer, receiver: Receiver
) -> None:
    """An endpoint subscribed to order.paid gets no session event; another brand's endpoint
    gets nothing of this brand."""
    await register(hooked, receiver, "paid-only", event_types=["session.started"])
    await register(hooked, receiver, "other", brand="another-brand")
    opened = await open_session(hooked)
    got = await receiver.wait_for("paid-only", 1, timeout_s=5 * UNIT_S)
    assert [d.payload["type"] for d in got] == ["session.started"]
    assert got[0].payload["data"]["session_id"] == opened.session_id
    async with hooked.client(hooked.token("admin", "admin-1")) as client:
        listed = (await client.get("/api/webhooks/events?type=session.scheduled")).json()
    assert [e["data"]["session_id"] for e in listed["items"]] == [opened.session_id]
    assert receiver.of("other") == []
