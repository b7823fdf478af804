"""Graceful shutdown: stop accepting, tell viewers to reconnect elsewhere, drain, then stop.

uvicorn's own shutdown drops room sockets with 1012 the moment it starts. `GracefulServer`
first closes the listening sockets, marks the node not ready (``/readyz`` answers 503 to any
probe still arriving on open connections), closes every room socket with
`CloseCode.SHUTTING_DOWN` (4101: reconnect, with back-off; the frames queued before it are
written first) and waits up to ``shutdown_drain_s`` for them to go. Then uvicorn's shutdown runs:
in-flight HTTP requests finish, and the app's lifespan stops the archiver after its current pass
(segment writes in flight land, leases are released so another node takes over at once) before
closing the engines.
"""

import asyncio
import socket
import time
from typing import Any

import uvicorn
from starlette.applications import Starlette

RECONNECT_REASON = "server restarting: reconnect"


async def drain(app: Starlette, *, timeout_s: float) -> None:
    """Mark ``app`` draining, close its room sockets (4101) and wait for them, ``timeout_s`` max."""
    # No context yet: the node is still starting, and has no socket to close.
    ctx = getattr(app.state, "ctx", None)
    if ctx is None:
        return
    ctx.draining.set()
    ctx.hub.close_all(RECONNECT_REASON)
    deadline = time.monotonic() + timeout_s
    # Polled like uvicorn polls its connections: each socket leaves its room on its own task.
    while ctx.hub.sockets and time.monotonic() < deadline:  # noqa: ASYNC110 - see above
        await asyncio.sleep(0.05)


class GracefulServer(uvicorn.Server):
    """A uvicorn server that drains the app's room sockets before its own shutdown."""

    def __init__(self, config: uvicorn.Config, *, drain_s: float) -> None:
        super().__init__(config)
        self._drain_s = drain_s

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Stop accepting, drain the app, then shut down as uvicorn does."""
        for server in self.servers:
            server.close()
        app = _starlette_app(self.config)
        if app is not None:
            await drain(app, timeout_s=self._drain_s)
        await super().shutdown(sockets)


def _starlette_app(config: uvicorn.Config) -> Starlette | None:
    """The app the server runs: given as an object, or built by an app factory in a worker
    (`live serve --workers N`), where uvicorn wraps it in its own middleware (``.app``)."""
    app: Any = config.app
    if not isinstance(app, Starlette):
        app = getattr(config, "loaded_app", None)
    while app is not None and not isinstance(app, Starlette):
        app = getattr(app, "app", None)
    return app
