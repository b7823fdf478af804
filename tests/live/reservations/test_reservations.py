"""Scheduled sessions and reservations over HTTP: binding to the guide as a join does,
idempotent per viewer, cancellable, listed for the guide, totalled for the host, closed once
live, invisible to other brands."""

import time

from tests.live.reservations.scheduling import reserve, schedule, share_of
from tests.support.servers import LiveServer


async def test_a_session_with_a_start_time_is_scheduled_and_goes_live_as_today(
    server: LiveServer,
) -> None:
    """``starts_at`` makes the session ``scheduled`` with its cover and products; starting it
    makes it live; a start time in the past is refused."""
    session_id, product_id = await schedule(server)
    async with server.client(server.token("host", "host-1")) as host:
        got = (await host.get(f"/api/sessions/{session_id}")).json()
        assert got["status"] == "scheduled"
        assert got["starts_at"] > time.time() * 1000
        assert got["cover_url"] == "https://cdn.example.com/cover.jpg"
        assert [p["product_id"] for p in got["products"]] == [product_id]
        listed = (await host.get("/api/sessions", params={"status": "scheduled"})).json()
        assert session_id in [item["id"] for item in listed["items"]]
        past = await host.post("/api/sessions", json={"title": "x", "starts_at": 1000})
        assert past.status_code == 422
        assert past.json()["error"]["code"] == "invalid_request"
        early_end = await host.post(f"/api/sessions/{session_id}/end")
        assert early_end.json()["error"]["code"] == "session_not_live"
        started = await host.post(f"/api/sessions/{session_id}/start")
        assert started.json()["status"] == "live"
        moved = await host.patch(
            f"/api/sessions/{session_id}", json={"starts_at": int(time.time() * 1000) + 60_000}
        )
        assert moved.status_code == 409


async def test_a_draft_is_scheduled_by_giving_it_a_start_time(server: LiveServer) -> None:
    """``PATCH`` with ``starts_at`` turns a draft into a scheduled session."""
    async with server.client(server.token("host", "host-1")) as host:
        draft = (await host.post("/api/sessions", json={"title": "Later"})).json()
        assert draft["status"] == "draft"
        starts = int(time.time() * 1000) + 3_600_000
        patched = await host.patch(f"/api/sessions/{draft['id']}", json={"starts_at": starts})
    assert patched.status_code == 200, patched.text
    assert (patched.json()["status"], patched.json()["starts_at"]) == ("scheduled", starts)


async def test_a_reservation_through_a_share_code_binds_the_viewer_to_the_guide(
    server: LiveServer,
) -> None:
    """The reservation names the guide of the code, and the viewer's later order in the live
    room is attributed to that guide without any code: the reservation bound them."""
    session_id, product_id = await schedule(server)
    code = await share_of(server, session_id, "guide-a")
    status, made = await reserve(server, session_id, "v1", share=code)
    assert status == 201, made
    assert (made["guide_id"], made["status"], made["viewer_name"]) == (
        "guide-a",
        "active",
        "Name of v1",
    )
    async with server.client(server.token("host", "host-1")) as host:
        await host.post(f"/api/sessions/{session_id}/start")
    async with server.client(server.token("viewer", "v1")) as viewer:
        order = await viewer.post(
            f"/api/sessions/{session_id}/orders",
            json={"product_id": product_id, "qty": 1},
            headers={"Idempotency-Key": "k1"},
        )
    assert order.status_code == 201, order.text
    assert order.json()["guide_id"] == "guide-a"


async def test_reserving_again_is_the_same_reservation_and_cancelling_takes_it_back(
    server: LiveServer,
) -> None:
    """A second reserve answers 200 with the same id; cancel makes it ``cancelled`` (twice is
    harmless); reserving again reactivates the same row; counts follow."""
    session_id, _ = await schedule(server)
    first_status, first = await reserve(server, session_id, "v1")
    again_status, again = await reserve(server, session_id, "v1")
    assert (first_status, again_status) == (201, 200)
    assert again["reservation_id"] == first["reservation_id"]
    assert first["guide_id"] is None
    viewer = server.token("viewer", "v1")
    async with server.client(viewer) as client:
        schedule_page = (await client.get(f"/api/sessions/{session_id}/schedule")).json()
        assert (schedule_page["reserved"], schedule_page["reservations"]) == (True, 1)
        for _ in range(2):
            cancelled = await client.delete(f"/api/sessions/{session_id}/reservations/me")
            assert cancelled.json()["status"] == "cancelled"
        schedule_page = (await client.get(f"/api/sessions/{session_id}/schedule")).json()
        assert (schedule_page["reserved"], schedule_page["reservations"]) == (False, 0)
    status, back = await reserve(server, session_id, "v1")
    assert (status, back["reservation_id"], back["status"]) == (
        201,
        first["reservation_id"],
        "active",
    )


