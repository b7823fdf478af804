"""What guides and the viewers they bring do in the attribution tests: ask for a share code,
join through it and buy."""

from tests.support.clients import Room
from tests.support.servers import LiveServer


async def share_code(server: LiveServer, session_id: str, guide: str) -> dict[str, str]:
    """The share code (and link) of ``guide``, of store ``store-7``, for a session."""
    async with server.client(server.token("guide", guide, store="store-7")) as client:
        answer = await client.get("/api/guides/me/share", params={"session_id": session_id})
    assert answer.status_code == 200, answer.text
    body: dict[str, str] = answer.json()
    return body


async def join_and_buy(
    server: LiveServer,
    session_id: str,
    product_id: str,
    viewer: str,
    *,
    share: str | None,
    key: str,
) -> dict[str, object]:
    """``viewer`` joins the room (through ``share`` when given), leaves, and buys one unit."""
    params = {"share": share} if share else {}
    room = await Room.join(server.ws_url(session_id, server.token("viewer", viewer), **params))
    await room.wait_type("snapshot")
    await room.close()
    async with server.client(server.token("viewer", viewer)) as client:
        answer = await client.post(
            f"/api/sessions/{session_id}/orders",
            json={"product_id": product_id, "qty": 1},
            headers={"Idempotency-Key": key},
        )
    assert answer.status_code == 201, answer.text
    order: dict[str, object] = answer.json()
    return order
