"""A plain Starlette app on uvicorn (its defaults) as a team would first write a live room: accept
the socket, send a snapshot, keep the socket in a set; a host's pin is sent to every socket with
a sequential ``await send_text``. The join-storm benchmark's like-for-like peer: the same routes
as `live serve` for what the benchmark does (join, pin, read, end), none of its rules.

    python loadtests/peers/join_peer.py --port 8001
"""

import argparse
import time
from typing import Any

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

PRODUCTS = [
    {"product_id": f"p{n}", "title": f"Product {n}", "price_cents": 9_900 + n, "stock": 100_000,
     "limit_per_viewer": 5}
    for n in range(3)
]  # fmt: skip


class Room:
    """The viewers and the durable sequence of one session."""

    def __init__(self) -> None:
        self.viewers: set[WebSocket] = set()
        self.seq = 0
        self.pinned: str | None = None
        self.ended = False

    def snapshot(self) -> str:
        """What a joining viewer gets, about the size of `live serve`'s."""
        return orjson.dumps(
            {
                "type": "snapshot",
                "seq": self.seq,
                "epoch": "peer",
                "session_id": "peer",
                "title": "Storm",
                "status": "live",
                "pinned_product_id": self.pinned,
                "products": PRODUCTS,
                "coupons": [],
                "my_coupons": [],
                "sales": [],
                "viewers": len(self.viewers),
                "likes": 0,
            }
        ).decode()

    async def broadcast(self, frame: dict[str, Any]) -> None:
        """Encode once, then await each viewer's send in turn."""
        text = orjson.dumps(frame).decode()
        for viewer in list(self.viewers):
            try:
                await viewer.send_text(text)
            except (WebSocketDisconnect, RuntimeError):
                self.viewers.discard(viewer)


def create_app() -> Starlette:
    """Routes for the benchmark: the room socket and the host's few requests."""
    room = Room()

    async def socket(ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_text(room.snapshot())
        room.viewers.add(ws)
        try:
            while True:
                await ws.receive_text()
        except WebSocketDisconnect:
            room.viewers.discard(ws)

    async def pin(request: Request) -> Response:
        body = orjson.loads(await request.body())
        room.seq += 1
        room.pinned = body["product_id"]
        frame = {"type": "pin", "seq": room.seq, "product_id": room.pinned,
                 "ts": int(time.time() * 1000)}  # fmt: skip
        await room.broadcast(frame)
        return JSONResponse({"id": "peer", "pinned_product_id": room.pinned})

    async def end(_: Request) -> Response:
        room.seq += 1
        room.ended = True
        await room.broadcast({"type": "ended", "seq": room.seq, "ts": int(time.time() * 1000)})
        for viewer in list(room.viewers):
            await viewer.close(1000, "session ended")
        return JSONResponse({"id": "peer", "status": "ended"})

    async def read(_: Request) -> Response:
        return JSONResponse({"id": "peer", "status": "ended" if room.ended else "live"})

    async def health(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            WebSocketRoute("/ws/sessions/{session_id}", socket),
            Route("/api/sessions/{session_id}/pin", pin, methods=["POST"]),
            Route("/api/sessions/{session_id}/end", end, methods=["POST"]),
            Route("/api/sessions/{session_id}", read, methods=["GET"]),
            Route("/healthz", health, methods=["GET"]),
        ]
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(create_app(), host="127.0.0.1", port=args.port, log_level="warning", backlog=4096)
