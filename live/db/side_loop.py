"""A thread with an event loop of its own and an engine on it, for the statements that must not
wait for turns of the node's busy event loop: the group commit of orders
(`live.commerce.order_writer`).

Why: in a flash sale the node's loop is flooded by the refused attempts and the room's stock
fan-out, and each reply from the database waits for the loop's next turn before the awaiting
code sees it. The 500 orders of a 10,000-for-500 sale went in five batches whose writes took
32-171 ms each for two round trips, and the last buyers waited 300-420 ms in all
(docs/benchmarks.md, "Orders on a loop of their own"). On a loop whose only work is those
statements, a reply waits at most until the interpreter hands it over (its switch interval, 5
ms); the result then comes back to the node's loop in one turn.

Contract: `SideLoop.run` runs ``work(engine)`` on the side loop and returns its result (or
raises its exception) in the caller's loop; ``work`` must return plain data, nothing bound to
the side engine. A caller cancelled while it waits cancels ``work``. `SideLoop.aclose` disposes
of the engine and ends the thread; a side loop that is never closed ends with the process (a
daemon thread).
"""

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine

from live.db.engine import create_engine

T = TypeVar("T")


class SideLoop:
    """An event loop in a thread of its own, with an engine of ``pool_size`` connections."""

    def __init__(self, url: URL, *, pool_size: int = 1, name: str = "side-loop") -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=name, daemon=True)
        self._thread.start()
        # Created here but used only from the side loop: its connections are opened there, on
        # first use, and an asyncpg connection belongs to the loop that opened it.
        self._engine = create_engine(url.render_as_string(hide_password=False), pool_size=pool_size)
        self._closed = False

    async def run(self, work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
        """``work(engine)`` on the side loop; its result here."""
        if self._closed:
            raise RuntimeError("the side loop is closed")

        async def on_side() -> T:
            return await work(self._engine)

        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(on_side(), self._loop))

    async def aclose(self) -> None:
        """Dispose of the engine on the side loop, then stop the loop and end the thread."""
        if self._closed:
            return
        self._closed = True
        disposed = asyncio.run_coroutine_threadsafe(self._engine.dispose(), self._loop)
        try:
            await asyncio.wrap_future(disposed)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            await asyncio.to_thread(self._thread.join)
            self._loop.close()
