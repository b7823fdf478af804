"""A room socket's protocol keeps uvicorn's per-socket state small without changing what the
socket does (the memory figures are in docs/benchmarks.md, "Room load")."""

import asyncio

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from live.platform.ws_protocol import RoomSocketProtocol
from tests.support.asgi_server import port_of, room_protocol_server
from tests.support.units import UNIT_S


async def echo_then_close(scope: dict[str, object], receive: object, send: object) -> None:
    """Accept, echo one text frame, then close with 4001."""
    assert callable(receive)
    assert callable(send)
    if scope["type"] != "websocket":
        return
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    message = await receive()
    await send({"type": "websocket.send", "text": message["text"]})
    await send({"type": "websocket.close", "code": 4001, "reason": "done"})


async def test_uvicorns_state_lives_in_slots_and_the_socket_still_works() -> None:
    """No per-socket instance dict (an attribute a newer uvicorn adds shows up here: add it to
    `RoomSocketProtocol.__slots__`), and a frame, the server's close and its code still get
    through."""
    async with room_protocol_server(echo_then_close) as server:
        port = port_of(server)
        async with connect(f"ws://127.0.0.1:{port}/") as client:
            (protocol,) = server.server_state.connections
            assert isinstance(protocol, RoomSocketProtocol)
            await client.send("hello")
            assert await asyncio.wait_for(client.recv(), 5 * UNIT_S) == "hello"
            assert vars(protocol) == {}
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(client.recv(), 5 * UNIT_S)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 4001
