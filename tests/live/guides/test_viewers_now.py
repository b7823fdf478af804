"""My viewers now: a guide's workspace socket lists the viewers they brought who are in the
room, with what was pinned while they watched, their unpaid holds and their waitlists, kept by
deltas across nodes."""

from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from live.guides import workspace_feed
from tests.live.guides.workspace_world import frame_where, viewer_through, viewers_of, workspace
from tests.support.clients import Room, sign
from tests.support.polling import eventually
from tests.support.servers import LiveServer, cluster
from tests.support.sessions import open_session


@pytest.fixture
async def pair(
    tmp_path: Path, database_url: str, redis_url: str
) -> AsyncIterator[tuple[LiveServer, LiveServer]]:
    """Two nodes over the same engines: viewers on A, guides on B."""
    async with cluster(tmp_path, 2, database_url=database_url, redis_url=redis_url) as nodes:
        yield nodes[0], nodes[1]


async def test_viewer_on_a_appears_live_on_guide_desk_on_b(
    pair: tuple[LiveServer, LiveServer],
) -> None:
    """A viewer who joins on node A through guide G's code shows on G's desk on node B with the
    pins of their visit, their hold (then gone once paid) and their waitlist; leaving removes
    them; another guide's desk never lists them."""
    a, b = pair
    opened = await open_session(a, stock=1, limit=1)
    sid, product = opened.session_id, opened.product_id
    desk = await workspace(b, sid, "guide-g")
    other_desk = await workspace(b, sid, "guide-h")
    viewer = await viewer_through(a, b, sid, "guide-g", "v1")
    arrived = await frame_where(desk, lambda f: "v1" in viewers_of(f))
    entry = viewers_of(arrived)["v1"]
    assert entry["name"] == "V1"
    assert entry["pinned"] == []
    assert entry["holds"] == []
    async with a.client(opened.host_token) as host:
        pinned = await host.post(f"/api/sessions/{sid}/pin", json={"product_id": product})
        assert pinned.status_code == 200, pinned.text
    # A pin is one field for the desk (the workspace adds it to every viewer listed).
    with_pin = await frame_where(desk, lambda f: f.get("pins"))
    assert with_pin["pins"] == [product]
    assert viewers_of(with_pin) == {}
    async with a.client(a.token("viewer", "v1")) as buyer:
        order = await buyer.post(
            f"/api/sessions/{sid}/orders",
            json={"product_id": product, "qty": 1},
            headers={"Idempotency-Key": "k1"},
        )
        assert order.status_code == 201, order.text
    held = await frame_where(desk, lambda f: viewers_of(f).get("v1", {}).get("holds"))
    hold = viewers_of(held)["v1"]["holds"][0]
    assert hold["order_id"] == order.json()["order_id"]
    assert hold["status"] == "reserved"
    assert hold["expires_ms"] > 0
    body = orjson.dumps(
        {
            "order_id": hold["order_id"],
            "paid_amount_cents": order.json()["amount_cents"],
            "provider_txn_id": "t1",
        }
    )
    async with a.client() as provider:
        paid = await provider.post(
            "/api/payments/notify", content=body, headers={"X-Signature": sign(body)}
        )
        assert paid.status_code == 200, paid.text
    await frame_where(desk, lambda f: viewers_of(f).get("v1", {"holds": [1]})["holds"] == [])
    # Sold out now (stock 1): a second viewer of G waits for a unit.
    second = await viewer_through(a, b, sid, "guide-g", "v2")
    async with a.client(a.token("viewer", "v2")) as waiting:
        joined = await waiting.post(f"/api/sessions/{sid}/waitlist", json={"product_id": product})
        assert joined.status_code == 201, joined.text
    listed = await frame_where(desk, lambda f: viewers_of(f).get("v2", {}).get("waitlist"))
    assert viewers_of(listed)["v2"]["waitlist"] == [product]
    # One more unit: it is offered to v2, who takes it; the desk shows a hold, no more waiting.
    async with a.client(opened.host_token) as host:
        restocked = await host.put(
            f"/api/sessions/{sid}/products/{product}/stock", json={"stock": 2}
        )
        assert restocked.status_code == 200, restocked.text
    offer = await second.wait_type("offer")
    await second.send(
        {"type": "buy", "product_id": product, "key": "take", "offer_id": offer["offer_id"]}
    )
    taken = await frame_where(desk, lambda f: viewers_of(f).get("v2", {}).get("holds"))
    assert viewers_of(taken)["v2"]["holds"][0]["order_id"] == offer["offer_id"]
    # The wait's end was sent before the hold: the entry that shows the hold shows it too.
    assert viewers_of(taken)["v2"]["waitlist"] == []
    await viewer.close()
    gone = await frame_where(desk, lambda f: "v1" in f["gone"])
    assert "v1" not in viewers_of(gone)
    assert not [f for f in other_desk.frames if f.get("type") == "workspace" and viewers_of(f)], (
        "another guide's desk listed G's viewers"
    )
    for room in (second, desk, other_desk):
        await room.close()


async def test_desk_opened_later_reads_the_state_afresh(
    pair: tuple[LiveServer, LiveServer],
) -> None:
    """A guide who opens the workspace after their viewers arrived gets them in the full frame,
    with the time watched in earlier visits and the product pinned when each arrived."""
    a, b = pair
    opened = await open_session(a)
    sid = opened.session_id
    async with a.client(opened.host_token) as host:
        await host.post(f"/api/sessions/{sid}/pin", json={"product_id": opened.product_id})
    first_visit = await viewer_through(a, b, sid, "guide-g", "v1")
    await first_visit.close()
    back = await viewer_through(a, b, sid, "guide-g", "v1")
    stranger = await Room.join(a.ws_url(sid, a.token("viewer", "walk-in")))
    await stranger.wait_type("snapshot")

    present = workspace_feed.present_key(sid, "guide-g")

    async def kept() -> bool:
        return bool(await a.context.redis.hexists(present, "v1"))

    await eventually(kept, what="v1's second arrival kept in Redis")
    desk = await Room.join(b.ws_url(sid, b.token("guide", "guide-g")))
    full = await frame_where(desk, lambda f: f["full"] and "v1" in viewers_of(f))
    entry = viewers_of(full)["v1"]
    assert set(viewers_of(full)) == {"v1"}
    assert entry["pinned"] == [opened.product_id]
    assert entry["watched_ms"] >= 0
    assert entry["since_ms"] > 0
    for room in (back, stranger, desk):
        await room.close()
