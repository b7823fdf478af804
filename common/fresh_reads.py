"""One read shared by every caller waiting for it, each answered by a read that began after it
asked.

A viewer joining a room reads the room's positions (the last ``seq`` handed out) after it
entered the room, so that every event is either in what it starts from or delivered to it
afterwards. A read already in flight when a viewer asks may have been answered before an
event the room then delivered without that viewer: it is no good to it. In a join storm each
join paid a round trip of its own for that read, or shared it only with the joins of the same
loop turn (`common.autopipeline`). Here the callers who ask while a read is in flight wait
together for the next one, started as soon as that read is answered: one read per round trip
however many join, and no caller waits more than two.

Contract: every caller gets the reply (or the error) of a read started after its call. A
caller that gives up (cancelled) leaves the read to the others.
"""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class FreshRead(Generic[T]):
    """Callers of `get` share `read`'s calls, each a call that began after it asked."""

    def __init__(self, read: Callable[[], Awaitable[T]]) -> None:
        self._read = read
        #: Callers for the next read.
        self._waiting: list[asyncio.Future[T]] = []
        #: Callers of the read in flight.
        self._answering: list[asyncio.Future[T]] = []
        self._reader: asyncio.Task[None] | None = None

    async def get(self) -> T:
        """The result of a read that began after this call."""
        answer: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._waiting.append(answer)
        if self._reader is None:
            self._reader = asyncio.create_task(self._serve())
        return await answer

    async def _serve(self) -> None:
        try:
            while self._waiting:
                self._answering, self._waiting = self._waiting, []
                try:
                    value = await self._read()
                except Exception as exc:
                    for answer in self._answering:
                        if not answer.done():  # else its caller gave up
                            answer.set_exception(exc)
                else:
                    for answer in self._answering:
                        if not answer.done():
                            answer.set_result(value)
                self._answering = []
        finally:
            # Cancelled (the loop is closing): nobody gets an answer.
            for answer in (*self._answering, *self._waiting):
                answer.cancel()
            self._answering, self._waiting = [], []
            self._reader = None
