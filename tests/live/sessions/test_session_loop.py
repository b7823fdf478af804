"""The whole session loop over HTTP and the room socket, against real engines."""

from typing import Any

import orjson

from tests.support.clients import Room, sign
from tests.support.polling import eventually
from tests.support.servers import LiveServer


async def _live_session(
    server: LiveServer, *, stock: int = 10, limit: int | None = 2
) -> dict[str, Any]:
    host = server.client(server.token("host", "host-1"))
    async with host:
        created = await host.post("/api/sessions", json={"title": "Autumn drop"})
        assert created.status_code == 201, created.text
        session = created.json()
        product = await host.post(
            f"/api/sessions/{session['id']}/products",
            json={
                "sku": "SKU-1",
                "title": "Wool coat",
                "price_cents": 19900,
                "stock": stock,
                "limit_per_viewer": limit,
            },
        )
        assert product.status_code == 201, product.text
        started = await host.post(f"/api/sessions/{session['id']}/start")
        assert started.json()["status"] == "live"
        return {"session": started.json(), "product": product.json()}


async def test_host_pin_reaches_viewer_after_snapshot(server: LiveServer) -> None:
    """A viewer gets a snapshot on joining, then the host's pin and unpin in seq order."""
    setup = await _live_session(server)
    session_id, product_id = setup["session"]["id"], setup["product"]["product_id"]
    room = await Room.join(server.ws_url(session_id, server.token("viewer", "v1")))
    snapshot = await room.wait_type("snapshot")
    assert snapshot["products"][0]["product_id"] == product_id
    assert snapshot["products"][0]["stock"] == 10
    async with server.client(server.token("host", "host-1")) as host:
        assert (
            await host.post(f"/api/sessions/{session_id}/pin", json={"product_id": product_id})
        ).status_code == 200
        assert (await host.delete(f"/api/sessions/{session_id}/pin")).status_code == 200
    pin = await room.wait_type("pin")
    unpin = await room.wait_type("unpin")
    assert pin["product_id"] == product_id
    assert unpin["product_id"] == product_id  # what was pinned
    assert pin["t_ms"] >= 0
    assert pin["ts"] - pin["t_ms"] == setup["session"]["started_at"]
    assert snapshot["seq"] < pin["seq"] < unpin["seq"]
    await room.close()


async def test_a_pin_is_written_only_where_it_may_be(server: LiveServer) -> None:
    """A pin of the session's product is answered and kept; a product of another session, a
    session that is not live, or another brand's session are refused with their codes, and the
    pin stays what it was."""
    setup = await _live_session(server)
    session_id, product_id = setup["session"]["id"], setup["product"]["product_id"]
    other = await _live_session(server)
    other_product = other["product"]["product_id"]
    async with server.client(server.token("host", "host-1")) as host:
        pinned = await host.post(f"/api/sessions/{session_id}/pin", json={"product_id": product_id})
        assert pinned.status_code == 200, pinned.text
        assert pinned.json() == {"session_id": session_id, "pinned_product_id": product_id}
        elsewhere = await host.post(
            f"/api/sessions/{session_id}/pin", json={"product_id": other_product}
        )
        assert (elsewhere.status_code, elsewhere.json()["error"]["code"]) == (404, "not_found")
        ended = await host.post(f"/api/sessions/{other['session']['id']}/end")
        assert ended.status_code == 200, ended.text
        not_live = await host.post(
            f"/api/sessions/{other['session']['id']}/pin", json={"product_id": other_product}
        )
        assert (not_live.status_code, not_live.json()["error"]["code"]) == (409, "session_not_live")
        kept = await host.get(f"/api/sessions/{session_id}")
        assert kept.json()["pinned_product_id"] == product_id
    async with server.client(server.token("host", "host-9", brand="other-brand")) as stranger:
        foreign = await stranger.post(
            f"/api/sessions/{session_id}/pin", json={"product_id": product_id}
        )
        assert (foreign.status_code, foreign.json()["error"]["code"]) == (404, "not_found")


