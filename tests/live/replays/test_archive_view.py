"""Replay marks deleted comments; the archive keeps them."""

from live.replays.index import mark_deleted
from tests.support.clients import Room
from tests.support.polling import eventually
from tests.support.servers import LiveServer
from tests.support.sessions import OpenSession


def test_mark_deleted_marks_only_named_comments() -> None:
    """Only comments named by a comment_deleted event get ``deleted: true``."""
    events: list[dict[str, object]] = [
        {"type": "comment", "id": "1", "text": "spam"},
        {"type": "comment", "id": "2", "text": "fine"},
        {"type": "comment_deleted", "seq": 5, "comment_id": "1"},
    ]
    marked = mark_deleted(events)
    assert marked[0]["deleted"] is True
    assert "deleted" not in marked[1]
    assert marked[2] == events[2]


async def test_deleted_comment_is_marked_in_the_replay(
    server: LiveServer, opened: OpenSession
) -> None:
    """A comment the host deleted is still in the archive, marked deleted on replay."""
    room = await Room.join(server.ws_url(opened.session_id, server.token("viewer", "v")))
    await room.wait_type("snapshot")
    await room.send({"type": "comment", "text": "buy followers here", "ref": "1"})
    comment_id = (await room.wait_type("ack"))["id"]
    await room.send({"type": "comment", "text": "nice coat", "ref": "2"})
    await room.wait_type("ack")
    async with server.client(opened.host_token) as host:
        await host.delete(f"/api/sessions/{opened.session_id}/comments/{comment_id}")
        await room.wait_type("comment_deleted")
        await host.post(f"/api/sessions/{opened.session_id}/end")

        async def archived() -> bool:
            answer = await host.get(f"/api/sessions/{opened.session_id}/replay")
            return answer.status_code == 200

        await eventually(archived)
        events = (await host.get(f"/api/sessions/{opened.session_id}/replay")).json()
    comments = {e["text"]: e for e in events if e["type"] == "comment"}
    assert comments["buy followers here"]["deleted"] is True
    assert "deleted" not in comments["nice coat"]
    await room.close()
