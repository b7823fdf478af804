"""What the host panel reads: the brand's sessions and a session's live figures."""

import uuid

import orjson

from tests.support.clients import Room, sign
from tests.support.polling import eventually
from tests.support.servers import LiveServer
from tests.support.sessions import OpenSession, open_session


async def _buy(server: LiveServer, session_id: str, product_id: str, viewer: str) -> dict[str, int]:
    async with server.client(server.token("viewer", viewer)) as client:
        answer = await client.post(
            f"/api/sessions/{session_id}/orders",
            json={"product_id": product_id, "qty": 1},
            headers={"Idempotency-Key": f"k-{viewer}"},
        )
    assert answer.status_code == 201, answer.text
    order: dict[str, int] = answer.json()
    return order


async def _pay(server: LiveServer, order: dict[str, int]) -> None:
    body = orjson.dumps(
        {
            "order_id": order["order_id"],
            "paid_amount_cents": order["amount_cents"],
            "provider_txn_id": f"txn-{uuid.uuid4().hex}",
        }
    )
    async with server.client() as provider:
        paid = await provider.post(
            "/api/payments/notify", content=body, headers={"X-Signature": sign(body)}
        )
    assert paid.json()["status"] == "paid", paid.text


async def test_stats_count_orders_gmv_buyers_viewers_and_stock(server: LiveServer) -> None:
    """Two viewers in the room, both order, one pays: the figures say exactly that."""
    opened = await open_session(server, stock=10, limit=5, price_cents=5_000)
    rooms = []
    for viewer in ("v1", "v2"):
        rooms.append(
            await Room.join(server.ws_url(opened.session_id, server.token("viewer", viewer)))
        )
        await rooms[-1].wait_type("snapshot")
    first = await _buy(server, opened.session_id, opened.product_id, "v1")
    await _buy(server, opened.session_id, opened.product_id, "v2")
    await _pay(server, first)
    async with server.client(opened.host_token) as host:
        url = f"/api/sessions/{opened.session_id}/stats"

        async def both_viewers_seen() -> bool:
            return bool((await host.get(url)).json()["viewers_seen"] == 2)

        await eventually(both_viewers_seen)
        stats = (await host.get(url)).json()
    assert stats["orders"] == 2
    assert stats["orders_last_minute"] == 2
    assert stats["paid_orders"] == 1
    assert stats["gmv_cents"] == 5_000
    assert stats["buyers"] == 1
    assert stats["conversion"] == 0.5
    assert stats["stock"] == [
        {"product_id": opened.product_id, "title": "Wool coat", "allocated": 10, "left": 8}
    ]
    for room in rooms:
        await room.close()


async def test_stats_are_for_hosts_of_the_brand(server: LiveServer, opened: OpenSession) -> None:
    """A viewer is forbidden; another brand's host does not find the session."""
    url = f"/api/sessions/{opened.session_id}/stats"
    async with server.client(server.token("viewer", "v")) as viewer:
        assert (await viewer.get(url)).json()["error"]["code"] == "forbidden"
    async with server.client(server.token("host", "h", brand="other")) as stranger:
        assert (await stranger.get(url)).json()["error"]["code"] == "not_found"


async def test_sessions_list_newest_first_per_brand_and_status(
    server: LiveServer, opened: OpenSession
) -> None:
    """Hosts and guides list their brand's sessions, newest first, filtered by status."""
    host_token = server.token("host", "host-1")
    async with server.client(host_token) as host:
        draft = (await host.post("/api/sessions", json={"title": "Next week"})).json()
        listed = (await host.get("/api/sessions")).json()["items"]
        live_only = (await host.get("/api/sessions", params={"status": "live"})).json()["items"]
        bad = await host.get("/api/sessions", params={"status": "paused"})
    assert [item["id"] for item in listed] == [draft["id"], opened.session_id]
    assert [item["id"] for item in live_only] == [opened.session_id]
    assert bad.json()["error"]["code"] == "invalid_request"
    async with server.client(server.token("guide", "g")) as guide:
        seen_by_guide = (await guide.get("/api/sessions")).json()["items"]
    assert len(seen_by_guide) == 2
    async with server.client(server.token("host", "h", brand="other")) as stranger:
        assert (await stranger.get("/api/sessions")).json()["items"] == []
    async with server.client(server.token("viewer", "v")) as viewer:
        assert (await viewer.get("/api/sessions")).json()["error"]["code"] == "forbidden"
