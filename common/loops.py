"""Background work: loops of one pass at a time until asked to stop, surviving engine outages;
and best-effort tasks nobody waits for (`spawn`). Every loop of every package runs through
`forever`.

An outage (`common.errors.OUTAGES`) or a pass the record refused (a `ClientError`) only delays
the next pass and is logged as a warning; any other error is logged with its traceback and the
loop goes on too. The ``stopping`` event ends a loop between passes: a pass cancelled inside a
transaction leaves the pool's rollback to a cancelled task (SQLAlchemy logs it as an error), so
shutdown asks first and cancels only what did not finish in time (`stop`). Cancellation still
stops a loop, even when a library swallowed it.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Final

from common.cancellation import raise_if_cancelling
from common.errors import OUTAGES, ClientError

#: What a pass returns to run again at once: it left work undone (a full batch, say).
AGAIN: Final = object()

#: A pass the record refused reaches a loop as a `ClientError` (its outage is one too).
_RETRIED: tuple[type[Exception], ...] = (*OUTAGES, ClientError)

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
    # A cancel arriving as the timeout fires is turned into that TimeoutError by
    # asyncio.timeout (Python 3.11) and suppressed above: honour it here.
    raise_if_cancelling()
    return stopping.is_set()


async def forever(
    one_pass: Callable[[], Awaitable[object]],
    *,
    every_s: float,
    doing: str,
    log: logging.Logger,
    stopping: asyncio.Event,
    on_schedule: bool = False,
    late: Callable[[float], None] | None = None,
) -> None:
    """Run ``one_pass`` until ``stopping`` is set (or the task is cancelled); ``doing`` names
    it in logs.

    By default the loop rests ``every_s`` seconds after each pass. With ``on_schedule`` passes
    are due every ``every_s`` from the first, whatever each took; a loop that fell behind by
    more than a period skips the lost passes instead of catching up, and ``late`` (None: not
    told) hears how late each pass started, in seconds. A pass that returns `AGAIN` is followed
    by the next one at once.
    """
    due = time.monotonic()
    while not stopping.is_set():
        if on_schedule:
            due += every_s
            if await rest(stopping, max(0.0, due - time.monotonic())):
                return
            now = time.monotonic()
            if late is not None:
                late(now - due)
            due = max(due, now - every_s)
        try:
            outcome = await one_pass()
        except _RETRIED as exc:
            log.warning("%s failed, retrying: %s", doing, exc)
            outcome = None
        except Exception:
            log.exception("%s crashed, retrying", doing)
            outcome = None
        raise_if_cancelling()
        if outcome is AGAIN or on_schedule:
            continue
        if await rest(stopping, every_s):
            return


async def stop(tasks: list[asyncio.Task[None]], stopping: asyncio.Event, *, wait_s: float) -> None:
    """Set ``stopping``, give ``tasks`` ``wait_s`` to finish their pass, cancel the rest."""
    stopping.set()
    if not tasks:
        return
    _, late = await asyncio.wait(tasks, timeout=wait_s)
    for task in late:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
