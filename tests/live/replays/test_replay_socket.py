"""The replay socket against the real app: state at a seek point, the comments overlay, a clip
playing exactly its window, speed, pause and resume, bad frames and refusals."""

import asyncio
import time
from collections.abc import Callable
from typing import Any

from live.replays.index import index_name
from replay.local_store import LocalArchiveStore
from tests.live.replays.archived import Archived, build, fold
from tests.support.clients import Room
from tests.support.polling import eventually
from tests.support.servers import LiveServer
from tests.support.sessions import open_session
from tests.support.units import UNIT_S


async def _until_end(room: Room, *, timeout_s: float = 20 * UNIT_S) -> list[dict[str, Any]]:
    """Every frame up to (without) the next ``replay_end``; the frames after it stay."""
    async with asyncio.timeout(timeout_s):
        while not any(f.get("type") == "replay_end" for f in room.frames):
            await room.next_frame()
    end = next(i for i, f in enumerate(room.frames) if f.get("type") == "replay_end")
    played, room.frames = room.frames[:end], room.frames[end + 1 :]
    return played


def _answering(ref: str) -> Callable[[dict[str, Any]], bool]:
    return lambda frame: frame.get("ref") == ref


def _expected_state(archived: Archived, t_ms: int) -> dict[str, Any]:
    folded = fold(archived.events, t_ms)
    opening = {archived.coat: 19_900, archived.scarf: 900}
    allocation = {archived.coat: 10, archived.scarf: 3}
    # The scarf was added during the session: it exists from its first stock level on.
    existing = [archived.coat] + [p for p in (archived.scarf,) if p in folded["levels"]]
    products = {
        product_id: {
            "price_cents": folded["prices"].get(product_id, opening[product_id]),
            "stock": folded["levels"].get(product_id, allocation[product_id]),
        }
        for product_id in existing
    }
    return {"pinned": folded["pinned"], "products": products}


def _state_of(frame: dict[str, Any]) -> dict[str, Any]:
    products = {
        p["product_id"]: {"price_cents": p["price_cents"], "stock": p["stock"]}
        for p in frame["products"]
    }
    return {"pinned": frame["pinned_product_id"], "products": products}


async def test_seek_answers_the_state_at_that_instant(server: LiveServer) -> None:
    """After a seek the first frame is the state at that instant (pinned product card, stock
    and prices folded from the archive), then the events from there on."""
    archived = await build(server)
    sid = archived.session_id
    purchase = archived.first("purchase")
    price = archived.first("price")
    scarf_pin = archived.first("pin", product_id=archived.scarf)
    unpin = archived.first("unpin")
    room = await Room.join(server.replay_url(sid, server.token("viewer", "w"), speed=4))
    start = await room.wait_type("replay_state")
    assert start["t_ms"] == 0
    assert start["pinned_product_id"] is None
    assert start["product"] is None
    marks = [price["t_ms"], scarf_pin["t_ms"], unpin["t_ms"], purchase["t_ms"], 0]
    for n, t_ms in enumerate(marks):
        ref = f"s{n}"
        await room.send({"type": "seek", "t_ms": t_ms, "ref": ref})
        state = await room.wait_for(_answering(ref))
        assert state["type"] == "replay_state"
        assert state["t_ms"] == t_ms
        assert _state_of(state) == _expected_state(archived, t_ms)
        card = state["product"]
        pinned = state["pinned_product_id"]
        assert (card is None) == (pinned is None)
        if card is not None:
            assert card["product_id"] == pinned
        # Every event that follows the state is from that instant on.
        room.frames.clear()
        following = await room.wait_for(lambda f: f.get("type") not in {"ack", "pong"})
        if following["type"] != "replay_end":
            assert following["t_ms"] >= t_ms
    at_price = _expected_state(archived, price["t_ms"])
    assert at_price["pinned"] == archived.coat
    assert at_price["products"][archived.coat] == {"price_cents": 15_000, "stock": 9}
    assert _expected_state(archived, scarf_pin["t_ms"])["pinned"] == archived.scarf
    assert _expected_state(archived, purchase["t_ms"] - 1)["products"][archived.coat] == {
        "price_cents": 19_900,
        "stock": 10,
    }
    await room.close()


