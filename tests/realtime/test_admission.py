"""The join gate: a bounded number of joins at once, a bounded queue in arrival order, a refusal
with a retry hint past it, and turns that are never lost (released twice, or by a join that
gave up while waiting)."""

import asyncio

import pytest

from realtime.admission import MAX_RETRY_MS, JoinGate, Ticket

UNIT_S = 1.0


async def _tickets(gate: JoinGate, count: int) -> list[Ticket]:
    tickets = []
    for _ in range(count):
        ticket = await gate.enter()
        assert ticket is not None
        tickets.append(ticket)
    return tickets


async def test_joins_beyond_the_concurrency_wait_in_arrival_order() -> None:
    """Two turns, three joins waiting: each released turn goes to the oldest waiter."""
    gate = JoinGate(concurrency=2, queue=10, retry_min_ms=100)
    first = await _tickets(gate, 2)
    order: list[int] = []

    async def join(n: int) -> None:
        ticket = await gate.enter()
        assert ticket is not None
        order.append(n)

    waiting = [asyncio.create_task(join(n)) for n in range(3)]
    await asyncio.sleep(0)
    assert (gate.active, gate.waiting, order) == (2, 3, [])
    first[0].release()
    await asyncio.wait_for(waiting[0], UNIT_S)
    assert order == [0]
    assert gate.active == 2
    assert gate.waiting == 2
    first[1].release()
    await asyncio.wait_for(waiting[1], UNIT_S)
    assert order == [0, 1]
    for task in waiting:
        task.cancel()
    await asyncio.gather(*waiting, return_exceptions=True)


async def test_a_full_queue_refuses_at_once_with_a_retry_hint() -> None:
    """Past ``queue`` waiting joins, `enter` answers None without waiting, and counts it."""
    gate = JoinGate(concurrency=1, queue=2, retry_min_ms=250)
    held = await _tickets(gate, 1)
    waiters = [asyncio.create_task(gate.enter()) for _ in range(2)]
    await asyncio.sleep(0)
    assert gate.saturated
    assert await asyncio.wait_for(gate.enter(), UNIT_S) is None
    assert gate.refused == 1
    assert gate.refusal_hint_ms() >= 250
    held[0].release()
    passed_on = await asyncio.wait_for(waiters[0], UNIT_S)
    assert passed_on is not None
    assert gate.waiting == 1
    assert gate.saturated
    waiters[1].cancel()
    await asyncio.gather(waiters[1], return_exceptions=True)
    assert gate.waiting == 0
    assert not gate.saturated


async def test_the_retry_hint_follows_the_measured_pace() -> None:
    """Before any pace is measured, the hint is how long the queue ahead takes at the join time
    measured, within bounds."""
    gate = JoinGate(concurrency=2, queue=100, retry_min_ms=10)
    gate.join_s = 0.05  # joins took 50 ms lately
    held = await _tickets(gate, 2)
    waiters = [asyncio.create_task(gate.enter()) for _ in range(39)]
    await asyncio.sleep(0)
    # 40 joins ahead (39 waiting and the one asking), 2 at a time, 50 ms each: 1 s.
    assert 990 <= gate.refusal_hint_ms() <= 1000
    gate.join_s = 10_000.0
    assert gate.refusal_hint_ms() == MAX_RETRY_MS
    for task in waiters:
        task.cancel()
    await asyncio.gather(*waiters, return_exceptions=True)
    for ticket in held:
        ticket.release()


async def test_each_refusal_is_told_a_later_turn() -> None:
    """Refused one after the other, joins are told successive turns after the queue's: the
    refused of a storm come back spread out, not as one second storm."""
    gate = JoinGate(concurrency=1, queue=2, retry_min_ms=1)
    gate.turn_s = 0.1  # a join finished every 100 ms lately
    held = await _tickets(gate, 1)
    waiters = [asyncio.create_task(gate.enter()) for _ in range(2)]
    await asyncio.sleep(0)
    hints = [gate.refusal_hint_ms() for _ in range(4)]
    # Two queued ahead: the first refused starts after three turns, each next one turn later.
    assert [round(h, -2) for h in hints] == [300, 400, 500, 600], hints
    for task in waiters:
        task.cancel()
    await asyncio.gather(*waiters, return_exceptions=True)
    held[0].release()


async def test_the_pace_is_measured_while_joins_wait() -> None:
    """The pace is the gap between joins finishing while others waited; a join that finishes
    with nobody waiting measures nothing (an idle gap says nothing about the node's pace)."""
    gate = JoinGate(concurrency=1, queue=10, retry_min_ms=1)
    (alone,) = await _tickets(gate, 1)
    alone.release()
    (first,) = await _tickets(gate, 1)
    first.release()
    assert gate.turn_s is None
    (ticket,) = await _tickets(gate, 1)
    waiters = [asyncio.create_task(gate.enter()) for _ in range(4)]
    await asyncio.sleep(0)
    for waiter in waiters:
        await asyncio.sleep(0.02)  # each join takes 20 ms of the node
        ticket.release()
        passed = await asyncio.wait_for(waiter, UNIT_S)
        assert passed is not None
        ticket = passed
    ticket.release()
    assert gate.turn_s is not None
    assert 0.015 <= gate.turn_s < 1.0


async def test_a_turn_is_released_once_and_a_cancelled_waiter_loses_none() -> None:
    """Releasing twice frees one turn; a waiter cancelled as its turn came passes it on."""
    gate = JoinGate(concurrency=1, queue=5, retry_min_ms=100)
    (ticket,) = await _tickets(gate, 1)
    ticket.release()
    ticket.release()
    assert gate.active == 0
    (ticket,) = await _tickets(gate, 1)
    unlucky = asyncio.create_task(gate.enter())
    patient = asyncio.create_task(gate.enter())
    await asyncio.sleep(0)
    ticket.release()  # the turn is handed to `unlucky`...
    unlucky.cancel()  # ...which goes away before it runs: the turn must reach `patient`
    await asyncio.gather(unlucky, return_exceptions=True)
    passed = await asyncio.wait_for(patient, UNIT_S)
    assert passed is not None
    assert gate.active == 1
    assert gate.waiting == 0
    passed.release()
    assert gate.active == 0


def test_bounds_are_checked() -> None:
    """A gate needs at least one turn; a queue of 0 is allowed (no waiting at all)."""
    with pytest.raises(ValueError, match="concurrency"):
        JoinGate(concurrency=0, queue=1, retry_min_ms=1)
    assert JoinGate(concurrency=1, queue=0, retry_min_ms=1).queue == 0
