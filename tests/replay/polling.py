"""`wait_until`: poll an async condition until it holds, with a deadline (never a bare sleep)."""

import asyncio
from collections.abc import Awaitable, Callable

POLL_S = 0.01


async def wait_until(
    check: Callable[[], Awaitable[bool]], *, timeout_s: float = 10.0, what: str = "the condition"
) -> None:
    """Return once `check()` is true; AssertionError naming `what` after `timeout_s`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        await asyncio.sleep(POLL_S)