async def test_a_clip_plays_exactly_its_window_with_the_comments_overlay(
    server: LiveServer,
) -> None:
    """A clip plays the archived events of its window, as the HTTP replay lists them, with
    every comment of the window interleaved; viewers do not see user ids, a deleted comment is
    marked; then ``replay_end``."""
    archived = await build(server)
    sid = archived.session_id
    clip = next(c for c in archived.clips if c["product_id"] == archived.coat)
    async with server.client(archived.host_token) as host:
        window = (
            await host.get(
                f"/api/sessions/{sid}/replay",
                params={"from_ms": clip["from_ms"], "to_ms": clip["to_ms"]},
            )
        ).json()
    host_room = await Room.join(
        server.replay_url(sid, archived.host_token, clip_id=clip["clip_id"], speed=4)
    )
    viewer_room = await Room.join(
        server.replay_url(sid, server.token("viewer", "w"), clip_id=clip["clip_id"], speed=4)
    )
    host_played = await _until_end(host_room)
    viewer_played = await _until_end(viewer_room)

    assert host_played[0]["type"] == "replay_state"
    assert host_played[0]["clip_id"] == clip["clip_id"]
    assert host_played[0]["pinned_product_id"] == archived.coat
    assert (host_played[0]["from_ms"], host_played[0]["to_ms"]) == (clip["from_ms"], clip["to_ms"])
    assert host_played[1:] == window
    comments = [e for e in viewer_played if e["type"] == "comment"]
    assert [c["text"] for c in comments] == ["hello", "bad word"]
    assert [c.get("deleted", False) for c in comments] == [False, True]
    assert all("user_id" not in c for c in comments)
    assert all(c["user"] == "Vic" for c in comments)
    durable = [e for e in viewer_played[1:] if e["type"] != "comment"]
    assert durable == [e for e in window if e["type"] != "comment"]
    await host_room.close()
    await viewer_room.close()


async def test_speed_is_honoured(server: LiveServer) -> None:
    """The same window takes about a quarter of the wall time at speed 4 as at speed 1."""
    archived = await build(server, pause_s=1.0)
    sid = archived.session_id
    span_ms = archived.first("unpin")["t_ms"]
    walls: dict[float, float] = {}
    for speed in (4, 1):
        room = await Room.join(
            server.replay_url(sid, archived.host_token, from_ms=0, to_ms=span_ms, speed=speed)
        )
        await room.wait_type("replay_state")
        began = time.monotonic()
        await _until_end(room)
        walls[speed] = time.monotonic() - began
        await room.close()
    # Generous bounds: never faster than the timeline allows, and clearly faster at speed 4.
    assert walls[1] >= 0.8 * span_ms / 1000
    assert walls[4] >= 0.8 * span_ms / 4000
    assert walls[4] < 0.6 * walls[1]


async def test_pause_resume_speed_and_bad_frames(server: LiveServer) -> None:
    """Pause freezes the playback, resume continues it; a speed outside 0.5-4, a seek outside
    the window and malformed frames get catalog errors and the socket plays on."""
    archived = await build(server)
    sid = archived.session_id
    room = await Room.join(server.replay_url(sid, archived.host_token, speed=0.5))
    await room.wait_type("replay_state")
    await room.send({"type": "pause", "ref": "p"})
    paused = await room.wait_for(lambda f: f.get("ref") == "p")
    assert paused["type"] == "ack"
    assert paused["paused"] is True
    await room.send({"type": "seek", "t_ms": archived.first("unpin")["t_ms"], "ref": "late"})
    await room.wait_for(lambda f: f.get("ref") == "late")
    room.frames.clear()  # what was played before the pause
    bad: list[tuple[Any, str]] = [
        ({"type": "speed", "speed": 8, "ref": "b1"}, "invalid_request"),
        ({"type": "speed", "speed": 0.25, "ref": "b2"}, "invalid_request"),
        ({"type": "speed", "speed": "fast", "ref": "b3"}, "invalid_request"),
        ({"type": "seek", "t_ms": 10**9, "ref": "b4"}, "invalid_request"),
        ({"type": "seek", "t_ms": -1, "ref": "b5"}, "invalid_request"),
        ({"type": "rewind", "ref": "b6"}, "unknown_type"),
    ]
    for message, code in bad:
        await room.send(message)
        answer = await room.wait_for(_answering(message["ref"]))
        assert (answer["type"], answer["code"]) == ("error", code)
    await room.socket.send("{not json")
    assert (await room.wait_type("error"))["code"] == "invalid_json"
    # Paused: nothing is played, however long the client waits for its own answers.
    await room.send({"type": "ping", "ref": "q"})
    await room.wait_for(lambda f: f.get("type") == "pong")
    assert not [f for f in room.frames if "t_ms" in f and f.get("type") != "ack"]
    await room.send({"type": "speed", "speed": 4, "ref": "fast"})
    fast = await room.wait_for(lambda f: f.get("ref") == "fast")
    assert (fast["speed"], fast["paused"]) == (4.0, True)
    await room.send({"type": "resume", "ref": "r"})
    resumed = await room.wait_for(lambda f: f.get("ref") == "r")
    assert resumed["paused"] is False
    played = await _until_end(room)
    assert any(f.get("type") == "ended" for f in played)
    await room.close()


