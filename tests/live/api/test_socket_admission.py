"""Who may open a room socket at all: the node's Origin allowlist (against cross-site WebSocket
hijacking) and the caps on sockets per client address and per user, refused before the upgrade."""

import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.support.clients import Room
from tests.support.polling import eventually
from tests.support.servers import LiveServer, ServerWith
from tests.support.sessions import open_session


@pytest.fixture
async def guarded(server_with: ServerWith) -> LiveServer:
    """A node with an Origin allowlist and small socket caps."""
    return await server_with(
        allowed_origins=("https://shop.example.com",), max_sockets_per_ip=4, max_sockets_per_user=2
    )


async def _refusal(url: str, **options: str) -> tuple[int, str]:
    with pytest.raises(InvalidStatus) as refused:
        await connect(url, **options)  # type: ignore[arg-type]
    response = refused.value.response
    return response.status_code, orjson.loads(response.body or b"{}")["error"]["code"]


async def test_origin_allowlist_refuses_other_sites_before_accept(guarded: LiveServer) -> None:
    """Another site's page gets HTTP 403 origin_not_allowed; listed and no-Origin clients join."""
    opened = await open_session(guarded)
    url = guarded.ws_url(opened.session_id, guarded.token("viewer", "v1"))
    assert await _refusal(url, origin="https://evil.example.net") == (403, "origin_not_allowed")
    assert await _refusal(url, origin="null") == (403, "origin_not_allowed")
    listed = Room(await connect(url, origin="https://SHOP.example.com/"))  # type: ignore[arg-type]
    assert (await listed.next_frame())["type"] == "snapshot"
    await listed.close()
    app = await Room.join(url)
    assert (await app.next_frame())["type"] == "snapshot"
    await app.close()


async def test_sockets_per_user_and_per_address_are_capped(guarded: LiveServer) -> None:
    """The third socket of one user and the fifth of one address get 429 too_many_connections;
    closing one frees its place."""
    opened = await open_session(guarded)
    url = guarded.ws_url
    mine = [await Room.join(url(opened.session_id, guarded.token("viewer", "u"))) for _ in range(2)]
    for room in mine:
        await room.wait_type("snapshot")
    token = guarded.token("viewer", "u")
    assert await _refusal(url(opened.session_id, token)) == (429, "too_many_connections")
    others = [
        await Room.join(url(opened.session_id, guarded.token("viewer", f"o{n}"))) for n in range(2)
    ]
    for room in others:
        await room.wait_type("snapshot")
    fresh = guarded.token("viewer", "newcomer")
    assert await _refusal(url(opened.session_id, fresh)) == (429, "too_many_connections")
    await mine.pop().close()

    async def admitted() -> bool:
        try:
            room = await Room.join(url(opened.session_id, fresh))
        except InvalidStatus:
            return False
        await room.wait_type("snapshot")
        others.append(room)
        return True

    await eventually(admitted)
    assert guarded.context.sockets.open_sockets == 4
    for room in [*mine, *others]:
        await room.close()
