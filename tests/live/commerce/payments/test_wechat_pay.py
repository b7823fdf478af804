"""WeChat Pay API v3 through `wechatpayv3`, against the local stand-in gateway: prepay, the
callback verified against the platform certificate and decrypted, duplicate and forged
callbacks, refunds."""

import asyncio
import base64
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from sqlalchemy import select

from live.db.models import PaymentRow
from live.db.unit import transaction
from tests.live.commerce.payments.conftest import APPID, WeChatWorld
from tests.live.commerce.payments.wechat_standin import new_key
from tests.support.servers import LiveServer
from tests.support.sessions import open_session

OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"


async def _reserved(server: LiveServer, viewer: str = "bob") -> tuple[dict[str, Any], str]:
    """A viewer's reserved order in a live session (brought by guide wei)."""
    opened = await open_session(server, stock=5, price_cents=19_900)
    guide = server.token("guide", "wei", name="Wei")
    async with server.client(guide) as client:
        code = (
            await client.get("/api/guides/me/share", params={"session_id": opened.session_id})
        ).json()["code"]
    token = server.token("viewer", viewer, name="Bob")
    from tests.support.clients import Room

    room = await Room.join(server.ws_url(opened.session_id, token, share=code))
    await room.wait_type("snapshot")
    await room.close()
    async with server.client(token) as client:
        order = await client.post(
            f"/api/sessions/{opened.session_id}/orders",
            json={"product_id": opened.product_id, "qty": 1},
            headers={"Idempotency-Key": f"k-{viewer}"},
        )
    assert order.status_code == 201, order.text
    return order.json(), token


async def _prepay(server: LiveServer, token: str, order_id: str) -> dict[str, Any]:
    async with server.client(token) as client:
        answer = await client.post(f"/api/orders/{order_id}/pay", json={"openid": OPENID})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def _order(server: LiveServer, token: str, order_id: str) -> dict[str, Any]:
    async with server.client(token) as client:
        body: dict[str, Any] = (await client.get(f"/api/orders/{order_id}")).json()
    return body


async def _payments(server: LiveServer, order_id: str) -> list[PaymentRow]:
    async with transaction(server.context.db) as db:
        return list(await db.scalars(select(PaymentRow).where(PaymentRow.order_id == order_id)))


async def test_prepay_places_the_order_and_signs_the_request_payment(wechat: WeChatWorld) -> None:
    """The gateway gets the order (id, amount, payer, notify URL) under the merchant's valid
    signature; the client gets wx.requestPayment parameters signed with the merchant's key;
    asking again answers the same prepay."""
    order, token = await _reserved(wechat.server)
    first = await _prepay(wechat.server, token, order["order_id"])
    again = await _prepay(wechat.server, token, order["order_id"])
    placed = wechat.standin.prepays[order["order_id"]]
    assert placed["amount"] == {"total": 19_900, "currency": "CNY"}
    assert placed["payer"] == {"openid": OPENID}
    assert placed["appid"] == APPID
    assert placed["notify_url"].endswith("/api/payments/wechat/notify")
    assert wechat.standin.refused_signatures == 0
    assert first["provider"] == "wechat"
    assert first["prepay_id"] == again["prepay_id"] == placed["prepay_id"]
    pay = first["request_payment"]
    assert pay["package"] == f"prepay_id={placed['prepay_id']}"
    assert (pay["appId"], pay["signType"]) == (APPID, "RSA")
    message = f"{pay['appId']}\n{pay['timeStamp']}\n{pay['nonceStr']}\n{pay['package']}\n"
    wechat.standin.merchant_public_key.verify(
        base64.b64decode(pay["paySign"]), message.encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    async with wechat.server.client(token) as client:
        no_openid = await client.post(f"/api/orders/{order['order_id']}/pay", json={})
    assert no_openid.json()["error"]["code"] == "invalid_request"


async def test_a_verified_callback_pays_the_order_once(wechat: WeChatWorld) -> None:
    """The callback is verified and decrypted: the order is paid (with its guide's commission)
    and recorded as a WeChat payment; the same callback again, even ten at once, changes
    nothing."""
    server = wechat.server
    order, token = await _reserved(server)
    await _prepay(server, token, order["order_id"])
    answer = await wechat.standin.notify(order["order_id"])
    assert answer.status_code == 200, answer.text
    assert answer.json()["code"] == "SUCCESS"
    repeats = await asyncio.gather(*(wechat.standin.notify(order["order_id"]) for _ in range(10)))
    assert {r.status_code for r in repeats} == {200}
    assert (await _order(server, token, order["order_id"]))["status"] == "paid"
    paid = await _payments(server, order["order_id"])
    assert [(p.provider, p.paid_amount_cents) for p in paid] == [("wechat", 19_900)]
    assert paid[0].provider_txn_id.startswith("wechat:42000")
    async with server.client(server.token("guide", "wei")) as guide:
        mine = (await guide.get("/api/guides/me/orders")).json()["items"]
    assert [(o["status"], o["commission_cents"]) for o in mine] == [("paid", 0)]


async def test_forged_stale_and_foreign_callbacks_are_refused(wechat: WeChatWorld) -> None:
    """A callback signed with another key, replayed after five minutes, encrypted with
    another APIv3 key, naming another merchant, or altered after signing: 401
    bad_signature each, and the order stays reserved with no payment recorded."""
    server, standin = wechat.server, wechat.standin
    order, token = await _reserved(server)
    await _prepay(server, token, order["order_id"])
    forged = [
        await standin.notify(order["order_id"], signing_key=new_key()),
        await standin.notify(order["order_id"], age_s=600),
        await standin.notify(order["order_id"], apiv3_key="k" * 32),
        await standin.notify(order["order_id"], mchid="1900000999"),
    ]
    headers, body = standin.callback(order["order_id"])
    async with server.client() as provider:
        altered = await provider.post(
            "/api/payments/wechat/notify",
            content=body.replace(b"TRANSACTION", b"TRANSACTI0N"),
            headers=headers,
        )
        unsigned = await provider.post("/api/payments/wechat/notify", content=body)
    answers = [*forged, altered, unsigned]
    assert [(a.status_code, a.json()["error"]["code"]) for a in answers] == [
        (401, "bad_signature")
    ] * 6
    assert (await _order(server, token, order["order_id"]))["status"] == "reserved"
    assert await _payments(server, order["order_id"]) == []


async def test_a_refund_goes_through_wechat_once(wechat: WeChatWorld) -> None:
    """An admin's refund asks the gateway to refund the transaction in full (signed request,
    named after the order), then marks the order refunded; refunding again asks nothing."""
    server, standin = wechat.server, wechat.standin
    order, token = await _reserved(server)
    await _prepay(server, token, order["order_id"])
    await standin.notify(order["order_id"])
    admin = server.token("admin", "boss")
    async with server.client(admin) as client:
        first = await client.post(f"/api/orders/{order['order_id']}/refund")
        second = await client.post(f"/api/orders/{order['order_id']}/refund")
    assert first.status_code == 200, first.text
    assert first.json()["status"] == second.json()["status"] == "refunded"
    transaction_id = standin.prepays[order["order_id"]]["transaction_id"]
    assert list(standin.refunds) == [f"rf_{order['order_id']}"]
    refund = standin.refunds[f"rf_{order['order_id']}"]
    assert refund["transaction_id"] == transaction_id
    assert refund["amount"] == {"refund": 19_900, "total": 19_900, "currency": "CNY"}
    assert [p.refund_id for p in await _payments(server, order["order_id"])] == [
        refund["refund_id"]
    ]
    assert standin.refused_signatures == 0
