"""The collector policy: survivors are frozen out of collections, a sweep reclaims the cycles
among them, and a node runs the policy (its objects end up frozen)."""

import asyncio
import gc
import weakref
from collections.abc import Iterator

import pytest

from live.platform import gc_policy
from tests.support.clocks import HandClock
from tests.support.polling import eventually
from tests.support.servers import LiveServer, ServerWith
from tests.support.sessions import open_session
from tests.support.units import UNIT_S


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
    """A frozen cycle survives a full collection; a sweep collects it and freezes again."""
    watched = _cycle()
    gc.freeze()
    assert gc.get_freeze_count() > 0
    gc.collect()
    # Frozen: an unreachable cycle is not collected by a full pass...
    assert watched() is not None
    collected, _ = gc_policy.sweep()
    # ...until a sweep unfreezes, collects and freezes the survivors again.
    assert watched() is None
    assert collected >= 2
    assert gc.get_freeze_count() > 0


def test_checks_freeze_and_sweep_on_schedule() -> None:
    """Without a growth rule, every check a period after the last one sweeps."""
    gc.unfreeze()
    clock = HandClock()
    watched_before = _cycle()
    policy = gc_policy.CollectorPolicy(sweep_every_s=30, sweep_growth=0, clock=clock)
    assert gc.get_freeze_count() > 0  # what start-up built is frozen at once
    clock.now = 29
    assert not policy.check()
    gc.collect()
    assert watched_before() is not None  # frozen, so not collected by a plain pass
    clock.now = 30
    assert policy.check()
    assert watched_before() is None  # the sweep reclaimed it


def test_a_steady_heap_is_not_swept_and_a_grown_one_is() -> None:
    """The sweep pauses the node only once the frozen objects grew by the given fraction."""
    gc.unfreeze()
    clock = HandClock()
    policy = gc_policy.CollectorPolicy(sweep_every_s=1, sweep_growth=0.5, clock=clock)
    # What the node holds when the policy first looks (its reference): large enough that the
    # test process's own incidental allocations stay far below half of it.
    held = [Node() for _ in range(20_000)]  # noqa: F841
    clock.now = 1
    assert not policy.check()  # the first look takes the reference
    watched = _cycle()
    for second in range(2, 5):  # several checks, the heap about as big as at the first look
        clock.now = second
        assert not policy.check()
    assert watched() is not None  # still frozen: no sweep on a steady heap
    grown = [Node() for _ in range(gc.get_freeze_count())]  # noqa: F841 (the heap doubles)
    clock.now = 5
    assert policy.check()
    assert watched() is None  # swept once it grew by half


def test_objects_that_came_with_sockets_are_not_a_reason_to_sweep() -> None:
    """A join storm grows the heap with its sockets: no sweep. Once those sockets are gone and
    their objects are still there (cycles left behind), the node sweeps."""
    gc.unfreeze()
    clock = HandClock()
    open_sockets: list[list[Node]] = []
    policy = gc_policy.CollectorPolicy(
        sweep_every_s=1, sweep_growth=0.5, sockets=lambda: len(open_sockets), clock=clock
    )
    for _ in range(20):  # the room before the storm, which the first check takes as reference
        open_sockets.append([Node() for _ in range(2_000)])
    watched = _cycle()
    clock.now = 1
    assert not policy.check()
    for _ in range(200):  # the storm: each socket brings its objects
        open_sockets.append([Node() for _ in range(2_000)])
    for second in range(2, 5):
        clock.now = second
        assert not policy.check()  # the heap several times bigger, per socket the same
    assert watched() is not None
    left_behind = list(open_sockets)  # noqa: F841 (their objects stay: cycles of the departed)
    open_sockets.clear()
    clock.now = 5
    assert policy.check()  # the objects per socket jumped: swept
    assert watched() is None


