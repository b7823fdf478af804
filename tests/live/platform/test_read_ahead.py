"""A room socket keeps reading its peer while a few messages wait for the app (uvicorn stops
after each one), and still stops at `READ_AHEAD`, so a peer that floods is held back."""

import asyncio

from websockets.asyncio.client import connect

from live.platform.ws_protocol import READ_AHEAD, RoomSocketProtocol
from tests.support.asgi_server import port_of, room_protocol_server
from tests.support.polling import eventually
from tests.support.units import UNIT_S


async def test_reading_stops_only_when_read_ahead_messages_wait() -> None:
    """One message waiting leaves reading on; `READ_AHEAD` waiting pause it; the app then gets
    every message in order and reading is on again."""
    go = asyncio.Event()
    got: list[str] = []

    async def slow_reader(scope: dict[str, object], receive: object, send: object) -> None:
        assert callable(receive)
        assert callable(send)
        if scope["type"] != "websocket":
            return
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        await go.wait()
        while len(got) < READ_AHEAD + 3:
            got.append((await receive())["text"])
        await send({"type": "websocket.send", "text": "done"})

    async with room_protocol_server(slow_reader) as server:
        port = port_of(server)
        async with connect(f"ws://127.0.0.1:{port}/") as client:
            (protocol,) = server.server_state.connections
            assert isinstance(protocol, RoomSocketProtocol)
            await client.send("m0")

            async def queued(count: int) -> bool:
                return protocol.queue.qsize() == count

            await eventually(lambda: queued(1), timeout_s=5 * UNIT_S)
            assert not protocol.read_paused
            for n in range(1, READ_AHEAD + 3):
                await client.send(f"m{n}")

            async def paused() -> bool:
                return protocol.read_paused

            await eventually(paused, timeout_s=5 * UNIT_S)
            assert protocol.queue.qsize() >= READ_AHEAD
            go.set()
            assert await asyncio.wait_for(client.recv(), 5 * UNIT_S) == "done"
            assert got == [f"m{n}" for n in range(READ_AHEAD + 3)]
            assert not protocol.read_paused
