"""What a room socket's tasks wait on, sized for thousands of idle sockets per process.

Uvicorn gives every WebSocket an `asyncio.Queue` for ASGI receive events and an `asyncio.Event`
for flow control. Each allocates its deques up front (the queue four, the event one, ~600 bytes
each even when empty): about 3.7 KiB per idle viewer, a tenth of what one cost before
(docs/benchmarks.md, "Room load"). These two do the same jobs with storage made only while
something waits or is queued. They offer only the methods uvicorn's ``websockets-sansio``
protocol calls.
"""

import asyncio
from collections import deque
from typing import Any


class ReceiveQueue:
    """A FIFO of ASGI receive events with one reader at a time (an ASGI app reads its socket
    from one task); a second concurrent reader is a bug and raises `RuntimeError`."""

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: deque[Any] | None = None
        self._waiter: asyncio.Future[None] | None = None

    def empty(self) -> bool:
        """True when nothing is queued."""
        return not self._items

    def qsize(self) -> int:
        """How many items are queued."""
        return len(self._items) if self._items else 0

    def put_nowait(self, item: Any) -> None:
        """Queue ``item`` and wake the reader."""
        if self._items is None:
            self._items = deque()
        self._items.append(item)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def get(self) -> Any:
        """The oldest item, waiting for one if none is queued."""
        while not self._items:
            if self._waiter is not None:
                raise RuntimeError("a socket's receive queue has one reader at a time")
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        item = self._items.popleft()
        if not self._items:
            self._items = None
        return item


class WritableFlag:
    """Set while the transport takes writes (`asyncio.Event`'s `set`, `clear`, `is_set` and
    `wait`); any number of tasks may wait."""

    __slots__ = ("_set", "_waiters")

    def __init__(self) -> None:
        self._set = True
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        """True while writes go out without waiting."""
        return self._set

    def set(self) -> None:
        """Writable again: wake every waiter."""
        self._set = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        """Paused by flow control."""
        self._set = False

    async def wait(self) -> None:
        """Return once writable (at once if it is)."""
        if self._set:
            return
        waiter = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        try:
            await waiter
        finally:
            if self._waiters is not None and waiter in self._waiters:
                self._waiters.remove(waiter)