def test_no_sweep_period_never_sweeps() -> None:
    """``sweep_every_s`` 0: checks only freeze; cycles wait for a restart."""
    gc.unfreeze()
    clock = HandClock()
    policy = gc_policy.CollectorPolicy(sweep_every_s=0, sweep_growth=0, clock=clock)
    watched = _cycle()
    for second in range(1, 5):
        clock.now = second * 3600
        assert not policy.check()
    assert watched() is not None


def _freezing_only(
    open_sockets: list[Node], *, freeze_after_joins: int
) -> gc_policy.CollectorPolicy:
    """A policy that never sweeps, counting ``open_sockets`` as the node's sockets."""
    return gc_policy.CollectorPolicy(
        sweep_every_s=0,
        sweep_growth=0.5,
        sockets=lambda: len(open_sockets),
        clock=HandClock(),
        freeze_after_joins=freeze_after_joins,
    )


def test_a_join_storm_freezes_before_its_time() -> None:
    """Every ``freeze_after_joins`` sockets opened bring a freeze, whatever the clock says;
    fewer do not, and sockets that left are not counted against the next joins."""
    gc.unfreeze()
    open_sockets: list[Node] = []
    policy = _freezing_only(open_sockets, freeze_after_joins=10)
    open_sockets.extend(Node() for _ in range(9))
    watched = _cycle()
    assert not policy.look()
    gc.collect()
    assert watched() is None  # not frozen: an ordinary collection reclaimed it
    open_sockets.append(Node())
    watched = _cycle()
    assert policy.look()
    gc.collect()
    assert watched() is not None  # frozen by the tenth join
    del open_sockets[:8]  # an exodus: two left open
    assert not policy.look()
    open_sockets.extend(Node() for _ in range(9))
    assert not policy.look()  # eleven open, nine joined since the mark fell to two
    open_sockets.append(Node())
    assert policy.look()


async def test_the_policy_looks_between_its_checks() -> None:
    """Run with a long period, the policy still freezes a storm's objects within a look."""
    gc.unfreeze()
    open_sockets: list[Node] = []
    policy = _freezing_only(open_sockets, freeze_after_joins=100)
    stopping = asyncio.Event()
    running = asyncio.create_task(gc_policy.run(policy, freeze_every_s=3600, stopping=stopping))
    gc.disable()  # only the policy's freeze may decide what happens to the cycle below
    try:
        await asyncio.sleep(gc_policy.LOOK_EVERY_S * 2)
        watched = _cycle()
        open_sockets.extend(Node() for _ in range(100))

        async def frozen() -> bool:
            gc.collect()
            return watched() is not None

        await asyncio.sleep(gc_policy.LOOK_EVERY_S * 3)
        assert await frozen()  # the hundred joins brought a freeze long before the hour
    finally:
        gc.enable()
        stopping.set()
        await asyncio.wait_for(running, 5)


async def test_a_node_leaves_the_collector_alone_with_freezing_off(server: LiveServer) -> None:
    """``LIVE_GC_FREEZE_S=0`` (the suite's setting): the node freezes nothing."""
    gc.unfreeze()
    await open_session(server)
    assert gc.get_freeze_count() == 0
    assert "gc-policy" not in {task.get_name() for task in asyncio.all_tasks()}


async def test_a_node_runs_the_policy(server_with: ServerWith) -> None:
    """A node with ``LIVE_GC_FREEZE_S`` set freezes the objects that survived its start-up."""
    gc.unfreeze()
    await server_with(gc_freeze_s=0.05)

    async def frozen() -> bool:
        return gc.get_freeze_count() > 0

    await eventually(frozen, timeout_s=5 * UNIT_S, what="the node to freeze its survivors")


async def test_a_node_running_the_policy_stops_without_waiting_for_the_drain(
    server_with: ServerWith,
) -> None:
    """The policy's loop holds no transaction: shutdown stops it at once, so a node with no
    socket open stops well inside a long drain time."""
    gc.unfreeze()
    live = await server_with(gc_freeze_s=0.05, shutdown_drain_s=60.0)
    async with asyncio.timeout(10 * UNIT_S):
        await live.stop()
