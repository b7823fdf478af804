"""Reads that concurrent callers share: one load per key and version, reused for a moment.

A flash crowd joins a room by the thousand within seconds, and every join needs the same
session state (title, products, open coupons and sales). Reading it from the record once per
join made the record the bottleneck of a join storm (about 7 ms of CPU per join, mostly the
ORM). Here the first caller loads, callers arriving while it loads wait for the same result,
and later callers reuse it while the version they pass is unchanged and it is younger than
``max_age_s`` by ``clock`` (`time.monotonic` unless a test passes one it moves). A failed load
is not kept: the next caller tries again.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")


class SharedReads:
    """Single-flight, short-lived results keyed by the caller."""

    def __init__(self, *, max_age_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._max_age_s = max_age_s
        self._clock = clock
        self._entries: dict[Hashable, tuple[Hashable, float, asyncio.Future[Any]]] = {}

    async def get(
        self,
        key: Hashable,
        load: Callable[[], Awaitable[T]],
        *,
        version: Hashable = None,
    ) -> T:
        """``load()``'s result for ``key``, shared with callers of the same ``version``."""
        now = self._clock()
        entry = self._entries.get(key)
        if entry is None or entry[0] != version or now - entry[1] >= self._max_age_s:
            self._prune(now)
            future: asyncio.Future[Any] = asyncio.ensure_future(load())
            future.add_done_callback(lambda done: self._forget_failure(key, done))
            entry = (version, now, future)
            self._entries[key] = entry
        future = entry[2]
        if future.done() and not future.cancelled() and future.exception() is None:
            # The common case in a storm: the read is over, no shield (a future and a callback
            # per caller) is needed to share it.
            done: T = future.result()
            return done
        # Shielded: one caller giving up (its socket closed) must not cancel the others' read.
        result: T = await asyncio.shield(future)
        return result

    def _forget_failure(self, key: Hashable, done: asyncio.Future[Any]) -> None:
        entry = self._entries.get(key)
        if entry is not None and entry[2] is done and (done.cancelled() or done.exception()):
            del self._entries[key]

    def _prune(self, now: float) -> None:
        # Entries of rooms nobody joins any more; the map stays as small as the live rooms.
        stale = [key for key, (_, at, _f) in self._entries.items() if now - at >= self._max_age_s]
        for key in stale:
            del self._entries[key]
