"""The app's background work: loops of one pass at a time, until the app stops, surviving
engine outages; and best-effort tasks nobody waits for (`spawn`).

An outage of an engine (a `ClientError` from the record, Redis or the bus unavailable) only
delays the next pass and is logged as a warning; any other error is logged with its traceback
and the loop goes on too. The app's ``stopping`` event ends a loop between passes: a pass
cancelled inside a transaction leaves the pool's rollback to a cancelled task (SQLAlchemy logs
it as an error), so shutdown asks first and cancels only what did not finish in time.
Cancellation still stops the loop, even when a library swallowed it.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from redis.exceptions import RedisError

from inventory.errors import InventoryUnavailable
from realtime.bus import BusUnavailable
from realtime.cancellation import raise_if_cancelling
from realtime.errors import ClientError

OUTAGES = (ClientError, InventoryUnavailable, BusUnavailable, RedisError)

#: Tasks started by `spawn`: the event loop keeps only weak references to tasks.
_SPAWNED: set[asyncio.Task[None]] = set()


def spawn(work: Coroutine[Any, Any, None]) -> None:
    """Run best-effort ``work`` in the background, without anybody waiting for it."""
    task = asyncio.create_task(work)
    _SPAWNED.add(task)
    task.add_done_callback(_SPAWNED.discard)


async def rest(stopping: asyncio.Event, seconds: float) -> bool:
    """Wait ``seconds``, or less when ``stopping`` is set; returns whether it is."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await stopping.wait()
    return stopping.is_set()


async def forever(
    one_pass: Callable[[], Awaitable[object]],
    *,
    every_s: float,
    doing: str,
    log: logging.Logger,
    stopping: asyncio.Event,
) -> None:
    """Run ``one_pass`` every ``every_s`` seconds until ``stopping`` is set (or cancelled);
    ``doing`` names it in logs."""
    while not stopping.is_set():
        try:
            await one_pass()
        except OUTAGES as exc:
            log.warning("%s failed, retrying: %s", doing, exc)
        except Exception:
            log.exception("%s crashed, retrying", doing)
        raise_if_cancelling()
        if await rest(stopping, every_s):
            return


async def stop(tasks: list[asyncio.Task[None]], stopping: asyncio.Event, *, wait_s: float) -> None:
    """Set ``stopping``, give ``tasks`` ``wait_s`` to finish their pass, cancel the rest."""
    stopping.set()
    _, late = await asyncio.wait(tasks, timeout=wait_s)
    for task in late:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
