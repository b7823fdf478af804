"""python-socketio with its Redis manager (AsyncRedisManager), on uvicorn, same tick batching.

Runs in the peers' virtualenv (`loadtests/setup_peers.sh`). Viewers join the room ``room`` on
connect; the publisher connects with ``role=pub`` and emits ``pub`` messages. Comments are
coalesced per tick (at most K per frame), the latest stock level per tick, pins emitted at
once; every emit goes through Redis (the manager publishes, every node delivers locally).

    loadtests/.peers/sio/bin/python loadtests/peers/sio_server.py --port 8001 --redis-url redis://...
"""

import argparse
import asyncio
from typing import Any
from urllib.parse import parse_qs

import socketio
import uvicorn


def create_app(args: argparse.Namespace) -> socketio.ASGIApp:
    """The socket.io server with its tick task."""
    manager = socketio.AsyncRedisManager(args.redis_url)
    sio = socketio.AsyncServer(async_mode="asgi", client_manager=manager, transports=["websocket"])
    comments: list[dict[str, Any]] = []
    levels: dict[str, int] = {}

    @sio.event
    async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        if parse_qs(environ.get("QUERY_STRING", "")).get("role") != ["pub"]:
            await sio.enter_room(sid, "room")

    @sio.on("pub")
    async def pub(sid: str, message: dict[str, Any]) -> None:
        kind = message.pop("kind")
        if kind == "comment":
            comments.append(message)
        elif kind == "stock":
            levels.update(message["levels"])
        else:
            await sio.emit("pin", {"type": "pin", **message}, room="room")

    async def tick() -> None:
        nonlocal comments, levels
        while True:
            await asyncio.sleep(args.tick_ms / 1000)
            batch: list[dict[str, Any]] = []
            if comments:
                items = comments[: args.comments_per_tick]
                batch.append(
                    {"type": "comments", "items": items, "dropped": len(comments) - len(items)}
                )
            if levels:
                batch.append({"type": "stock", "levels": levels})
            comments, levels = [], {}
            if batch:
                await sio.emit("tick", batch, room="room")

    tasks: list[asyncio.Task[None]] = []

    async def startup() -> None:
        tasks.append(asyncio.create_task(tick()))

    return socketio.ASGIApp(sio, on_startup=startup)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis-url", required=True)
    parser.add_argument("--tick-ms", type=int, default=200)
    parser.add_argument("--comments-per-tick", type=int, default=20)
    args = parser.parse_args()
    uvicorn.run(
        create_app(args), host="127.0.0.1", port=args.port, log_level="warning", backlog=4096
    )
