"""Reads of many keys gathered for a moment and answered by one load.

A join storm in the middle of a session brings back thousands of viewers who hold coupons, and
each join needs its viewer's own unused claims. One query per join would put thousands of
record transactions in line, and the host's next pin would wait behind all of them (the record
serves one transaction at a time on SQLite, a bounded pool on PostgreSQL). Here the keys asked
for during one event-loop turn and the ``window_s`` after it are loaded together, by one call of
``load`` with all of them, at most ``max_batch`` at a time.

Contract: every caller gets the value ``load`` returned for its key (``default`` when the load
left it out); callers of the same batch share one load and its failure; a caller that goes
away does not cancel the load of the others.
"""

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BatchedReads(Generic[K, V]):
    """Keys asked for within ``window_s`` of each other, loaded by one ``load(keys)`` call."""

    def __init__(
        self,
        load: Callable[[Sequence[K]], Awaitable[dict[K, V]]],
        *,
        default: V,
        window_s: float = 0.005,
        max_batch: int = 500,
    ) -> None:
        self._load = load
        self._default = default
        self._window_s = window_s
        self._max_batch = max_batch
        self._pending: dict[K, asyncio.Future[V]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._loading: set[asyncio.Task[None]] = set()
        #: Loads run so far (for tests and metrics).
        self.loads = 0

    async def get(self, key: K) -> V:
        """The value of ``key``, from the next batch's load."""
        future = self._pending.get(key)
        if future is None:
            future = asyncio.get_running_loop().create_future()
            self._pending[key] = future
            if len(self._pending) >= self._max_batch:
                self._flush()
            elif self._timer is None:
                self._timer = asyncio.get_running_loop().call_later(self._window_s, self._flush)
        return await asyncio.shield(future)

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._pending = self._pending, {}
        if batch:
            task = asyncio.create_task(self._run(batch), name="batched-read")
            self._loading.add(task)
            task.add_done_callback(self._loading.discard)

    async def _run(self, batch: dict[K, asyncio.Future[V]]) -> None:
        self.loads += 1
        try:
            values = await self._load(list(batch))
        except BaseException as exc:
            for future in batch.values():
                if not future.done():
                    future.set_exception(exc)
                    future.exception()  # retrieved: the callers re-raise it
            if not isinstance(exc, Exception):
                raise
            return
        for key, future in batch.items():
            if not future.done():
                future.set_result(values.get(key, self._default))
