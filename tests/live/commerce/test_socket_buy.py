"""Buying on the room socket: the same order, limits, key and answer as ``POST .../orders``."""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from live.db.models import OrderRow
from live.db.unit import transaction
from tests.support.clients import Room
from tests.support.servers import LiveServer, settings_for, start_server
from tests.support.sessions import open_session


async def _viewer(server: LiveServer, session_id: str, viewer: str, **params: Any) -> Room:
    room = await Room.join(server.ws_url(session_id, server.token("viewer", viewer), **params))
    await room.wait_type("snapshot")
    return room


async def _buy(room: Room, ref: str, **fields: Any) -> dict[str, Any]:
    """Send a ``buy`` and return its answer (``ack`` or ``error`` with the same ref)."""
    await room.send({"type": "buy", "ref": ref, "qty": 1, **fields})
    return await room.wait_for(lambda f: f.get("type") in ("ack", "error") and f["ref"] == ref)


async def test_a_buy_answers_the_order_as_http_does(server: LiveServer) -> None:
    """The ack carries the order (reserved, amount, guide, expiry); the record has it, with the
    guide the share code bound; the room hears the purchase."""
    opened = await open_session(server, stock=5, limit=2, price_cents=4_900)
    async with server.client(server.token("guide", "guide-ann")) as guide:
        share = await guide.get("/api/guides/me/share", params={"session_id": opened.session_id})
    room = await _viewer(server, opened.session_id, "vic", share=share.json()["code"])
    answer = await _buy(room, "b1", product_id=opened.product_id, key="k-1")
    assert answer["type"] == "ack", answer
    order = answer["order"]
    assert (order["status"], order["qty"], order["amount_cents"]) == ("reserved", 1, 4_900)
    assert order["guide_id"] == "guide-ann"
    assert order["expires_at"] - order["ts"] == server.settings.hold_ttl_s * 1000
    async with transaction(server.context.db) as db:
        row = await db.get(OrderRow, order["order_id"])
    assert row is not None
    assert (row.viewer_id, row.guide_id, row.idempotency_key) == ("vic", "guide-ann", "k-1")
    purchase = await room.wait_type("purchase")
    assert purchase["product_id"] == opened.product_id
    await room.close()


async def test_one_key_answers_one_order_over_http_and_the_socket(server: LiveServer) -> None:
    """A key used over HTTP answers the same order on the socket and the other way round; the
    same key with another body is refused; a second key buys a second order."""
    opened = await open_session(server, stock=5, limit=3)
    room = await _viewer(server, opened.session_id, "ida")
    async with server.client(server.token("viewer", "ida")) as http:
        first = await http.post(
            f"/api/sessions/{opened.session_id}/orders",
            json={"product_id": opened.product_id, "qty": 1},
            headers={"Idempotency-Key": "from-http"},
        )
        assert first.status_code == 201, first.text
        again = await _buy(room, "r1", product_id=opened.product_id, key="from-http")
        assert again["order"]["order_id"] == first.json()["order_id"]
        socket_first = await _buy(room, "r2", product_id=opened.product_id, key="from-socket")
        http_again = await http.post(
            f"/api/sessions/{opened.session_id}/orders",
            json={"product_id": opened.product_id, "qty": 1},
            headers={"Idempotency-Key": "from-socket"},
        )
        assert http_again.json()["order_id"] == socket_first["order"]["order_id"]
    reused = await _buy(room, "r3", product_id=opened.product_id, key="from-socket", qty=2)
    assert (reused["type"], reused["code"]) == ("error", "idempotency_key_reused")
    async with transaction(server.context.db) as db:
        keys = (
            await db.scalars(select(OrderRow.idempotency_key).where(OrderRow.viewer_id == "ida"))
        ).all()
    assert sorted(keys) == ["from-http", "from-socket"]
    await room.close()


