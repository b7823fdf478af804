"""A reservation binds under the brand's binding policy exactly as a join does: under
``first_touch`` a second guide's code does not take a viewer the first guide holds (the
reservation stays the first guide's), under ``last_touch`` it does (the reservation moves);
a plain reservation records the guide a join already bound the viewer to."""

from tests.live.reservations.scheduling import reserve, schedule, share_of
from tests.support.clients import Room
from tests.support.servers import LiveServer


async def test_first_touch_keeps_the_reservation_with_the_first_guide(server: LiveServer) -> None:
    """Reserving through guide A then guide B: A keeps it; the host counts it once, for A."""
    async with server.client(server.token("admin", "boss")) as admin:
        put = await admin.put(
            "/api/brands/me/attribution", json={"kind": "first_touch", "protection_s": 3_600}
        )
        assert put.status_code == 200, put.text
    session_id, _ = await schedule(server)
    first = await share_of(server, session_id, "guide-a")
    second = await share_of(server, session_id, "guide-b")
    _, made = await reserve(server, session_id, "v1", share=first)
    status, again = await reserve(server, session_id, "v1", share=second)
    assert (made["guide_id"], status, again["guide_id"]) == ("guide-a", 200, "guide-a")
    async with server.client(server.token("host", "host-1")) as host:
        totals = (await host.get(f"/api/sessions/{session_id}/reservations")).json()
    assert (totals["total"], [g["guide_id"] for g in totals["guides"]]) == (1, ["guide-a"])


async def test_last_touch_moves_the_reservation_to_the_latest_guide(server: LiveServer) -> None:
    """Under the default ``last_touch`` the second guide's code rebinds, and the reservation
    (still one) is the second guide's."""
    session_id, _ = await schedule(server)
    first = await share_of(server, session_id, "guide-a")
    second = await share_of(server, session_id, "guide-b")
    await reserve(server, session_id, "v1", share=first)
    _, moved = await reserve(server, session_id, "v1", share=second)
    assert moved["guide_id"] == "guide-b"
    async with server.client(server.token("guide", "guide-a")) as guide:
        mine = (await guide.get("/api/guides/me/reservations")).json()["items"]
    assert [r for r in mine if r["session_id"] == session_id] == []


async def test_a_plain_reservation_records_the_guide_a_join_bound(server: LiveServer) -> None:
    """The viewer came into the (not yet live) room through guide A's link; reserving without
    a code records guide A."""
    session_id, _ = await schedule(server)
    code = await share_of(server, session_id, "guide-a")
    room = await Room.join(server.ws_url(session_id, server.token("viewer", "v1"), share=code))
    await room.wait_type("snapshot")
    await room.close()
    _, made = await reserve(server, session_id, "v1")
    assert made["guide_id"] == "guide-a"