async def test_order_payment_and_ticker(server: LiveServer) -> None:
    """An order reserves stock, viewers see stock and purchase, payment marks it paid."""
    setup = await _live_session(server, stock=3)
    session_id, product_id = setup["session"]["id"], setup["product"]["product_id"]
    room = await Room.join(server.ws_url(session_id, server.token("viewer", "watcher")))
    await room.wait_type("snapshot")
    async with server.client(server.token("viewer", "buyer", name="Bea")) as buyer:
        placed = await buyer.post(
            f"/api/sessions/{session_id}/orders",
            json={"product_id": product_id, "qty": 1},
            headers={"Idempotency-Key": "k-1"},
        )
        assert placed.status_code == 201, placed.text
        order = placed.json()
        assert order["status"] == "reserved"
        assert order["amount_cents"] == 19900
    stock = await room.wait_for(lambda f: f.get("type") == "stock" and product_id in f["levels"])
    assert stock["levels"][product_id] == 2
    purchase = await room.wait_type("purchase")
    assert purchase == {"type": "purchase", "product_id": product_id, "user": "Bea", "qty": 1}
    body = orjson.dumps(
        {"order_id": order["order_id"], "paid_amount_cents": 19900, "provider_txn_id": "txn-1"}
    )
    async with server.client() as provider:
        paid = await provider.post(
            "/api/payments/notify", content=body, headers={"X-Signature": sign(body)}
        )
        assert paid.status_code == 200, paid.text
        assert paid.json()["status"] == "paid"
        again = await provider.post(
            "/api/payments/notify", content=body, headers={"X-Signature": sign(body)}
        )
        assert again.json() == {"order_id": order["order_id"], "status": "paid", "duplicate": True}
        forged = await provider.post(
            "/api/payments/notify", content=body, headers={"X-Signature": "00" * 32}
        )
        assert forged.status_code == 401
        assert forged.json()["error"]["code"] == "bad_signature"
    async with server.client(server.token("viewer", "buyer")) as buyer:
        mine = await buyer.get(f"/api/orders/{order['order_id']}")
        assert mine.json()["status"] == "paid"
    await room.close()


async def test_comments_are_batched_and_acknowledged(server: LiveServer) -> None:
    """A comment is acked to its sender and reaches every viewer inside a comments batch."""
    setup = await _live_session(server)
    session_id = setup["session"]["id"]
    alice = await Room.join(server.ws_url(session_id, server.token("viewer", "alice")))
    bob = await Room.join(server.ws_url(session_id, server.token("viewer", "bob")))
    await alice.wait_type("snapshot")
    await bob.wait_type("snapshot")
    await alice.send({"type": "comment", "text": "666", "ref": "c1"})
    ack = await alice.wait_type("ack")
    assert ack["ref"] == "c1"
    batch = await bob.wait_type("comments")
    assert [item["text"] for item in batch["items"]] == ["666"]
    assert batch["items"][0]["id"] == ack["id"]
    await alice.close()
    await bob.close()


async def test_end_sends_ended_and_archive_replays(server: LiveServer) -> None:
    """Ending a session sends ``ended``; the archive then replays events and comments."""
    setup = await _live_session(server)
    session_id, product_id = setup["session"]["id"], setup["product"]["product_id"]
    room = await Room.join(server.ws_url(session_id, server.token("viewer", "v")))
    await room.wait_type("snapshot")
    await room.send({"type": "comment", "text": "hello", "ref": "1"})
    await room.wait_type("ack")
    async with server.client(server.token("host", "host-1")) as host:
        await host.post(f"/api/sessions/{session_id}/pin", json={"product_id": product_id})
        await room.wait_type("pin")
        ended = await host.post(f"/api/sessions/{session_id}/end")
        assert ended.json()["status"] == "ended"
        await room.wait_type("ended")

        async def archived() -> bool:
            response = await host.get(f"/api/sessions/{session_id}/replay")
            return response.status_code == 200

        await eventually(archived)
        events = (await host.get(f"/api/sessions/{session_id}/replay")).json()
        kinds = [e["type"] for e in events]
        assert kinds[0] == "started"
        assert kinds[-1] == "ended"
        assert "pin" in kinds
        assert "comment" in kinds
        seqs = [e["seq"] for e in events if "seq" in e]
        assert seqs == sorted(seqs) == list(range(1, len(seqs) + 1))
        clips = (await host.get(f"/api/sessions/{session_id}/clips")).json()
        assert [c["product_id"] for c in clips] == [product_id]
