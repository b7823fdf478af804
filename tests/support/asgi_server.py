"""A real uvicorn server on a free loopback port, serving an ASGI app with the node's protocols
(`PacedHttpProtocol` for HTTP and upgrades, `RoomSocketProtocol` for WebSockets), for tests of
those protocols."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn

from live.platform.paced_upgrades import PacedHttpProtocol
from live.platform.ws_protocol import RoomSocketProtocol
from tests.support.polling import eventually
from tests.support.units import UNIT_S


@asynccontextmanager
async def room_protocol_server(app: Any) -> AsyncIterator[uvicorn.Server]:
    """Serve ``app`` until the block ends; the server's port is its first socket's."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        http=PacedHttpProtocol,
        ws=RoomSocketProtocol,
        ws_per_message_deflate=False,
        lifespan="off",
        log_level="warning",
    )
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve())
    try:

        async def started() -> bool:
            return server.started

        await eventually(started, timeout_s=20 * UNIT_S)
        yield server
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, 10 * UNIT_S)


def port_of(server: uvicorn.Server) -> int:
    """The port ``server`` listens on."""
    port: int = server.servers[0].sockets[0].getsockname()[1]
    return port