async def _refused(url: str) -> tuple[str, int]:
    room = await Room.join(url)
    error = await room.wait_type("error")
    await room.socket.wait_closed()
    code = room.socket.close_code
    assert code is not None
    return error["code"], code


async def test_refusals_carry_catalog_codes(server: LiveServer) -> None:
    """A session not ended, another brand's session, a deleted archive, a bad token, a bad
    speed, window or clip are refused with an error frame and a close code."""
    live = await open_session(server)
    viewer = server.token("viewer", "w")
    assert await _refused(server.replay_url(live.session_id, viewer)) == ("session_not_live", 4010)
    archived = await build(server)
    sid = archived.session_id
    other = server.token("viewer", "w", brand="another-brand")
    assert await _refused(server.replay_url(sid, other)) == ("not_found", 4004)
    assert await _refused(server.replay_url(sid, "forged")) == ("token_invalid", 4001)
    for params in (
        {"speed": 5},
        {"speed": 0.4},
        {"speed": "x"},
        {"from_ms": 10, "to_ms": 5},
        {"from_ms": -3},
        {"clip_id": archived.clips[0]["clip_id"], "from_ms": 0},
    ):
        assert await _refused(server.replay_url(sid, viewer, **params)) == (
            "invalid_request",
            4022,
        )
    assert await _refused(server.replay_url(sid, viewer, clip_id="nope")) == ("not_found", 4004)
    async with server.client(server.token("admin", "root")) as admin:
        deleted = await admin.delete(f"/api/sessions/{sid}/archive")
        assert deleted.status_code == 200, deleted.text
    assert await _refused(server.replay_url(sid, viewer)) == ("archive_deleted", 4010)


async def test_playing_a_clip_counts_one_view_per_viewer(server: LiveServer) -> None:
    """Viewers playing a clip (or opening it over HTTP) are counted once each."""
    archived = await build(server)
    sid = archived.session_id
    clip_id = archived.clips[0]["clip_id"]
    for viewer_id in ("a", "a", "b"):
        room = await Room.join(
            server.replay_url(sid, server.token("viewer", viewer_id), clip_id=clip_id, speed=4)
        )
        await room.wait_type("replay_state")
        await room.close()
    async with server.client(server.token("viewer", "c")) as viewer:
        opened = await viewer.get(f"/api/sessions/{sid}/clips/{clip_id}")
        assert opened.status_code == 200
    async with server.client(archived.host_token) as host:
        stats = await host.get(f"/api/sessions/{sid}/clips/{clip_id}/stats")
        listed = await host.get(f"/api/sessions/{sid}/clips")
    assert stats.status_code == 200, stats.text
    assert stats.json()["views"] == 3
    assert next(c for c in listed.json() if c["clip_id"] == clip_id)["stats"]["views"] == 3


async def test_the_index_is_prepared_when_the_archive_completes(server: LiveServer) -> None:
    """The node that writes a session's manifest builds and stores its replay index, before
    anybody opened a replay: the first viewer reads one object instead of every segment."""
    archived = await build(server)
    store = server.context.store

    async def stored() -> bool:
        return await store.exists(index_name(archived.session_id))

    await eventually(stored)


async def test_an_unreadable_archive_ends_the_replay_with_unavailable(server: LiveServer) -> None:
    """A segment that fails its checksum during playback gets ``error`` ``unavailable`` and a
    close with 4101, never a hang or a silent drop."""
    archived = await build(server)
    sid = archived.session_id
    store = server.context.store
    assert isinstance(store, LocalArchiveStore)
    for name in await store.list(f"sessions/{sid}/comments/"):
        (store.root / name).write_bytes(b"not the stored segment")
    room = await Room.join(server.replay_url(sid, archived.host_token, speed=4))
    await room.wait_type("replay_state")
    error = await room.wait_type("error")
    await room.socket.wait_closed()
    assert error["code"] == "unavailable"
    assert room.socket.close_code == 4101