async def test_refusals_come_from_the_catalog_and_the_socket_stays_open(
    server: LiveServer,
) -> None:
    """sold_out, limit_exceeded, not_found and bad messages answer an error with the ref; the
    socket goes on answering afterwards."""
    opened = await open_session(server, stock=2, limit=1)
    room = await _viewer(server, opened.session_id, "pat")
    assert (await _buy(room, "1", product_id=opened.product_id, key="a"))["type"] == "ack"
    limit = await _buy(room, "2", product_id=opened.product_id, key="b")
    assert limit["code"] == "limit_exceeded"
    other = await _viewer(server, opened.session_id, "quinn")
    too_many = await _buy(other, "3", product_id=opened.product_id, key="c", qty=2)
    assert too_many["code"] in ("sold_out", "limit_exceeded")
    assert (await _buy(other, "4", product_id=opened.product_id, key="d"))["type"] == "ack"
    third = await _viewer(server, opened.session_id, "ray")
    assert (await _buy(third, "5", product_id=opened.product_id, key="e"))["code"] == "sold_out"
    assert (await _buy(third, "6", product_id="prd_nope", key="f"))["code"] == "not_found"
    bad: list[tuple[dict[str, Any], str]] = [
        ({"product_id": opened.product_id, "qty": 0, "key": "g"}, "invalid_request"),
        ({"product_id": opened.product_id, "qty": "1", "key": "g"}, "invalid_request"),
        ({"product_id": opened.product_id}, "idempotency_key_required"),
        ({"product_id": opened.product_id, "key": "no spaces"}, "invalid_request"),
        ({"product_id": opened.product_id, "key": "k" * 129}, "invalid_request"),
        ({"product_id": "", "key": "g"}, "invalid_request"),
        ({"product_id": opened.product_id, "key": "g", "coupon_id": 3}, "invalid_request"),
    ]
    for n, (fields, code) in enumerate(bad):
        await third.send({"type": "buy", "ref": f"bad{n}", **fields})
        refused = await third.wait_type("error")
        assert (refused["ref"], refused["code"]) == (f"bad{n}", code), fields
    await third.send({"type": "ping", "ref": "p"})
    assert (await third.wait_type("pong"))["ref"] == "p"
    for joined in (room, other, third):
        await joined.close()


async def test_a_muted_viewer_still_buys_and_a_host_cannot(server: LiveServer) -> None:
    """Muting stops comments, not purchases; only viewer tokens buy."""
    opened = await open_session(server, stock=5, limit=2)
    async with server.client(opened.host_token) as host:
        muted = await host.post(
            f"/api/sessions/{opened.session_id}/moderation",
            json={"action": "mute", "user_id": "loud"},
        )
        assert muted.status_code == 200, muted.text
    room = await _viewer(server, opened.session_id, "loud")
    await room.send({"type": "comment", "text": "hello", "ref": "c"})
    assert (await room.wait_for(lambda f: f.get("ref") == "c"))["code"] == "muted"
    assert (await _buy(room, "b", product_id=opened.product_id, key="m"))["type"] == "ack"
    host_room = await Room.join(server.ws_url(opened.session_id, opened.host_token))
    await host_room.wait_type("snapshot")
    refused = await _buy(host_room, "h", product_id=opened.product_id, key="h")
    assert refused["code"] == "forbidden"
    await room.close()
    await host_room.close()


@pytest.fixture
async def strict_server(
    data_dir: Path, database_url: str, redis_url: str
) -> AsyncIterator[LiveServer]:
    """A node with a small order budget on sockets: 3 at once, one more a second."""
    settings = settings_for(
        data_dir,
        database_url=database_url,
        redis_url=redis_url,
        order_rate_per_s=1.0,
        order_burst=3,
    )
    live = await start_server(settings)
    try:
        yield live
    finally:
        await live.stop()


async def test_the_order_budget_refuses_a_flood_but_not_a_buyer(
    strict_server: LiveServer,
) -> None:
    """Past the burst, buys answer rate_limited (nothing is reserved for them); the budget is
    per user, so another viewer buys at once."""
    server = strict_server
    opened = await open_session(server, stock=50, limit=50)
    room = await _viewer(server, opened.session_id, "bot")
    answers = [
        await _buy(room, str(n), product_id=opened.product_id, key=f"k{n}") for n in range(6)
    ]
    assert [a["type"] for a in answers[:3]] == ["ack"] * 3
    assert {a.get("code") for a in answers[3:]} == {"rate_limited"}
    person = await _viewer(server, opened.session_id, "person")
    assert (await _buy(person, "p", product_id=opened.product_id, key="p"))["type"] == "ack"
    async with transaction(server.context.db) as db:
        count = len(
            (await db.scalars(select(OrderRow.id).where(OrderRow.viewer_id == "bot"))).all()
        )
    assert count == 3
    await room.close()
    await person.close()
