"""Waiting for something to become true by polling it, with a deadline: the one polling helper
of the suite (`eventually`), and its variant for synchronous code (`eventually_sync`).

Polling is for state that announces nothing (an HTTP answer, a store's listing, a process
table); a test that can wait on an event or a frame waits on that instead.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable

from tests.support.units import UNIT_S

#: How often a condition is asked again.
POLL_S = 0.02


async def eventually(
    check: Callable[[], Awaitable[bool]],
    *,
    timeout_s: float = 10 * UNIT_S,
    what: str = "the condition",
    poll_s: float = POLL_S,
) -> None:
    """Return once ``await check()`` is true; AssertionError naming ``what`` after
    ``timeout_s`` (a check that hangs is bounded by the same deadline)."""
    try:
        async with asyncio.timeout(timeout_s):
            while not await check():  # noqa: ASYNC110 - polling state that sends no event
                await asyncio.sleep(poll_s)
    except TimeoutError as exc:
        raise AssertionError(f"timed out after {timeout_s} s waiting for: {what}") from exc


def eventually_sync(
    check: Callable[[], bool],
    *,
    timeout_s: float = 10 * UNIT_S,
    what: str = "the condition",
    poll_s: float = POLL_S,
) -> None:
    """`eventually` for synchronous code (subprocesses, blocking clients): return once
    ``check()`` is true; AssertionError naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for: {what}")
        time.sleep(poll_s)
