"""After the live, per guide: who reserved and never came, who came and did not buy, with
links carrying the guide's code (a clip bought from such a link is the guide's), as JSON and
CSV; viewers in the room on one node, the guide reading on another."""

import csv
import io
import uuid
from urllib.parse import parse_qs, urlparse

import orjson

from realtime import keys as realtime_keys
from tests.live.reservations.scheduling import reserve, schedule, share_of
from tests.support.clients import Room, sign
from tests.support.polling import eventually
from tests.support.servers import LiveServer, ServerWith
from tests.support.units import UNIT_S


async def _seen(server: LiveServer, session_id: str, viewers: set[str]) -> None:
    """Until every one of ``viewers`` is in the room's presence record."""

    async def recorded() -> bool:
        scores = await server.context.redis.zmscore(realtime_keys.seen(session_id), sorted(viewers))
        return all(score is not None for score in scores)

    await eventually(recorded, what=f"{viewers} seen in the room")


async def _buy_and_pay(server: LiveServer, session_id: str, product_id: str, viewer: str) -> None:
    async with server.client(server.token("viewer", viewer)) as client:
        order = (
            await client.post(
                f"/api/sessions/{session_id}/orders",
                json={"product_id": product_id, "qty": 1},
                headers={"Idempotency-Key": uuid.uuid4().hex},
            )
        ).json()
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


async def test_the_guide_gets_no_shows_and_no_buys_with_links_that_credit_them(
    server: LiveServer, server_with: ServerWith
) -> None:
    """v1 reserved through the guide and never came; v2 reserved and came without buying; v3
    came through the guide's link and paid; v4 reserved through another guide. The guide's
    list has v1 (replay link) and v2 (clip link), not v3 or v4; the CSV says the same; v2's
    purchase from the link is the guide's."""
    room_node, guide_node = server, await server_with()
    guide_node.brand = server.brand
    session_id, product_id = await schedule(room_node)
    code = await share_of(room_node, session_id, "guide-a")
    other = await share_of(room_node, session_id, "guide-b")
    await reserve(room_node, session_id, "v1", share=code)
    await reserve(room_node, session_id, "v2", share=code)
    await reserve(room_node, session_id, "v4", share=other)
    host = room_node.token("host", "host-1")
    async with room_node.client(host) as client:
        await client.post(f"/api/sessions/{session_id}/start")
        await client.post(f"/api/sessions/{session_id}/pin", json={"product_id": product_id})
    rooms = [
        await Room.join(room_node.ws_url(session_id, room_node.token("viewer", "v2"))),
        await Room.join(room_node.ws_url(session_id, room_node.token("viewer", "v3"), share=code)),
    ]
    for room in rooms:
        await room.wait_type("snapshot")
    await _seen(room_node, session_id, {"v2", "v3"})
    await _buy_and_pay(room_node, session_id, product_id, "v3")
    guide = guide_node.token("guide", "guide-a", store="store-1")
    async with guide_node.client(guide) as client:
        early = await client.get("/api/guides/me/no-shows", params={"session_id": session_id})
        assert early.json()["error"]["code"] == "session_not_live"
    for room in rooms:
        await room.close()
    async with room_node.client(host) as client:
        await client.post(f"/api/sessions/{session_id}/end")

        async def archived() -> bool:
            return (await client.get(f"/api/sessions/{session_id}/clips")).status_code == 200

        await eventually(archived, timeout_s=20 * UNIT_S, what="the session's clips")
        clips = (await client.get(f"/api/sessions/{session_id}/clips")).json()
    assert clips, "the pinned product has a clip"

    async with guide_node.client(guide) as client:
        report = (
            await client.get("/api/guides/me/no-shows", params={"session_id": session_id})
        ).json()
        exported = await client.get(
            "/api/guides/me/no-shows", params={"session_id": session_id, "format": "csv"}
        )
    by_viewer = {item["viewer_id"]: item for item in report["items"]}
    assert set(by_viewer) == {"v1", "v2"}
    assert by_viewer["v1"]["kind"] == "no_show"
    assert by_viewer["v1"]["viewer_name"] == "Name of v1"
    assert by_viewer["v1"]["link"].startswith(f"/replay/{session_id}?share=")
    assert by_viewer["v2"]["kind"] == "no_buy"
    assert by_viewer["v2"]["clip_id"] == clips[0]["clip_id"]
    link = urlparse(by_viewer["v2"]["link"])
    assert link.path == f"/clips/{clips[0]['clip_id']}"
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert sorted((row["viewer_id"], row["kind"]) for row in rows) == [
        ("v1", "no_show"),
        ("v2", "no_buy"),
    ]

    share = parse_qs(link.query)["share"][0]
    async with room_node.client(room_node.token("viewer", "v2")) as client:
        opened = await client.get(f"/api/clips/{clips[0]['clip_id']}", params={"share": share})
        assert opened.status_code == 200, opened.text
        bought = await client.post(
            f"/api/sessions/{session_id}/clips/{clips[0]['clip_id']}/orders",
            json={"qty": 1, "share": share},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
    assert bought.status_code == 201, bought.text
    assert bought.json()["guide_id"] == "guide-a"


async def test_the_list_of_another_guide_or_brand_is_not_mine(server: LiveServer) -> None:
    """A guide of another brand finds no session; a guide with no reservations gets none."""
    session_id, _ = await schedule(server)
    await reserve(server, session_id, "v1", share=await share_of(server, session_id, "guide-a"))
    async with server.client(server.token("host", "host-1")) as host:
        await host.post(f"/api/sessions/{session_id}/start")
        await host.post(f"/api/sessions/{session_id}/end")
    outsider = server.token("guide", "guide-a", brand="other-brand")
    async with server.client(outsider) as client:
        answer = await client.get("/api/guides/me/no-shows", params={"session_id": session_id})
        assert answer.status_code == 404
    async with server.client(server.token("guide", "guide-z")) as client:
        answer = await client.get("/api/guides/me/no-shows", params={"session_id": session_id})
    assert answer.json()["items"] == []
