"""A viewer's own orders (``GET /api/orders/mine``) and paying through the development
provider: the pay page's button sends the signed notification, once."""

import asyncio
from typing import Any

from tests.support.servers import LiveServer
from tests.support.sessions import open_session


async def _buy(
    server: LiveServer, session_id: str, product_id: str, viewer: str, key: str
) -> dict[str, Any]:
    async with server.client(server.token("viewer", viewer)) as client:
        answer = await client.post(
            f"/api/sessions/{session_id}/orders",
            json={"product_id": product_id, "qty": 1},
            headers={"Idempotency-Key": key},
        )
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def test_my_orders_are_mine_newest_first_and_paged(server: LiveServer) -> None:
    """A viewer lists its own orders only (not another viewer's, not another brand's), newest
    first with the product's title, a page at a time, filtered by session."""
    first = await open_session(server, stock=10, limit=None)
    second = await open_session(server, stock=10, limit=None)
    mine = [
        await _buy(server, first.session_id, first.product_id, "ann", "a1"),
        await _buy(server, second.session_id, second.product_id, "ann", "a2"),
        await _buy(server, first.session_id, first.product_id, "ann", "a3"),
    ]
    await _buy(server, first.session_id, first.product_id, "bea", "b1")
    async with server.client(server.token("viewer", "ann")) as ann:
        page = (await ann.get("/api/orders/mine", params={"limit": 2})).json()
        rest = (await ann.get("/api/orders/mine", params={"cursor": page["next_cursor"]})).json()
        in_first = (
            await ann.get("/api/orders/mine", params={"session_id": first.session_id})
        ).json()
        bad = await ann.get("/api/orders/mine", params={"cursor": "%%%"})
    async with server.client(server.token("viewer", "ann", brand="other-brand")) as stranger:
        foreign = (await stranger.get("/api/orders/mine")).json()
    async with server.client(server.token("guide", "g")) as guide:
        refused = await guide.get("/api/orders/mine")
    listed = [o["order_id"] for o in page["items"] + rest["items"]]
    assert listed == [o["order_id"] for o in reversed(mine)]
    assert rest["next_cursor"] is None
    assert page["items"][0]["title"] == "Wool coat"
    assert {o["order_id"] for o in in_first["items"]} == {mine[0]["order_id"], mine[2]["order_id"]}
    assert bad.json()["error"]["code"] == "invalid_request"
    assert foreign["items"] == []
    assert refused.status_code == 403


async def test_the_development_provider_pays_once(dev_paying: LiveServer) -> None:
    """Pay answers the pay page; its button (clicked five times at once) pays the order through
    the signed notification once; the order cannot be paid again; others cannot pay it."""
    opened = await open_session(dev_paying, stock=3)
    order = await _buy(dev_paying, opened.session_id, opened.product_id, "cai", "c1")
    path = f"/api/orders/{order['order_id']}"
    async with dev_paying.client(dev_paying.token("viewer", "cai")) as cai:
        started = (await cai.post(f"{path}/pay", json={})).json()
        clicks = await asyncio.gather(
            *(cai.post(f"/api/dev/payments/{order['order_id']}") for _ in range(5))
        )
        after = (await cai.get(path)).json()
        again = await cai.post(f"{path}/pay", json={})
    async with dev_paying.client(dev_paying.token("viewer", "dan")) as dan:
        other = await dan.post(f"/api/dev/payments/{order['order_id']}")
    assert started["provider"] == "dev"
    assert started["pay_url"] == f"/pay/{order['order_id']}"
    answered = [c.json() for c in clicks if c.status_code == 200]
    assert [a["duplicate"] for a in answered].count(False) == 1
    assert {c.json()["error"]["code"] for c in clicks if c.status_code != 200} <= {"conflict"}
    assert after["status"] == "paid"
    assert again.json()["error"]["code"] == "conflict"
    assert other.status_code == 404


async def test_without_a_provider_paying_is_refused_in_words(server: LiveServer) -> None:
    """A server whose brand pays through its own backend answers payment_unavailable, and
    the development pay button does not exist."""
    opened = await open_session(server, stock=3)
    order = await _buy(server, opened.session_id, opened.product_id, "eve", "e1")
    async with server.client(server.token("viewer", "eve")) as eve:
        pay = await eve.post(f"/api/orders/{order['order_id']}/pay", json={})
        dev = await eve.post(f"/api/dev/payments/{order['order_id']}")
        wechat = await eve.post("/api/payments/wechat/notify", content=b"{}")
    assert (pay.status_code, pay.json()["error"]["code"]) == (409, "payment_unavailable")
    assert dev.status_code == 404
    assert wechat.status_code == 404
