"""The live guide leaderboard: viewers brought, orders and GMV per guide, pushed to the hosts'
panels (never to viewers) and readable over HTTP."""

from tests.live.guides.shares import join_and_buy, share_code
from tests.support.clients import Room
from tests.support.servers import LiveServer
from tests.support.sessions import open_session
from tests.support.units import UNIT_S


async def test_hosts_see_the_guides_ranked_live(server: LiveServer) -> None:
    """Ann brings two buyers, Bo one viewer who does not buy: the host's frame and the HTTP
    leaderboard agree; a viewer's socket never gets the frame."""
    opened = await open_session(server, stock=10, limit=5, price_cents=5_000)
    host = await Room.join(server.ws_url(opened.session_id, opened.host_token))
    await host.wait_type("snapshot")
    watcher = await Room.join(server.ws_url(opened.session_id, server.token("viewer", "w")))
    await watcher.wait_type("snapshot")
    ann = await share_code(server, opened.session_id, "ann")
    bo = await share_code(server, opened.session_id, "bo")
    for buyer in ("c1", "c2"):
        await join_and_buy(
            server, opened.session_id, opened.product_id, buyer, share=ann["code"], key=buyer
        )
    browsing = await Room.join(
        server.ws_url(opened.session_id, server.token("viewer", "c3"), share=bo["code"])
    )
    await browsing.wait_type("snapshot")
    await browsing.close()
    expected = [
        {"guide_id": "ann", "viewers": 2, "orders": 2, "gmv_cents": 10_000},
        {"guide_id": "bo", "viewers": 1, "orders": 0, "gmv_cents": 0},
    ]
    frame = await host.wait_for(
        lambda f: f.get("type") == "leaderboard" and f["guides"] == expected, timeout_s=10 * UNIT_S
    )
    assert frame["guides"][0]["guide_id"] == "ann"
    async with server.client(opened.host_token) as client:
        board = await client.get(f"/api/sessions/{opened.session_id}/leaderboard")
    # Over HTTP each guide also carries its name (its id when the organisation has none).
    named = [{**guide, "name": guide["guide_id"]} for guide in expected]
    assert board.json() == {"session_id": opened.session_id, "guides": named}
    async with server.client(server.token("viewer", "w")) as viewer:
        refused = await viewer.get(f"/api/sessions/{opened.session_id}/leaderboard")
    assert refused.json()["error"]["code"] == "forbidden"
    # A frame every socket of the room gets after the push the host saw: a leaderboard frame
    # sent to the viewer with that push would reach it before this one.
    async with server.client(opened.host_token) as client:
        pinned = await client.post(
            f"/api/sessions/{opened.session_id}/pin", json={"product_id": opened.product_id}
        )
        assert pinned.status_code == 200, pinned.text
    await watcher.wait_type("pin")
    assert not [f for f in watcher.frames if f.get("type") == "leaderboard"]
    await host.close()
    await watcher.close()
