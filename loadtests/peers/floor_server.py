"""The floor: a minimal websockets server that writes one pre-built frame to every transport.

Same workload handling as the other targets (publisher socket at ``/pub``; comments coalesced
per tick, at most K per frame; the latest stock level per tick; pins sent at once), but each
frame's bytes (WebSocket header + JSON) are built once and written to every viewer's transport
with no per-viewer protocol work: the cost of one send syscall per delivery.

    python loadtests/peers/floor_server.py --port 8001 --tick-ms 200 --comments-per-tick 20
"""

import argparse
import asyncio
from typing import Any

import orjson
from websockets.asyncio.server import ServerConnection, serve


def _text_frame(payload: bytes) -> bytes:
    size = len(payload)
    if size < 126:
        return bytes([0x81, size]) + payload
    if size < 65536:
        return bytes([0x81, 126]) + size.to_bytes(2, "big") + payload
    return bytes([0x81, 127]) + size.to_bytes(8, "big") + payload


class Room:
    """Viewers and the ephemeral state of the current tick."""

    def __init__(self, comments_per_tick: int) -> None:
        self.viewers: set[ServerConnection] = set()
        self.comments: list[dict[str, Any]] = []
        self.levels: dict[str, int] = {}
        self._k = comments_per_tick

    def broadcast(self, message: Any) -> None:
        """Encode once, write the same bytes to every viewer's transport."""
        frame = _text_frame(orjson.dumps(message))
        for viewer in self.viewers:
            viewer.transport.write(frame)

    def flush(self) -> None:
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
            self.broadcast(batch)

    def publish(self, message: dict[str, Any]) -> None:
        """Apply one message of the publisher."""
        kind = message.pop("kind")
        if kind == "comment":
            self.comments.append(message)
        elif kind == "stock":
            self.levels.update(message["levels"])
        else:
            self.broadcast({"type": "pin", **message})


async def main(args: argparse.Namespace) -> None:
    """Serve until killed."""
    room = Room(args.comments_per_tick)

    async def handler(ws: ServerConnection) -> None:
        if ws.request is not None and ws.request.path == "/pub":
            async for message in ws:
                room.publish(orjson.loads(message))
            return
        room.viewers.add(ws)
        try:
            await ws.wait_closed()
        finally:
            room.viewers.discard(ws)

    async def tick() -> None:
        while True:
            await asyncio.sleep(args.tick_ms / 1000)
            room.flush()

    async with serve(
        handler, "127.0.0.1", args.port, compression=None, ping_interval=None, backlog=2048
    ):
        await tick()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tick-ms", type=int, default=200)
    parser.add_argument("--comments-per-tick", type=int, default=20)
    asyncio.run(main(parser.parse_args()))