async def test_the_guide_lists_their_reservations_and_the_host_sees_totals(
    server: LiveServer,
) -> None:
    """Per guide lists and counts; the unattributed ones count in the total only."""
    session_id, _ = await schedule(server)
    code_a = await share_of(server, session_id, "guide-a")
    code_b = await share_of(server, session_id, "guide-b")
    for viewer, code in (("v1", code_a), ("v2", code_a), ("v3", code_b), ("v4", None)):
        status, _ = await reserve(server, session_id, viewer, share=code)
        assert status == 201
    async with server.client(server.token("guide", "guide-a", store="store-1")) as guide:
        mine = (
            await guide.get("/api/guides/me/reservations", params={"session_id": session_id})
        ).json()
    assert sorted(item["viewer_id"] for item in mine["items"]) == ["v1", "v2"]
    async with server.client(server.token("host", "host-1")) as host:
        totals = (await host.get(f"/api/sessions/{session_id}/reservations")).json()
    assert totals["total"] == 4
    assert totals["unattributed"] == 1
    assert [(g["guide_id"], g["reservations"]) for g in totals["guides"]] == [
        ("guide-a", 2),
        ("guide-b", 1),
    ]


async def test_the_schedule_page_shows_what_a_countdown_needs(server: LiveServer) -> None:
    """Title, cover, start, products, count, reserved, and the server's clock."""
    session_id, product_id = await schedule(server, title="Preview night")
    await reserve(server, session_id, "v1")
    async with server.client(server.token("viewer", "v2")) as client:
        page = (await client.get(f"/api/sessions/{session_id}/schedule")).json()
    assert page["title"] == "Preview night"
    assert page["status"] == "scheduled"
    assert page["cover_url"] == "https://cdn.example.com/cover.jpg"
    assert page["products"][0]["product_id"] == product_id
    assert (page["reservations"], page["reserved"]) == (1, False)
    assert page["starts_at"] > page["now"] > 0


async def test_reservations_close_once_live_and_stay_in_their_brand(server: LiveServer) -> None:
    """A live session answers ``reservations_closed``; another brand's viewer, host or guide
    finds no session; a host cannot reserve; cancelling nothing is ``not_found``."""
    session_id, _ = await schedule(server)
    await reserve(server, session_id, "v1")
    other = server.token("viewer", "v1", brand="other-brand")
    async with server.client(other) as client:
        assert (
            await client.post(f"/api/sessions/{session_id}/reservations", json={})
        ).status_code == 404
        assert (await client.get(f"/api/sessions/{session_id}/schedule")).status_code == 404
    other_host = server.token("host", "h", brand="other-brand")
    async with server.client(other_host) as client:
        assert (await client.get(f"/api/sessions/{session_id}/reservations")).status_code == 404
    async with server.client(server.token("guide", "g", brand="other-brand")) as client:
        listed = await client.get("/api/guides/me/reservations", params={"session_id": session_id})
        assert listed.json()["items"] == []
    async with server.client(server.token("host", "host-1")) as host:
        refused = await host.post(f"/api/sessions/{session_id}/reservations", json={})
        assert refused.status_code == 403
        await host.post(f"/api/sessions/{session_id}/start")
    async with server.client(server.token("viewer", "v9")) as client:
        nothing = await client.delete(f"/api/sessions/{session_id}/reservations/me")
        assert nothing.json()["error"]["code"] == "not_found"
    status, closed = await reserve(server, session_id, "v2")
    assert (status, closed["error"]["code"]) == (409, "reservations_closed")


async def test_a_forged_share_code_reserves_without_a_guide(server: LiveServer) -> None:
    """A bad code touches nobody, as on the room socket: the reservation is plain."""
    session_id, _ = await schedule(server)
    status, made = await reserve(server, session_id, "v1", share="not.a-code")
    assert (status, made["guide_id"]) == (201, None)
