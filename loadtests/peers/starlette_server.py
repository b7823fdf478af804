"""A plain Starlette broadcast loop on uvicorn (defaults), as a team would first write it.

Each frame is encoded once and sent with a sequential ``await ws.send_text`` per viewer; the
tick batching is the same as every other target (comments per tick, at most K; latest stock
level; pins sent at once from the publisher socket at ``/pub``).

    python loadtests/peers/starlette_server.py --port 8001
"""

import argparse
import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect


class Room:
    """Viewers and the ephemeral state of the current tick."""

    def __init__(self, comments_per_tick: int) -> None:
        self.viewers: set[WebSocket] = set()
        self.comments: list[dict[str, Any]] = []
        self.levels: dict[str, int] = {}
        self._k = comments_per_tick

    async def broadcast(self, message: Any) -> None:
        """Encode once, then await each viewer's send in turn."""
        text = orjson.dumps(message).decode()
        for viewer in list(self.viewers):
            try:
                await viewer.send_text(text)
            except (WebSocketDisconnect, RuntimeError):
                self.viewers.discard(viewer)

    async def flush(self) -> None:
        """Send the tick frame, if anything happened."""
        batch: list[dict[str, Any]] = []
        if self.comments:
            items = self.comments[: self._k]
            batch.append(
                {"type": "comments", "items": items, "dropped": len(self.comments) - len(items)}
            )
        if self.levels:
            batch.append({"type": "stock", "levels": self.levels})
        self.comments, self.levels = [], {}
        if batch:
            await self.broadcast(batch)


def create_app(room: Room, tick_ms: int) -> Starlette:
    """The app: ``/ws`` for viewers, ``/pub`` for the publisher, a tick task in the lifespan."""

    async def viewer(ws: WebSocket) -> None:
        await ws.accept()
        room.viewers.add(ws)
        try:
            while True:
                await ws.receive_text()
        except WebSocketDisconnect:
            room.viewers.discard(ws)

    async def publisher(ws: WebSocket) -> None:
        await ws.accept()
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                message = orjson.loads(await ws.receive_text())
                kind = message.pop("kind")
                if kind == "comment":
                    room.comments.append(message)
                elif kind == "stock":
                    room.levels.update(message["levels"])
                else:
                    await room.broadcast({"type": "pin", **message})

    async def tick() -> None:
        while True:
            await asyncio.sleep(tick_ms / 1000)
            await room.flush()

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(tick())
        yield
        task.cancel()

    routes = [WebSocketRoute("/ws", viewer), WebSocketRoute("/pub", publisher)]
    return Starlette(routes=routes, lifespan=lifespan)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tick-ms", type=int, default=200)
    parser.add_argument("--comments-per-tick", type=int, default=20)
    args = parser.parse_args()
    app = create_app(Room(args.comments_per_tick), args.tick_ms)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", backlog=4096)
