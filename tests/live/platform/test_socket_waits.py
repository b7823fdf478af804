"""The receive queue and writable flag that room sockets use instead of asyncio's (they make
no storage until something waits) keep the behaviour uvicorn relies on."""

import asyncio

import pytest

from live.platform.socket_waits import ReceiveQueue, WritableFlag
from tests.support.units import UNIT_S


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_receive_queue_is_first_in_first_out() -> None:
    """Items queued before and while the reader waits come out in the order put."""
    queue = ReceiveQueue()
    assert queue.empty()
    queue.put_nowait("a")
    queue.put_nowait("b")
    assert not queue.empty()
    assert [await queue.get(), await queue.get()] == ["a", "b"]
    assert queue.empty()
    reading = asyncio.create_task(queue.get())
    await _settle()
    assert not reading.done()
    queue.put_nowait("c")
    queue.put_nowait("d")
    assert await asyncio.wait_for(reading, 5 * UNIT_S) == "c"
    assert await queue.get() == "d"


async def test_a_cancelled_read_loses_nothing() -> None:
    """A reader cancelled while waiting (the hub stopping a pump) leaves later items for the
    next reader."""
    queue = ReceiveQueue()
    reading = asyncio.create_task(queue.get())
    await _settle()
    reading.cancel()
    queue.put_nowait("kept")
    await _settle()
    assert reading.cancelled()
    assert await asyncio.wait_for(queue.get(), 5 * UNIT_S) == "kept"


async def test_two_readers_at_once_are_refused() -> None:
    """One socket has one reader; a second waiting at the same time is a bug, said loudly."""
    queue = ReceiveQueue()
    first = asyncio.create_task(queue.get())
    await _settle()
    with pytest.raises(RuntimeError):
        await asyncio.wait_for(queue.get(), 5 * UNIT_S)
    queue.put_nowait("x")
    assert await asyncio.wait_for(first, 5 * UNIT_S) == "x"


async def test_writable_flag_wakes_every_waiter() -> None:
    """Set: `wait` returns at once. Cleared: every waiter waits until it is set again, and a
    cancelled waiter does not keep the others waiting."""
    flag = WritableFlag()
    assert flag.is_set()
    await asyncio.wait_for(flag.wait(), 5 * UNIT_S)
    flag.clear()
    assert not flag.is_set()
    waiters = [asyncio.create_task(flag.wait()) for _ in range(3)]
    await _settle()
    assert not any(waiter.done() for waiter in waiters)
    waiters[0].cancel()
    flag.set()
    await asyncio.wait_for(asyncio.gather(*waiters[1:]), 5 * UNIT_S)
    assert waiters[0].cancelled()
