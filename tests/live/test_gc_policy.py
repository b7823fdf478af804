"""The collector policy: survivors are frozen out of collections, a sweep reclaims the cycles
among them, and a node runs the policy (its objects end up frozen)."""

import asyncio
import gc
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest

from live import gc_policy
from tests.harness import UNIT_S, settings_for, start_server


class Node:
    """An object that can sit in a reference cycle and be watched through a weak reference."""

    def __init__(self) -> None:
        self.other: Node | None = None


@pytest.fixture(autouse=True)
def unfrozen() -> Iterator[None]:
    """Leave the test process's collector as it was found."""
    yield
    gc.unfreeze()


def _cycle() -> weakref.ref[Node]:
    a, b = Node(), Node()
    a.other, b.other = b, a
    return weakref.ref(a)


async def test_freezing_hides_cycles_from_collections_and_a_sweep_reclaims_them() -> None:
    watched = _cycle()
    gc.freeze()
    assert gc.get_freeze_count() > 0
    gc.collect()
    # Frozen: an unreachable cycle is not collected by a full pass...
    assert watched() is not None
    collected, took = gc_policy.sweep()
    # ...until a sweep unfreezes, collects and freezes the survivors again.
    assert watched() is None
    assert collected >= 2
    assert took >= 0
    assert gc.get_freeze_count() > 0


async def test_the_loop_freezes_and_sweeps_on_schedule() -> None:
    gc.unfreeze()
    watched_before = _cycle()
    running = asyncio.create_task(
        gc_policy.run(freeze_every_s=0.05, sweep_every_s=0.3, sweep_growth=0)
    )
    try:
        await asyncio.sleep(0.12)
        assert gc.get_freeze_count() > 0
        gc.collect()
        assert watched_before() is not None  # frozen at start-up, so not collected yet
        await asyncio.sleep(0.4)
        assert watched_before() is None  # the sweep reclaimed it
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)


async def test_a_steady_heap_is_not_swept_and_a_grown_one_is() -> None:
    """The sweep pauses the node only once the frozen objects grew by the given fraction."""
    gc.unfreeze()
    running = asyncio.create_task(
        gc_policy.run(freeze_every_s=0.02, sweep_every_s=0.1, sweep_growth=0.5)
    )
    try:
        await asyncio.sleep(0)  # the policy takes its start-up count
        # What the node holds when the policy first looks (its reference): large enough that
        # the test process's own incidental allocations stay far below half of it.
        held = [Node() for _ in range(20_000)]  # noqa: F841
        await asyncio.sleep(0.05)
        watched = _cycle()
        await asyncio.sleep(0.4)  # several checks, the heap about as big as at start
        assert watched() is not None  # still frozen: no sweep on a steady heap
        grown = [Node() for _ in range(gc.get_freeze_count())]  # noqa: F841 (the heap doubles)
        await asyncio.sleep(0.4)
        assert watched() is None  # swept once it grew by half
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)


async def test_objects_that_came_with_sockets_are_not_a_reason_to_sweep() -> None:
    """A join storm grows the heap with its sockets: no sweep. Once those sockets are gone and
    their objects are still there (cycles left behind), the node sweeps."""
    gc.unfreeze()
    open_sockets: list[list[Node]] = []
    running = asyncio.create_task(
        gc_policy.run(
            freeze_every_s=0.02,
            sweep_every_s=0.1,
            sweep_growth=0.5,
            sockets=lambda: len(open_sockets),
        )
    )
    try:
        await asyncio.sleep(0)  # the policy takes its start-up count
        for _ in range(20):  # the room before the storm, which the first check takes as reference
            open_sockets.append([Node() for _ in range(2_000)])
        watched = _cycle()
        await asyncio.sleep(0.3)  # frozen, and checked at least once
        for _ in range(200):  # the storm: each socket brings its objects
            open_sockets.append([Node() for _ in range(2_000)])
        await asyncio.sleep(0.5)
        assert watched() is not None  # several checks, the heap several times bigger: no sweep
        left_behind = list(open_sockets)  # noqa: F841 (their objects stay: cycles of the departed)
        open_sockets.clear()
        await asyncio.sleep(0.4)
        assert watched() is None  # the objects per socket jumped: swept
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)


async def test_zero_leaves_the_collector_alone() -> None:
    gc.unfreeze()
    await asyncio.wait_for(gc_policy.run(freeze_every_s=0, sweep_every_s=600, sweep_growth=0.5), 1)
    assert gc.get_freeze_count() == 0


async def test_a_node_runs_the_policy(data_dir: Path, database_url: str, redis_url: str) -> None:
    gc.unfreeze()
    live = await start_server(
        settings_for(data_dir, database_url=database_url, redis_url=redis_url, gc_freeze_s=0.05)
    )
    try:
        await asyncio.sleep(0.2)
        assert gc.get_freeze_count() > 0
    finally:
        await live.stop()


async def test_a_node_running_the_policy_stops_without_waiting_for_the_drain(
    data_dir: Path, database_url: str, redis_url: str
) -> None:
    """The policy's loop holds no transaction: shutdown stops it at once, so a node with no
    socket open stops well inside a long drain time."""
    gc.unfreeze()
    live = await start_server(
        settings_for(
            data_dir,
            database_url=database_url,
            redis_url=redis_url,
            gc_freeze_s=0.05,
            shutdown_drain_s=60.0,
        )
    )
    async with asyncio.timeout(10 * UNIT_S):
        await live.stop()
