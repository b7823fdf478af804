"""The node's sold-out gate: a first attempt at a product Redis just refused as sold out is
refused without a reserve, and never anything Redis would answer otherwise (a retried key, a
unit that came back, a room that was not listening).

Whether a refusal came from Redis or from the gate is read off Redis itself: a refusal of the
reserve script records its answer under the buyer's key (`Stock.recorded`), the gate records
nothing.
"""

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from inventory import keys
from live.commerce.sold_out_gate import SoldOutGate
from tests.support.clients import Room
from tests.support.servers import LiveServer, settings_for, start_server
from tests.support.sessions import OpenSession, open_session


@pytest.fixture
async def gate_server(
    data_dir: Path, database_url: str, redis_url: str
) -> AsyncIterator[LiveServer]:
    """A node whose gate holds a refusal for a minute: only the events it hears and the room's
    listening can open it within a test."""
    settings = settings_for(
        data_dir, database_url=database_url, redis_url=redis_url, sold_out_hold_s=60.0
    )
    live = await start_server(settings)
    try:
        yield live
    finally:
        await live.stop()


async def _viewer(server: LiveServer, session_id: str, viewer: str) -> Room:
    room = await Room.join(server.ws_url(session_id, server.token("viewer", viewer)))
    await room.wait_type("snapshot")
    return room


async def _buy(room: Room, ref: str, key: str, product_id: str) -> dict[str, Any]:
    """A buy that does not say ``first`` (a retry, or a client that does not mark keys)."""
    await room.send({"type": "buy", "ref": ref, "qty": 1, "key": key, "product_id": product_id})
    return await room.wait_for(lambda f: f.get("type") in ("ack", "error") and f["ref"] == ref)


async def _first(room: Room, ref: str, key: str, product_id: str) -> dict[str, Any]:
    """A buy whose key is sent for the first time, as the SDK marks it."""
    message = {"type": "buy", "ref": ref, "qty": 1, "key": key, "product_id": product_id}
    await room.send({**message, "first": True})
    return await room.wait_for(lambda f: f.get("type") in ("ack", "error") and f["ref"] == ref)


async def _recorded(server: LiveServer, opened: OpenSession, viewer: str, key: str) -> bool:
    """Whether Redis holds an answer under the viewer's key (the reserve script ran for it)."""
    earlier = await server.context.stock.recorded(
        opened.session_id, viewer_id=viewer, idempotency_key=key
    )
    return earlier is not None


async def _sold_out(server: LiveServer) -> tuple[OpenSession, Room, dict[str, Any]]:
    """One unit, bought by ann on the room socket; bob's first attempt refused by Redis."""
    opened = await open_session(server, stock=1, limit=1)
    ann = await _viewer(server, opened.session_id, "ann")
    order = await _first(ann, "a", "ann-1", opened.product_id)
    assert order["type"] == "ack", order
    bob = await _viewer(server, opened.session_id, "bob")
    refused = await _first(bob, "b", "bob-1", opened.product_id)
    assert refused["code"] == "sold_out"
    assert await _recorded(server, opened, "bob", "bob-1")
    await bob.close()
    return opened, ann, order["order"]


async def test_a_first_attempt_after_a_sell_out_is_refused_without_a_reserve(
    gate_server: LiveServer,
) -> None:
    """After Redis refused one buyer, the next first attempt is refused by the node (nothing
    recorded under its key); the same viewer's buy that does not say ``first`` asks Redis."""
    server = gate_server
    opened, ann, _ = await _sold_out(server)
    cat = await _viewer(server, opened.session_id, "cat")
    gated = await _first(cat, "c1", "cat-1", opened.product_id)
    assert (gated["type"], gated["code"]) == ("error", "sold_out")
    assert not await _recorded(server, opened, "cat", "cat-1")
    asked = await _buy(cat, "c2", "cat-2", opened.product_id)
    assert asked["code"] == "sold_out"
    assert await _recorded(server, opened, "cat", "cat-2")
    assert server.context.sold_out.refused == 1
    async with server.client(server.token("host", "host-1")) as host:
        metrics = (await host.get("/metrics")).text
    assert "live_sold_out_refusals_total 1.0" in metrics
    for room in (ann, cat):
        await room.close()


async def test_a_retried_winning_key_still_answers_its_order(gate_server: LiveServer) -> None:
    """The buyer of the last unit, sending its key again after the sell-out (a dropped
    answer), gets its order, not the gate's refusal."""
    server = gate_server
    opened, ann, order = await _sold_out(server)
    again = await _buy(ann, "a2", "ann-1", opened.product_id)
    assert again["type"] == "ack", again
    assert again["order"]["order_id"] == order["order_id"]
    await ann.close()


