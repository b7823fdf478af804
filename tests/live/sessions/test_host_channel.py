"""The host's socket: the full comment stream, stats and likes; lucky draws end to end."""

from redis.asyncio import Redis

from live.sessions import draws
from tests.support.clients import Room
from tests.support.polling import eventually
from tests.support.servers import LiveServer
from tests.support.sessions import OpenSession


async def test_host_sees_every_comment_viewers_see_a_sample(
    server: LiveServer, opened: OpenSession
) -> None:
    """With K=20 per tick, a 60-comment burst reaches the host whole and viewers sampled."""
    host = await Room.join(server.ws_url(opened.session_id, opened.host_token))
    watcher = await Room.join(server.ws_url(opened.session_id, server.token("viewer", "w")))
    await host.wait_type("snapshot")
    await watcher.wait_type("snapshot")
    senders = [
        await Room.join(server.ws_url(opened.session_id, server.token("viewer", f"s{n}")))
        for n in range(3)
    ]
    for sender in senders:
        await sender.wait_type("snapshot")
    for n in range(20):
        for k, sender in enumerate(senders):
            await sender.send({"type": "comment", "text": f"question {n} from {k}", "ref": "x"})
    for sender in senders:
        for _ in range(20):
            await sender.wait_type("ack")
    host_items: list[dict[str, object]] = []
    while len(host_items) < 60:
        host_items.extend((await host.wait_type("comments"))["items"])
    assert {item["user_id"] for item in host_items} == {"s0", "s1", "s2"}
    stats = await host.wait_type("stats")
    assert stats["comments"] >= 1
    viewer_batch = await watcher.wait_type("comments")
    assert len(viewer_batch["items"]) <= server.settings.comments_per_tick
    assert all("user_id" not in item for item in viewer_batch["items"])
    for room in (host, watcher, *senders):
        await room.close()


async def test_likes_are_counted_exactly_and_broadcast(
    server: LiveServer, opened: OpenSession
) -> None:
    """Likes from several viewers add up exactly and reach viewers as a coalesced total."""
    rooms = [
        await Room.join(server.ws_url(opened.session_id, server.token("viewer", f"l{n}")))
        for n in range(3)
    ]
    for room in rooms:
        await room.wait_type("snapshot")
    for room in rooms:
        for _ in range(5):
            await room.send({"type": "like", "count": 7})
    for room in rooms:
        for _ in range(5):
            await room.wait_type("ack")
    total = await rooms[0].wait_for(lambda f: f.get("type") == "likes" and f["total"] == 105)
    assert total["total"] == 3 * 5 * 7
    for room in rooms:
        await room.close()


async def test_lucky_draw_is_fair_and_auditable(server: LiveServer, opened: OpenSession) -> None:
    """Keyword senders enter once; the result's seed recomputes the winners; winners are told."""
    async with server.client(opened.host_token) as host:
        opened_draw = await host.post(
            f"/api/sessions/{opened.session_id}/draws",
            json={"winners": 2, "keyword": "LUCKY", "duration_s": 60, "prize": "scarf"},
        )
        assert opened_draw.status_code == 201, opened_draw.text
        draw_id = opened_draw.json()["draw_id"]
        rooms = {}
        for n in range(5):
            room = await Room.join(
                server.ws_url(opened.session_id, server.token("viewer", f"p{n}"))
            )
            await room.wait_type("snapshot")
            rooms[f"p{n}"] = room
        for name in ("p0", "p1", "p2", "p3"):
            await rooms[name].send({"type": "comment", "text": "me! lucky", "ref": "e"})
            await rooms[name].wait_type("ack")
        await rooms["p0"].send({"type": "comment", "text": "lucky again", "ref": "e2"})
        await rooms["p0"].wait_type("ack")
        await rooms["p4"].send({"type": "comment", "text": "no keyword here", "ref": "n"})
        await rooms["p4"].wait_type("ack")
        closed = await host.post(f"/api/sessions/{opened.session_id}/draws/{draw_id}/close")
        result = closed.json()
        again = await host.post(f"/api/sessions/{opened.session_id}/draws/{draw_id}/close")
        assert again.json() == result
    assert result["entrants"] == 4
    entrants = ["p0", "p1", "p2", "p3"]
    assert result["entrants_sha256"] == draws.entrants_digest(entrants)
    assert result["winners"] == draws.pick_winners(entrants, 2, result["seed"])
    for name in result["winners"]:
        won = await rooms[name].wait_type("draw_won")
        assert (won["draw_id"], won["prize"]) == (draw_id, "scarf")
    announced = await rooms["p4"].wait_type("draw_result")
    assert announced["winners"] == result["winners"]
    assert all(frame.get("type") != "draw_audit" for frame in rooms["p4"].frames)
    for room in rooms.values():
        await room.close()


async def test_draw_among_viewers_present(
    server: LiveServer, opened: OpenSession, redis: Redis
) -> None:
    """A draw without keyword enters the viewers whose sockets were open during its window."""
    async with server.client(opened.host_token) as host:
        opened_draw = await host.post(
            f"/api/sessions/{opened.session_id}/draws", json={"winners": 1, "duration_s": 60}
        )
        assert opened_draw.status_code == 201, opened_draw.text
        draw_id = opened_draw.json()["draw_id"]
        rooms = [
            await Room.join(server.ws_url(opened.session_id, server.token("viewer", f"v{n}")))
            for n in range(3)
        ]
        for room in rooms:
            await room.wait_type("snapshot")
        hosting = await Room.join(server.ws_url(opened.session_id, opened.host_token))
        await hosting.wait_type("snapshot")

        async def all_seen() -> bool:
            return int(await redis.zcard(f"live:{{{opened.session_id}}}:seen")) == 3

        await eventually(all_seen)
        result = (
            await host.post(f"/api/sessions/{opened.session_id}/draws/{draw_id}/close")
        ).json()
    assert result["entrants"] == 3
    assert result["winners"] == draws.pick_winners(["v0", "v1", "v2"], 1, result["seed"])
    for room in (*rooms, hosting):
        await room.close()


async def test_a_draw_opened_mid_flood_takes_entries_at_once(
    server: LiveServer, opened: OpenSession
) -> None:
    """Comments before the draw (open draws are read once per room seq) must not hide a draw
    opened next: a keyword sent on seeing `draw_open` enters."""
    room = await Room.join(server.ws_url(opened.session_id, server.token("viewer", "early")))
    await room.wait_type("snapshot")
    await room.send({"type": "comment", "text": "lucky before any draw", "ref": "c0"})
    await room.wait_type("ack")
    async with server.client(opened.host_token) as host:
        opened_draw = await host.post(
            f"/api/sessions/{opened.session_id}/draws",
            json={"winners": 1, "keyword": "LUCKY", "duration_s": 60},
        )
        draw_id = opened_draw.json()["draw_id"]
        await room.wait_type("draw_open")
        await room.send({"type": "comment", "text": "lucky me", "ref": "c1"})
        await room.wait_type("ack")
        closed = await host.post(f"/api/sessions/{opened.session_id}/draws/{draw_id}/close")
    assert closed.json()["entrants"] == 1
    await room.close()
