"""Moderation holds on every node at once: mute, kick, comment deletion, private messages."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed

from tests.support.clients import Room
from tests.support.servers import LiveServer, cluster
from tests.support.sessions import open_session


@pytest.fixture
async def pair(
    tmp_path: Path, database_url: str, redis_url: str
) -> AsyncIterator[tuple[LiveServer, LiveServer]]:
    """Two app instances over the same engines."""
    async with cluster(tmp_path, 2, database_url=database_url, redis_url=redis_url) as nodes:
        yield nodes[0], nodes[1]


async def _close_code(room: Room) -> int | None:
    try:
        while True:
            await room.next_frame()
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None


async def test_mute_on_one_node_holds_on_the_other(pair: tuple[LiveServer, LiveServer]) -> None:
    """A viewer on B muted through A's host socket is refused at once; unmute restores."""
    a, b = pair
    opened = await open_session(a)
    host = await Room.join(a.ws_url(opened.session_id, a.token("host", "host-1")))
    loud = await Room.join(b.ws_url(opened.session_id, b.token("viewer", "loud")))
    await host.wait_type("snapshot")
    await loud.wait_type("snapshot")
    await host.send({"type": "mute", "user_id": "loud", "ref": "m"})
    assert (await host.wait_type("ack"))["action"] == "mute"
    await loud.send({"type": "comment", "text": "buy buy buy", "ref": "1"})
    refused = await loud.wait_type("error")
    assert (refused["code"], refused["ref"]) == ("muted", "1")
    await host.send({"type": "unmute", "user_id": "loud", "ref": "u"})
    await host.wait_type("ack")
    await loud.send({"type": "comment", "text": "sorry", "ref": "2"})
    assert (await loud.wait_type("ack"))["ref"] == "2"
    await host.close()
    await loud.close()


async def test_viewers_cannot_moderate(pair: tuple[LiveServer, LiveServer]) -> None:
    """Moderation commands from a viewer socket are forbidden."""
    a, _ = pair
    opened = await open_session(a)
    viewer = await Room.join(a.ws_url(opened.session_id, a.token("viewer", "v")))
    await viewer.wait_type("snapshot")
    await viewer.send({"type": "kick", "user_id": "someone", "ref": "k"})
    assert (await viewer.wait_type("error"))["code"] == "forbidden"
    await viewer.close()


async def test_kick_closes_sockets_on_every_node_and_bars_rejoin(
    pair: tuple[LiveServer, LiveServer],
) -> None:
    """A kick over HTTP on A closes the user's sockets on A and B with 4009; rejoin refused."""
    a, b = pair
    opened = await open_session(a)
    on_a = await Room.join(a.ws_url(opened.session_id, a.token("viewer", "troll")))
    on_b = await Room.join(b.ws_url(opened.session_id, b.token("viewer", "troll")))
    other = await Room.join(b.ws_url(opened.session_id, b.token("viewer", "nice")))
    for room in (on_a, on_b, other):
        await room.wait_type("snapshot")
    async with a.client(opened.host_token) as host:
        answer = await host.post(
            f"/api/sessions/{opened.session_id}/moderation",
            json={"action": "kick", "user_id": "troll"},
        )
        assert answer.status_code == 200, answer.text
    assert await _close_code(on_a) == 4009
    assert await _close_code(on_b) == 4009
    again = await Room.join(b.ws_url(opened.session_id, b.token("viewer", "troll")))
    assert await _close_code(again) == 4009
    assert again.frames[0]["code"] == "kicked"
    await other.send({"type": "ping", "ref": "still"})
    assert (await other.wait_type("pong"))["ref"] == "still"
    await other.close()


async def test_deleted_comment_event_reaches_every_viewer(
    pair: tuple[LiveServer, LiveServer],
) -> None:
    """Deleting a comment publishes comment_deleted with a seq to viewers on both nodes."""
    a, b = pair
    opened = await open_session(a)
    author = await Room.join(a.ws_url(opened.session_id, a.token("viewer", "w")))
    reader = await Room.join(b.ws_url(opened.session_id, b.token("viewer", "r")))
    await author.wait_type("snapshot")
    await reader.wait_type("snapshot")
    await author.send({"type": "comment", "text": "spam link", "ref": "c"})
    comment_id = (await author.wait_type("ack"))["id"]
    async with b.client(opened.host_token) as host:
        answer = await host.delete(f"/api/sessions/{opened.session_id}/comments/{comment_id}")
        assert answer.status_code == 200, answer.text
    for room in (author, reader):
        deleted = await room.wait_type("comment_deleted")
        assert deleted["comment_id"] == comment_id
        assert isinstance(deleted["seq"], int)
    await author.close()
    await reader.close()


async def test_private_message_reaches_only_its_viewer(
    pair: tuple[LiveServer, LiveServer],
) -> None:
    """A private message sent through A reaches the viewer's socket on B and nobody else."""
    a, b = pair
    opened = await open_session(a)
    target = await Room.join(b.ws_url(opened.session_id, b.token("viewer", "vip")))
    bystander = await Room.join(b.ws_url(opened.session_id, b.token("viewer", "other")))
    await target.wait_type("snapshot")
    await bystander.wait_type("snapshot")
    async with a.client(opened.host_token) as host:
        answer = await host.post(
            f"/api/sessions/{opened.session_id}/messages",
            json={"user_id": "vip", "text": "your gift is on its way"},
        )
        assert answer.status_code == 202
    private = await target.wait_type("private")
    assert private["text"] == "your gift is on its way"
    await bystander.send({"type": "ping", "ref": "after"})
    await bystander.wait_type("pong")
    assert all(frame.get("type") != "private" for frame in bystander.frames)
    await target.close()
    await bystander.close()


async def test_connections_per_viewer_are_capped(pair: tuple[LiveServer, LiveServer]) -> None:
    """A fourth socket of one viewer on one node is refused with 4029."""
    a, _ = pair
    opened = await open_session(a)
    rooms = [
        await Room.join(a.ws_url(opened.session_id, a.token("viewer", "multi"))) for _ in range(3)
    ]
    for room in rooms:
        await room.wait_type("snapshot")
    extra = await Room.join(a.ws_url(opened.session_id, a.token("viewer", "multi")))
    assert await _close_code(extra) == 4029
    assert extra.frames[0]["code"] == "too_many_connections"
    for room in rooms:
        await room.close()
