"""Waitlists: a viewer queues for a sold-out product; a unit that comes back is offered to the
first in line as a private ``offer`` with its own hold, taken with a ``buy`` naming it."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from live.commerce import offers, order_records
from live.commerce.stock_invariant import read
from live.db.models import OrderRow, WaitlistEntryRow
from live.db.unit import transaction
from tests.live.commerce.waitlisting import answer, cancel, joined, sold_out
from tests.support.clients import Room, sign
from tests.support.servers import LiveServer, cluster, settings_for, start_server


@pytest.fixture
async def node(data_dir: Path, database_url: str, redis_url: str) -> AsyncIterator[LiveServer]:
    """A node whose offers lapse after 1 s and whose viewers wait in 2 waitlists at most."""
    settings = settings_for(
        data_dir,
        database_url=database_url,
        redis_url=redis_url,
        offer_ttl_s=1,
        waitlist_max_per_viewer=2,
    )
    live = await start_server(settings)
    try:
        yield live
    finally:
        await live.stop()


async def test_a_returned_unit_is_offered_to_the_first_in_line_only(node: LiveServer) -> None:
    """Joining needs a sold-out product; places are kept in order; a cancelled unit is offered
    to the first viewer alone (a public buyer gets sold_out meanwhile); the offer taken with a
    buy is a reserved order, and the same key answers it again."""
    sale = await sold_out(node, stock=1)
    first = await joined(node, sale.session_id, "w1")
    second = await joined(node, sale.session_id, "w2")
    joined_1 = await answer(first, {"type": "waitlist", "product_id": sale.product_id})
    assert (joined_1["type"], joined_1["status"], joined_1["ahead"]) == ("ack", "waiting", 0)
    again = await answer(first, {"type": "waitlist", "product_id": sale.product_id})
    assert again["position"] == joined_1["position"]
    async with node.client(node.token("viewer", "w2")) as http:
        joined_2 = await http.post(
            f"/api/sessions/{sale.session_id}/waitlist", json={"product_id": sale.product_id}
        )
    assert joined_2.status_code == 201, joined_2.text
    assert (joined_2.json()["ahead"], joined_2.json()["position"] > joined_1["position"]) == (
        1,
        True,
    )

    await cancel(node, "b0", sale.orders["b0"])
    offer = await first.wait_type("offer")
    assert (offer["product_id"], offer["qty"]) == (sale.product_id, 1)
    assert offer["expires_at"] - offer["ts"] == 1_000
    public = await joined(node, sale.session_id, "walk-in")
    refused = await answer(public, {"type": "buy", "product_id": sale.product_id, "key": "w"})
    assert refused["code"] == "sold_out"
    assert not [f for f in second.frames if f.get("type") == "offer"]

    taken = await answer(
        first,
        {
            "type": "buy",
            "product_id": sale.product_id,
            "key": "take-1",
            "offer_id": offer["offer_id"],
        },
    )
    assert taken["type"] == "ack", taken
    order = taken["order"]
    assert (order["order_id"], order["status"]) == (offer["offer_id"], "reserved")
    assert order["expires_at"] - order["ts"] >= node.settings.hold_ttl_s * 1000 - 5_000
    repeat = await answer(
        first,
        {
            "type": "buy",
            "product_id": sale.product_id,
            "key": "take-1",
            "offer_id": offer["offer_id"],
        },
    )
    assert repeat["order"]["order_id"] == order["order_id"]
    stolen = await answer(
        second,
        {
            "type": "buy",
            "product_id": sale.product_id,
            "key": "steal",
            "offer_id": offer["offer_id"],
        },
    )
    assert stolen["code"] == "not_found"
    async with transaction(node.context.db) as db:
        entry = await db.get(WaitlistEntryRow, joined_1["position"])
        row = await db.get(OrderRow, order["order_id"])
    assert entry is not None
    assert row is not None
    assert (entry.status, row.status, row.idempotency_key) == ("taken", "reserved", "take-1")
    for room in (first, second, public):
        await room.close()


async def test_an_unanswered_offer_passes_to_the_next_viewer(node: LiveServer) -> None:
    """The offer lapses after LIVE_OFFER_TTL_S; the unit goes to the next in line, and taking
    the lapsed offer answers offer_expired."""
    sale = await sold_out(node, stock=1)
    first = await joined(node, sale.session_id, "slow")
    second = await joined(node, sale.session_id, "next")
    for room in (first, second):
        assert (await answer(room, {"type": "waitlist", "product_id": sale.product_id}))[
            "type"
        ] == "ack"
    await cancel(node, "b0", sale.orders["b0"])
    lapsing = await first.wait_type("offer")
    passed_on = await second.wait_type("offer", timeout_s=10)
    assert passed_on["offer_id"] != lapsing["offer_id"]
    late = await answer(
        first,
        {
            "type": "buy",
            "product_id": sale.product_id,
            "key": "late",
            "offer_id": lapsing["offer_id"],
        },
    )
    assert late["code"] == "offer_expired"
    async with transaction(node.context.db) as db:
        lapsed = await db.get(OrderRow, lapsing["offer_id"])
    assert lapsed is not None
    assert lapsed.status == order_records.PASSED
    for room in (first, second):
        await room.close()


async def test_joining_is_for_sold_out_products_within_the_limits(node: LiveServer) -> None:
    """In stock: in_stock; at the per-viewer limit: limit_exceeded; beyond the waitlists a
    viewer may wait in: waitlist_limit_exceeded; leaving frees the place."""
    sale = await sold_out(node, stock=1)
    buyer = await joined(node, sale.session_id, "b0")
    at_limit = await answer(buyer, {"type": "waitlist", "product_id": sale.product_id})
    assert at_limit["code"] == "limit_exceeded"
    async with node.client(sale.opened.host_token) as host:
        products = []
        for n in range(3):
            added = await host.post(
                f"/api/sessions/{sale.session_id}/products",
                json={"sku": f"X-{n}", "title": "x", "price_cents": 100, "stock": 0},
            )
            products.append(added.json()["product_id"])
        in_stock = await host.post(
            f"/api/sessions/{sale.session_id}/products",
            json={"sku": "PLENTY", "title": "p", "price_cents": 100, "stock": 5},
        )
    room = await joined(node, sale.session_id, "many")
    plenty = await answer(room, {"type": "waitlist", "product_id": in_stock.json()["product_id"]})
    assert plenty["code"] == "in_stock"
    for product_id in products[:2]:
        assert (await answer(room, {"type": "waitlist", "product_id": product_id}))["type"] == "ack"
    full = await answer(room, {"type": "waitlist", "product_id": products[2]})
    assert full["code"] == "waitlist_limit_exceeded"
    left = await answer(room, {"type": "leave_waitlist", "product_id": products[0]})
    assert left["status"] == "left"
    assert (await answer(room, {"type": "waitlist", "product_id": products[2]}))["type"] == "ack"
    gone = await answer(room, {"type": "leave_waitlist", "product_id": products[0]})
    assert gone["code"] == "not_found"
    for joined_room in (buyer, room):
        await joined_room.close()


async def test_units_the_host_adds_and_restocked_refunds_go_to_the_queue_first(
    node: LiveServer,
) -> None:
    """Two units added: the first two in line get offers, the third waits and the host sees the
    lengths; a paid order refunded with restock offers its unit to the third."""
    sale = await sold_out(node, stock=1, limit=2)
    host_room = await Room.join(node.ws_url(sale.session_id, sale.opened.host_token))
    await host_room.wait_type("snapshot")
    rooms = [await joined(node, sale.session_id, f"q{n}") for n in range(3)]
    for room in rooms:
        assert (await answer(room, {"type": "waitlist", "product_id": sale.product_id}))[
            "type"
        ] == "ack"
    lengths = await host_room.wait_for(
        lambda f: f.get("type") == "waitlist" and f["lengths"].get(sale.product_id) == 3
    )
    assert lengths["lengths"] == {sale.product_id: 3}
    async with node.client(sale.opened.host_token) as host:
        raised = await host.put(
            f"/api/sessions/{sale.session_id}/products/{sale.product_id}/stock", json={"stock": 3}
        )
        assert raised.status_code == 200, raised.text
        lowered = await host.put(
            f"/api/sessions/{sale.session_id}/products/{sale.product_id}/stock", json={"stock": 0}
        )
        assert lowered.json()["error"]["code"] == "conflict"
    made = [await rooms[n].wait_type("offer") for n in range(2)]
    assert len({o["offer_id"] for o in made}) == 2
    await host_room.wait_for(
        lambda f: f.get("type") == "waitlist" and f["lengths"].get(sale.product_id) == 1
    )
    async with node.client() as provider:
        body = (
            f'{{"order_id": "{sale.orders["b0"]}", "paid_amount_cents": 19900,'
            f' "provider_txn_id": "txn-{sale.orders["b0"]}"}}'
        ).encode()
        paid = await provider.post(
            "/api/payments/notify", content=body, headers={"X-Signature": sign(body)}
        )
        assert paid.json()["status"] == "paid", paid.text
    async with node.client(node.token("admin", "boss")) as admin:
        refunded = await admin.post(
            f"/api/orders/{sale.orders['b0']}/refund", json={"restock": True}
        )
        assert refunded.status_code == 200, refunded.text
        again = await admin.post(f"/api/orders/{sale.orders['b0']}/refund", json={"restock": True})
        assert again.json()["status"] == "refunded"
    third = await rooms[2].wait_type("offer")
    assert third["product_id"] == sale.product_id
    async with transaction(node.context.db) as db:
        offered = await db.get(OrderRow, third["offer_id"])
    assert offered is not None
    assert offered.status == order_records.OFFERED
    for room in (*rooms, host_room):
        await room.close()


async def test_leaving_with_an_offer_declines_it_and_the_next_gets_the_unit(
    node: LiveServer,
) -> None:
    """Leaving (over HTTP) while holding an offer passes its unit to the next in line."""
    sale = await sold_out(node, stock=1)
    rooms = [await joined(node, sale.session_id, f"d{n}") for n in range(2)]
    for room in rooms:
        assert (await answer(room, {"type": "waitlist", "product_id": sale.product_id}))[
            "type"
        ] == "ack"
    await cancel(node, "b0", sale.orders["b0"])
    declined = await rooms[0].wait_type("offer")
    async with node.client(node.token("viewer", "d0")) as http:
        mine = (await http.get(f"/api/sessions/{sale.session_id}/waitlist")).json()
        assert [(i["status"], i["offer"]["offer_id"]) for i in mine["items"]] == [
            ("offered", declined["offer_id"])
        ]
        left = await http.delete(f"/api/sessions/{sale.session_id}/waitlist/{sale.product_id}")
    assert left.json()["status"] == "passed", left.text
    offer = await rooms[1].wait_type("offer")
    assert offer["offer_id"] != declined["offer_id"]
    for room in rooms:
        await room.close()


async def test_hosts_read_lengths_and_guides_read_their_own_customers(node: LiveServer) -> None:
    """GET .../waitlist answers lengths to hosts, a guide's customers' places to that guide and
    nobody else's, a viewer's own places to the viewer."""
    sale = await sold_out(node, stock=1)
    async with node.client(node.token("guide", "ann")) as guide:
        share = await guide.get("/api/guides/me/share", params={"session_id": sale.session_id})
    code = share.json()["code"]
    hers = await joined(node, sale.session_id, "c-ann", share=code)
    other = await joined(node, sale.session_id, "c-none")
    for room in (hers, other):
        assert (await answer(room, {"type": "waitlist", "product_id": sale.product_id}))[
            "type"
        ] == "ack"
    path = f"/api/sessions/{sale.session_id}/waitlist"
    async with node.client(sale.opened.host_token) as host:
        lengths = (await host.get(path)).json()
    assert lengths["products"] == [{"product_id": sale.product_id, "waiting": 2, "offered": 0}]
    async with node.client(node.token("guide", "ann")) as guide:
        customers = (await guide.get(path)).json()
    assert [(i["viewer_id"], i["ahead"], i["guide_id"]) for i in customers["items"]] == [
        ("c-ann", 0, "ann")
    ]
    async with node.client(node.token("guide", "bo")) as stranger:
        assert (await stranger.get(path)).json()["items"] == []
    async with node.client(node.token("viewer", "c-none")) as viewer:
        own = (await viewer.get(path)).json()
    assert [(i["viewer_id"], i["ahead"]) for i in own["items"]] == [("c-none", 1)]
    async with node.client(node.token("viewer", "c-none", brand="another")) as foreign:
        assert (await foreign.get(path)).status_code == 404
    for room in (hers, other):
        await room.close()


async def test_three_nodes_offer_each_returned_unit_once_in_queue_order(
    tmp_path: Path, database_url: str, redis_url: str
) -> None:
    """Twelve viewers wait on three nodes; eight units come back at once through all three
    nodes (each pumping, plus every node's sweep): eight offers, to the first eight in line,
    one each, the others still waiting in order."""
    async with cluster(tmp_path, 3, database_url=database_url, redis_url=redis_url) as nodes:
        sale = await sold_out(nodes[0], stock=8)
        rooms = []
        for n in range(12):
            room = await joined(nodes[n % 3], sale.session_id, f"line{n}")
            placed = await answer(room, {"type": "waitlist", "product_id": sale.product_id})
            assert placed["ahead"] == n, placed
            rooms.append(room)
        await asyncio.gather(
            *(cancel(nodes[n % 3], f"b{n}", sale.orders[f"b{n}"]) for n in range(8))
        )
        made = [await rooms[n].wait_type("offer") for n in range(8)]
        assert len({o["offer_id"] for o in made}) == 8
        async with transaction(nodes[0].context.db) as db:
            entries = (
                await db.scalars(
                    select(WaitlistEntryRow)
                    .where(WaitlistEntryRow.session_id == sale.session_id)
                    .order_by(WaitlistEntryRow.id)
                )
            ).all()
        assert [(e.viewer_id, e.status) for e in entries] == [
            (f"line{n}", "offered" if n < 8 else "waiting") for n in range(12)
        ]
        assert {e.order_id for e in entries[:8]} == {o["offer_id"] for o in made}
        # Every node's sweep passes again meanwhile: no unit may be offered a second time.
        await asyncio.sleep(2 * offers.SWEEP_INTERVAL_S)
        for room in rooms:
            await room.send({"type": "ping", "ref": "after"})
            await room.wait_type("pong")  # every frame sent before it has been read
            assert not [f for f in room.frames if f.get("type") == "offer"]
        lines = await read(nodes[1].context.db, nodes[1].context.redis, sale.session_id)
        assert [(line.stock, line.held, line.sold) for line in lines] == [(0, 8, 0)]
        for room in rooms:
            await room.close()