async def test_a_unit_that_comes_back_opens_the_gate_at_once(gate_server: LiveServer) -> None:
    """A cancelled order's unit: once the room hears its stock event, a first attempt buys
    it, a minute before the gate's hold would have lapsed."""
    server = gate_server
    opened, ann, order = await _sold_out(server)
    cat = await _viewer(server, opened.session_id, "cat")
    assert (await _first(cat, "c1", "cat-1", opened.product_id))["code"] == "sold_out"
    async with server.client(server.token("viewer", "ann")) as http:
        cancelled = await http.post(f"/api/orders/{order['order_id']}/cancel")
        assert cancelled.status_code == 200, cancelled.text
    await cat.wait_for(
        lambda f: f.get("type") == "stock" and f["levels"].get(opened.product_id) == 1
    )
    bought = await _first(cat, "c2", "cat-2", opened.product_id)
    assert bought["type"] == "ack", bought
    for room in (ann, cat):
        await room.close()


async def test_a_room_that_opened_after_the_refusal_asks_redis(gate_server: LiveServer) -> None:
    """A refusal over HTTP while no room of the session was open here: the room opened later
    did not hear what came before it, so its first attempts go to Redis."""
    server = gate_server
    opened = await open_session(server, stock=1, limit=1)
    async with server.client(server.token("viewer", "ann")) as ann:
        bought = await ann.post(
            f"/api/sessions/{opened.session_id}/orders",
            json={"product_id": opened.product_id, "qty": 1},
            headers={"Idempotency-Key": "ann-1"},
        )
        assert bought.status_code == 201, bought.text
    async with server.client(server.token("viewer", "bob")) as bob:
        refused = await bob.post(
            f"/api/sessions/{opened.session_id}/orders",
            json={"product_id": opened.product_id, "qty": 1},
            headers={"Idempotency-Key": "bob-1"},
        )
        assert refused.json()["error"]["code"] == "sold_out"
    cat = await _viewer(server, opened.session_id, "cat")
    assert (await _first(cat, "c1", "cat-1", opened.product_id))["code"] == "sold_out"
    assert await _recorded(server, opened, "cat", "cat-1")
    # Armed by that refusal, with the room listening since before it: now the node answers.
    assert (await _first(cat, "c2", "cat-2", opened.product_id))["code"] == "sold_out"
    assert not await _recorded(server, opened, "cat", "cat-2")
    await cat.close()


async def test_first_must_be_a_boolean(server: LiveServer) -> None:
    opened = await open_session(server, stock=1, limit=1)
    room = await _viewer(server, opened.session_id, "ann")
    await room.send(
        {"type": "buy", "ref": "x", "key": "k", "product_id": opened.product_id, "first": "yes"}
    )
    refused = await room.wait_type("error")
    assert (refused["ref"], refused["code"]) == ("x", "invalid_request")
    await room.close()


# ---- the gate alone ----


async def test_a_late_stock_event_from_before_the_refusal_keeps_it_closed(
    gate_server: LiveServer,
) -> None:
    """Two units sold, the second sells out, bob is refused by Redis. The room then reads the
    first order's stock event again, one unit left at an older change version (as a room reads
    the events of a sale's last orders after its sell-out): the gate stays closed. A newer
    event with a unit opens it, as a cancelled order's does."""
    server = gate_server
    opened = await open_session(server, stock=2, limit=1)
    ann = await _viewer(server, opened.session_id, "ann")
    first = await _first(ann, "a", "ann-1", opened.product_id)
    assert first["type"] == "ack", first
    # The change version of ann's order, the one its stock event (one unit left) carried.
    ann_version = int(await server.context.redis.get(keys.version(opened.session_id)) or 0)
    assert ann_version > 0
    bob = await _viewer(server, opened.session_id, "bob")
    assert (await _first(bob, "b1", "bob-1", opened.product_id))["type"] == "ack"
    cat = await _viewer(server, opened.session_id, "cat")
    assert (await _first(cat, "c1", "cat-1", opened.product_id))["code"] == "sold_out"
    assert await _recorded(server, opened, "cat", "cat-1"), "refused by Redis"

    async def heard(version: int) -> None:
        """The room reads a stock event of one unit at ``version``; then a marker, whose frame
        says the room has read (and the gate heard) everything before it."""
        bus, session_id = server.context.bus, opened.session_id
        await bus.publish(
            session_id, "stock", {"levels": {opened.product_id: 1}, "version": version}
        )
        marker = f"marker-{version}"
        await bus.publish(session_id, "stock", {"levels": {marker: 1}, "version": 1})
        await cat.wait_for(lambda f: f.get("type") == "stock" and marker in f["levels"])

    await heard(ann_version)
    gated = await _first(cat, "c2", "cat-2", opened.product_id)
    assert gated["code"] == "sold_out"
    assert not await _recorded(server, opened, "cat", "cat-2"), "refused by the gate"
    await heard(ann_version + 1_000)
    asked = await _first(cat, "c3", "cat-3", opened.product_id)
    assert asked["code"] == "sold_out"
    assert await _recorded(server, opened, "cat", "cat-3"), "the newer event opened the gate"
    for room in (ann, bob, cat):
        await room.close()


def _listening(since: float | None) -> SoldOutGate:
    return SoldOutGate(lambda _: since, hold_s=60.0)


