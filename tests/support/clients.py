"""Talking to the app like its clients do: a viewer's room socket, the payment provider's
signature."""

import asyncio
import hashlib
import hmac
from collections.abc import Callable
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect

from tests.support.servers import PAYMENT_SECRET
from tests.support.units import UNIT_S


def sign(body: bytes) -> str:
    """The payment provider's signature of ``body``."""
    return hmac.new(PAYMENT_SECRET.encode(), body, hashlib.sha256).hexdigest()


class Room:
    """A viewer's socket that collects every frame (batches are flattened)."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self.frames: list[dict[str, Any]] = []

    @classmethod
    async def join(cls, url: str) -> "Room":
        """Connect to the room socket."""
        return cls(await connect(url, max_size=None, compression=None))

    async def send(self, message: dict[str, Any]) -> None:
        """Send one JSON message."""
        await self.socket.send(orjson.dumps(message).decode())

    async def next_frame(self) -> dict[str, Any]:
        """The next frame (from what is buffered, or the socket)."""
        raw = await self.socket.recv()
        data = orjson.loads(raw)
        items: list[dict[str, Any]] = data if isinstance(data, list) else [data]
        self.frames.extend(items)
        return items[0]

    async def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], *, timeout_s: float = 5 * UNIT_S
    ) -> dict[str, Any]:
        """The first frame (already seen or arriving) that satisfies ``predicate``."""
        seen = 0
        async with asyncio.timeout(timeout_s):
            while True:
                for frame in self.frames[seen:]:
                    if predicate(frame):
                        self.frames.remove(frame)
                        return frame
                seen = len(self.frames)
                await self.next_frame()

    async def wait_type(self, kind: str, *, timeout_s: float = 5 * UNIT_S) -> dict[str, Any]:
        """The first frame of type ``kind``."""
        return await self.wait_for(lambda f: f.get("type") == kind, timeout_s=timeout_s)

    async def close(self) -> None:
        """Close the socket."""
        await self.socket.close()
