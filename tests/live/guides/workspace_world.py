"""What the guide workspace tests share: two nodes on one set of engines, a guide's workspace
socket, and viewers joining through a guide's share code."""

from typing import Any

from tests.live.guides.shares import share_code
from tests.support.clients import Room
from tests.support.servers import LiveServer


async def workspace(node: LiveServer, session_id: str, guide: str) -> Room:
    """The guide's room socket on ``node`` (their workspace subscription), once its first
    ``workspace`` frame (the full state) arrived."""
    token = node.token("guide", guide, name=guide.title(), store="store-7")
    room = await Room.join(node.ws_url(session_id, token))
    await room.wait_for(lambda f: f.get("type") == "workspace" and f["full"])
    return room


async def viewer_through(
    node: LiveServer, share_node: LiveServer, session_id: str, guide: str, viewer: str
) -> Room:
    """``viewer`` joined on ``node`` through ``guide``'s share code (asked on ``share_node``)."""
    code = (await share_code(share_node, session_id, guide))["code"]
    token = node.token("viewer", viewer, name=viewer.title())
    room = await Room.join(node.ws_url(session_id, token, share=code))
    await room.wait_type("snapshot")
    return room


def viewers_of(frame: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The viewers a ``workspace`` frame lists, by id."""
    return {entry["viewer_id"]: entry for entry in frame["viewers"]}


async def frame_where(room: Room, check: Any) -> dict[str, Any]:
    """The first ``workspace`` frame for which ``check(frame)`` holds."""
    return await room.wait_for(lambda f: f.get("type") == "workspace" and bool(check(f)))
