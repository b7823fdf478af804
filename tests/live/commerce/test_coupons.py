"""Coupon drops, atomic claims over the socket, and discounts at checkout."""

import asyncio
from collections import Counter

from tests.support.clients import Room
from tests.support.servers import LiveServer
from tests.support.sessions import OpenSession, open_session


async def test_drop_claim_and_use_a_coupon(server: LiveServer) -> None:
    """Viewers see the drop; claims never exceed the quantity; a claimed coupon discounts."""
    opened = await open_session(server, stock=10, limit=5, price_cents=30_000)
    rooms = [
        await Room.join(server.ws_url(opened.session_id, server.token("viewer", f"c{n}")))
        for n in range(5)
    ]
    for room in rooms:
        await room.wait_type("snapshot")
    async with server.client(opened.host_token) as host:
        dropped = await host.post(
            f"/api/sessions/{opened.session_id}/coupons",
            json={
                "title": "50 off 300",
                "kind": "amount_off",
                "value": 5_000,
                "min_spend_cents": 30_000,
                "quantity": 3,
                "per_viewer_limit": 1,
            },
        )
        assert dropped.status_code == 201, dropped.text
        coupon_id = dropped.json()["coupon_id"]
    for room in rooms:
        assert (await room.wait_type("coupon"))["coupon_id"] == coupon_id
    for n, room in enumerate(rooms):
        await room.send({"type": "claim", "coupon_id": coupon_id, "ref": f"r{n}"})
    answers = [await room.wait_for(lambda f: f.get("type") in ("ack", "error")) for room in rooms]
    outcome = Counter(a["type"] if a["type"] == "ack" else a["code"] for a in answers)
    assert outcome == {"ack": 3, "coupon_sold_out": 2}
    left = await rooms[0].wait_for(lambda f: f.get("type") == "coupon_left" and f["left"] == 0)
    assert left["coupon_id"] == coupon_id
    winner = next(n for n, a in enumerate(answers) if a["type"] == "ack")
    await rooms[winner].send({"type": "claim", "coupon_id": coupon_id, "ref": "again"})
    again = await rooms[winner].wait_for(lambda f: f.get("ref") == "again")
    assert again["code"] in ("coupon_limit_exceeded", "coupon_sold_out")
    async with server.client(server.token("viewer", f"c{winner}")) as buyer:
        order = await buyer.post(
            f"/api/sessions/{opened.session_id}/orders",
            json={"product_id": opened.product_id, "qty": 1, "coupon_id": coupon_id},
            headers={"Idempotency-Key": "with-coupon"},
        )
        assert order.status_code == 201, order.text
        assert order.json()["amount_cents"] == 25_000
        reuse = await buyer.post(
            f"/api/sessions/{opened.session_id}/orders",
            json={"product_id": opened.product_id, "qty": 1, "coupon_id": coupon_id},
            headers={"Idempotency-Key": "reuse"},
        )
        assert reuse.json()["error"]["code"] == "coupon_not_claimed"
    loser = next(n for n, a in enumerate(answers) if a["type"] == "error")
    async with server.client(server.token("viewer", f"c{loser}")) as other:
        refused = await other.post(
            f"/api/sessions/{opened.session_id}/orders",
            json={"product_id": opened.product_id, "qty": 1, "coupon_id": coupon_id},
            headers={"Idempotency-Key": "no-claim"},
        )
        assert refused.json()["error"]["code"] == "coupon_not_claimed"
    await asyncio.gather(*(room.close() for room in rooms))


async def test_snapshot_lists_open_coupons(server: LiveServer, opened: OpenSession) -> None:
    """A viewer joining after a drop finds the coupon, with claims left, in its snapshot."""
    async with server.client(opened.host_token) as host:
        dropped = await host.post(
            f"/api/sessions/{opened.session_id}/coupons",
            json={"title": "10%", "kind": "percent_off", "value": 10, "quantity": 100},
        )
        bad = await host.post(
            f"/api/sessions/{opened.session_id}/coupons",
            json={"title": "x", "kind": "percent_off", "value": 150, "quantity": 1},
        )
        assert bad.json()["error"]["code"] == "invalid_request"
    room = await Room.join(server.ws_url(opened.session_id, server.token("viewer", "late")))
    snapshot = await room.wait_type("snapshot")
    assert [(c["coupon_id"], c["left"]) for c in snapshot["coupons"]] == [
        (dropped.json()["coupon_id"], 100)
    ]
    await room.close()


async def test_reconnecting_viewer_sees_the_coupons_it_holds(
    server: LiveServer, opened: OpenSession
) -> None:
    """A claimed, unused coupon is listed in ``my_coupons`` of the viewer's next snapshot."""
    async with server.client(opened.host_token) as host:
        dropped = await host.post(
            f"/api/sessions/{opened.session_id}/coupons",
            json={"title": "5 off", "kind": "amount_off", "value": 500, "quantity": 10},
        )
    coupon_id = dropped.json()["coupon_id"]
    room = await Room.join(server.ws_url(opened.session_id, server.token("viewer", "keeper")))
    assert (await room.wait_type("snapshot"))["my_coupons"] == []
    await room.send({"type": "claim", "coupon_id": coupon_id, "ref": "c"})
    claim_id = (await room.wait_type("ack"))["claim_id"]
    await room.close()
    back = await Room.join(server.ws_url(opened.session_id, server.token("viewer", "keeper")))
    held = (await back.wait_type("snapshot"))["my_coupons"]
    assert [(c["claim_id"], c["coupon_id"]) for c in held] == [(claim_id, coupon_id)]
    await back.close()
    other = await Room.join(server.ws_url(opened.session_id, server.token("viewer", "other")))
    assert (await other.wait_type("snapshot"))["my_coupons"] == []
    await other.close()