def test_it_refuses_the_quantity_refused_and_more_at_the_same_terms() -> None:
    gate = _listening(0.0)
    gate.arm("s", "p", terms_version=3, qty=2, asked=time.monotonic())
    assert gate.refuses("s", "p", terms_version=3, qty=2)
    assert gate.refuses("s", "p", terms_version=3, qty=5)
    assert not gate.refuses("s", "p", terms_version=3, qty=1)
    assert not gate.refuses("s", "other", terms_version=3, qty=2)
    assert not gate.refuses("other", "p", terms_version=3, qty=2)
    gate.arm("s", "p", terms_version=3, qty=1, asked=time.monotonic())
    assert gate.refuses("s", "p", terms_version=3, qty=1)
    assert not gate.refuses("s", "p", terms_version=4, qty=1)
    assert not gate.refuses("s", "p", terms_version=3, qty=1), "other terms drop the refusal"
    assert gate.refused == 3


def test_only_a_room_listening_since_before_the_reserve_lets_it_refuse() -> None:
    asked = time.monotonic()
    for since, refuses in ((None, False), (asked + 0.001, False), (asked, True)):
        gate = _listening(since)
        gate.arm("s", "p", terms_version=1, qty=1, asked=asked)
        assert gate.refuses("s", "p", terms_version=1, qty=1) is refuses, since


def test_a_stock_event_with_units_forgets_the_product() -> None:
    gate = _listening(0.0)
    for product in ("p", "q"):
        gate.arm("s", product, terms_version=1, qty=1, asked=time.monotonic())
    gate.heard_stock("s", {"levels": {"p": 0, "q": 2, "sale:x": 5}, "version": 9})
    assert gate.refuses("s", "p", terms_version=1, qty=1)
    assert not gate.refuses("s", "q", terms_version=1, qty=1)
    gate.heard_stock("other", {"levels": {"p": 1}})
    assert gate.refuses("s", "p", terms_version=1, qty=1)
    gate.heard_stock("s", {"levels": "not levels"})
    assert gate.refuses("s", "p", terms_version=1, qty=1)


def test_a_stock_event_not_newer_than_the_refusal_is_old_news() -> None:
    gate = _listening(0.0)
    gate.arm("s", "p", terms_version=1, qty=1, asked=time.monotonic(), version=40)
    gate.heard_stock("s", {"levels": {"p": 3}, "version": 39})
    gate.heard_stock("s", {"levels": {"p": 3}, "version": 40})
    assert gate.refuses("s", "p", terms_version=1, qty=1)
    gate.heard_stock("s", {"levels": {"p": 1}, "version": 41})
    assert not gate.refuses("s", "p", terms_version=1, qty=1)
    for event in ({"levels": {"p": 1}}, {"levels": {"p": 1}, "version": "41"}):
        gate.arm("s", "p", terms_version=1, qty=1, asked=time.monotonic(), version=40)
        gate.heard_stock("s", event)
        assert not gate.refuses("s", "p", terms_version=1, qty=1), "no version: it counts"
    gate.arm("s", "p", terms_version=1, qty=1, asked=time.monotonic())
    gate.heard_stock("s", {"levels": {"p": 1}, "version": 2})
    assert not gate.refuses("s", "p", terms_version=1, qty=1), "a refusal of no known version"


def test_what_it_keeps_of_two_refusals_holds_at_the_version_it_keeps() -> None:
    """Of two refusals the smaller quantity is kept, with the version it was refused at: a
    larger quantity refused later says nothing about one unit at that later version."""
    gate = _listening(0.0)
    gate.arm("s", "p", terms_version=1, qty=1, asked=time.monotonic(), version=10)
    gate.arm("s", "p", terms_version=1, qty=2, asked=time.monotonic(), version=12)
    gate.heard_stock("s", {"levels": {"p": 1}, "version": 11})
    assert not gate.refuses("s", "p", terms_version=1, qty=1), "a unit back after 10"
    gate.arm("s", "p", terms_version=1, qty=2, asked=time.monotonic(), version=20)
    gate.arm("s", "p", terms_version=1, qty=1, asked=time.monotonic(), version=18)
    gate.heard_stock("s", {"levels": {"p": 1}, "version": 19})
    assert not gate.refuses("s", "p", terms_version=1, qty=1), "one unit refused at 18 only"
    gate.arm("s", "p", terms_version=1, qty=1, asked=time.monotonic(), version=30)
    gate.arm("s", "p", terms_version=1, qty=1, asked=time.monotonic(), version=28)
    gate.heard_stock("s", {"levels": {"p": 1}, "version": 29})
    assert gate.refuses("s", "p", terms_version=1, qty=1), "the same quantity: the newer one"


async def test_the_hold_lapses_and_zero_turns_the_gate_off() -> None:
    gate = SoldOutGate(lambda _: 0.0, hold_s=0.05)
    gate.arm("s", "p", terms_version=1, qty=1, asked=time.monotonic())
    assert gate.refuses("s", "p", terms_version=1, qty=1)
    await asyncio.sleep(0.06)
    assert not gate.refuses("s", "p", terms_version=1, qty=1)
    assert len(gate) == 0
    off = SoldOutGate(lambda _: 0.0, hold_s=0.0)
    off.arm("s", "p", terms_version=1, qty=1, asked=time.monotonic())
    assert not off.refuses("s", "p", terms_version=1, qty=1)
