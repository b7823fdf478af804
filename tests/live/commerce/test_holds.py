"""Holds expire: stock returns once, a late payment needs a refund, a paid hold stays sold."""

import orjson
from sqlalchemy import func, select

from live.db.models import PaymentRow, ProductRow
from live.db.unit import transaction
from tests.support.clients import Room, sign
from tests.support.polling import eventually
from tests.support.servers import LiveServer
from tests.support.sessions import open_session
from tests.support.units import UNIT_S


async def _order(server: LiveServer, session_id: str, product_id: str, viewer: str) -> str:
    async with server.client(server.token("viewer", viewer)) as client:
        answer = await client.post(
            f"/api/sessions/{session_id}/orders",
            json={"product_id": product_id, "qty": 2},
            headers={"Idempotency-Key": f"{viewer}-key"},
        )
    assert answer.status_code == 201, answer.text
    order_id: str = answer.json()["order_id"]
    return order_id


async def _pay(server: LiveServer, order_id: str, amount: int) -> dict[str, object]:
    body = orjson.dumps(
        {"order_id": order_id, "paid_amount_cents": amount, "provider_txn_id": f"t-{order_id}"}
    )
    async with server.client() as client:
        answer = await client.post(
            "/api/payments/notify", content=body, headers={"X-Signature": sign(body)}
        )
    result: dict[str, object] = answer.json()
    return result


async def test_unpaid_hold_returns_stock_and_late_payment_requires_a_refund(
    short_holds: LiveServer,
) -> None:
    """An unpaid order expires, viewers see the stock back; its late payment is recorded as
    ``refund_required`` and never takes the stock again."""
    server = short_holds
    opened = await open_session(server, stock=5, limit=5, price_cents=100)
    room = await Room.join(server.ws_url(opened.session_id, server.token("viewer", "w")))
    await room.wait_type("snapshot")
    unpaid = await _order(server, opened.session_id, opened.product_id, "late")
    paid = await _order(server, opened.session_id, opened.product_id, "prompt")
    assert (await _pay(server, paid, 200))["status"] == "paid"
    back = await room.wait_for(
        lambda f: f.get("type") == "stock" and f["levels"].get(opened.product_id) == 3,
        timeout_s=10 * UNIT_S,
    )
    assert back["levels"][opened.product_id] == 3

    async with server.client(server.token("viewer", "late")) as client:

        async def expired() -> bool:
            answer = await client.get(f"/api/orders/{unpaid}")
            return bool(answer.json()["status"] == "expired")

        await eventually(expired)
    late = await _pay(server, unpaid, 200)
    assert late == {"order_id": unpaid, "status": "refund_required", "duplicate": False}
    again = await _pay(server, unpaid, 200)
    assert again == {"order_id": unpaid, "status": "refund_required", "duplicate": True}
    async with server.client(server.token("viewer", "late")) as client:
        order = (await client.get(f"/api/orders/{unpaid}")).json()
    assert order["status"] == "refund_required"
    async with server.client(opened.host_token) as host:
        session = (await host.get(f"/api/sessions/{opened.session_id}")).json()
    assert session["products"][0]["stock"] == 3
    ctx = server.context
    async with transaction(ctx.db) as db:
        product = await db.get(ProductRow, opened.product_id)
        payments = await db.scalar(
            select(func.count()).select_from(PaymentRow).where(PaymentRow.order_id == unpaid)
        )
    assert product is not None
    assert product.committed_qty == 2
    assert payments == 1
    await room.close()
