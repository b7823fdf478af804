"""The rooms' ticks give way to the orders being written: while the order writer is busy, a
room's coalesced frames (stock levels, the purchase ticker) wait, at most `MAX_WAIT_S` at a
time, and go out once it is done; frames that do not ride the tick (a pin) never wait.

The writer is kept busy by a record that takes its time: its batches wait for the test's word.
"""

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from live.commerce.order_writer import OrderWriter
from realtime.giving_way import MAX_WAIT_S, GivingWay
from tests.support.clients import Room
from tests.support.polling import eventually
from tests.support.servers import LiveServer
from tests.support.sessions import OpenSession, open_session


@pytest.fixture
async def slow_record(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[asyncio.Event]:
    """Every batch of orders waits until the event is set (set at the end in any case)."""
    go_on = asyncio.Event()
    write_batch: Callable[[OrderWriter, list[Any]], Awaitable[None]] = OrderWriter._write_batch

    async def waiting(writer: OrderWriter, batch: list[Any]) -> None:
        await go_on.wait()
        await write_batch(writer, batch)

    monkeypatch.setattr(OrderWriter, "_write_batch", waiting)
    try:
        yield go_on
    finally:
        go_on.set()


async def _buy_in_background(server: LiveServer, opened: OpenSession) -> asyncio.Task[int]:
    """An order over HTTP, in a task; returns once the writer has it."""

    async def buy() -> int:
        async with server.client(server.token("viewer", "buyer")) as buyer:
            placed = await buyer.post(
                f"/api/sessions/{opened.session_id}/orders",
                json={"product_id": opened.product_id, "qty": 1},
                headers={"Idempotency-Key": "k-1"},
            )
            return placed.status_code

    task = asyncio.create_task(buy())

    async def writing() -> bool:
        return server.context.writer.busy()

    await eventually(writing, what="the order reaching the writer", poll_s=0.005)
    return task


async def _publish_marker(server: LiveServer, opened: OpenSession, marker: str) -> None:
    """A stock level that only a tick carries to the viewers."""
    await server.context.bus.publish(
        opened.session_id, "stock", {"levels": {marker: 1}, "version": 1}
    )


def _has_marker(marker: str) -> Callable[[dict[str, Any]], bool]:
    return lambda frame: frame.get("type") == "stock" and marker in frame["levels"]


async def test_a_tick_waits_for_the_orders_being_written_a_pin_does_not(
    server: LiveServer, slow_record: asyncio.Event
) -> None:
    # Held for as long as the writer is busy in this test (the node's bound is MAX_WAIT_S).
    server.context.hub.yield_ticks_to(server.context.writer.busy, max_s=60)
    opened = await open_session(server, stock=5, limit=None)
    viewer = await Room.join(server.ws_url(opened.session_id, server.token("viewer", "v1")))
    await viewer.wait_type("snapshot")
    buying = await _buy_in_background(server, opened)
    await _publish_marker(server, opened, "marker-1")
    async with server.client(opened.host_token) as host:
        pinned = await host.post(
            f"/api/sessions/{opened.session_id}/pin", json={"product_id": opened.product_id}
        )
        assert pinned.status_code == 200, pinned.text
    await viewer.wait_type("pin")
    held_from = server.context.hub.stats.ticks_held
    # Ten ticks of the tests' 10 ms go by: the level stays behind.
    await asyncio.sleep(0.1)
    assert server.context.hub.stats.ticks_held > held_from
    assert not any(_has_marker("marker-1")(frame) for frame in viewer.frames)
    slow_record.set()
    assert await buying == 201
    await viewer.wait_for(_has_marker("marker-1"))
    await viewer.close()


async def test_a_tick_waits_no_longer_than_its_bound(
    server: LiveServer, slow_record: asyncio.Event
) -> None:
    """The node's own wiring: with the writer busy throughout, the level still goes out, no
    sooner than `MAX_WAIT_S` after it was due."""
    opened = await open_session(server, stock=5, limit=None)
    viewer = await Room.join(server.ws_url(opened.session_id, server.token("viewer", "v1")))
    await viewer.wait_type("snapshot")
    buying = await _buy_in_background(server, opened)
    published = time.monotonic()
    await _publish_marker(server, opened, "marker-2")
    await viewer.wait_for(_has_marker("marker-2"))
    assert time.monotonic() - published >= MAX_WAIT_S * 0.9
    assert server.context.writer.busy()
    slow_record.set()
    assert await buying == 201
    await viewer.close()


def test_it_holds_while_busy_for_at_most_its_bound_then_starts_afresh() -> None:
    busy = [True]
    way = GivingWay()
    assert not way.holds(0.0), "nothing registered: never"
    way.to(lambda: busy[0], max_s=0.3)
    assert way.holds(1.0)
    assert way.holds(1.29)
    assert not way.holds(1.3), "the bound reached: this tick goes"
    assert way.holds(1.31), "the next wait starts afresh"
    busy[0] = False
    assert not way.holds(1.4)
    busy[0] = True
    assert way.holds(5.0)
    assert way.holds(5.2), "counted from 5.0, not from 1.31"
