"""The app's background work: loops of one pass at a time, forever, surviving engine outages;
and best-effort tasks nobody waits for (`spawn`).

An outage of an engine (a `ClientError` from the record, Redis or the bus unavailable) only
delays the next pass and is logged as a warning; any other error is logged with its traceback
and the loop goes on too. Cancellation stops the loop, even when a library swallowed it.
"""

import asyncio
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


async def forever(
    one_pass: Callable[[], Awaitable[object]],
    *,
    every_s: float,
    doing: str,
    log: logging.Logger,
) -> None:
    """Run ``one_pass`` every ``every_s`` seconds until cancelled; ``doing`` names it in logs."""
    while True:
        try:
            await one_pass()
        except OUTAGES as exc:
            log.warning("%s failed, retrying: %s", doing, exc)
        except Exception:
            log.exception("%s crashed, retrying", doing)
        raise_if_cancelling()
        await asyncio.sleep(every_s)
