"""The side loop runs work on a thread and event loop of its own, with its own engine, and hands
back the result, the error or the cancellation to the caller's loop; the order writer's
one-statement batches go through it on PostgreSQL."""

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from common.errors import ClientError
from live.commerce.order_writer import OrderWriter
from live.db.engine import create_engine, session_factory
from live.db.side_loop import SideLoop
from live.db.unit import autocommit
from tests.live.commerce.shelves import committed, new_order, new_shelf, open_sale, write_all
from tests.support.ports import free_port

T = TypeVar("T")


async def test_work_runs_on_another_thread_and_loop_and_returns_here(database_url: str) -> None:
    """The work sees a thread and a loop that are not the caller's, queries the database on
    the side engine, and its result arrives in the caller's loop."""
    side = SideLoop(make_url(database_url))
    caller = (threading.get_ident(), asyncio.get_running_loop())
    try:

        async def where(engine: AsyncEngine) -> tuple[int, asyncio.AbstractEventLoop, int]:
            async with engine.connect() as connection:
                one = (await connection.execute(text("SELECT 1"))).scalar_one()
            return threading.get_ident(), asyncio.get_running_loop(), one

        thread, loop, one = await side.run(where)
        assert one == 1
        assert (thread, loop) != caller
        assert thread != caller[0]
    finally:
        await side.aclose()
    with pytest.raises(RuntimeError):
        await side.run(lambda engine: asyncio.sleep(0))


async def test_errors_and_cancellation_cross_back(database_url: str) -> None:
    """A refusal raised on the side loop is raised to the caller as itself; a caller cancelled
    while it waits cancels the work on the side loop."""
    side = SideLoop(make_url(database_url))
    try:

        async def conflicting(engine: AsyncEngine) -> None:
            async with autocommit(engine) as connection:
                await connection.execute(text("CREATE TEMPORARY TABLE t (id INTEGER PRIMARY KEY)"))
                await connection.execute(text("INSERT INTO t VALUES (1)"))
                await connection.execute(text("INSERT INTO t VALUES (1)"))

        with pytest.raises(ClientError) as refused:
            await side.run(conflicting)
        assert refused.value.code == "conflict"

        started, cancelled = threading.Event(), threading.Event()

        async def slow(engine: AsyncEngine) -> None:
            started.set()
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                cancelled.set()
                raise

        waiting = asyncio.create_task(side.run(slow))
        await asyncio.to_thread(started.wait, 10)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert await asyncio.to_thread(cancelled.wait, 10)
    finally:
        await side.aclose()


class _WatchedSide(SideLoop):
    """A side loop that writes down the thread each piece of work ran on."""

    threads: list[int]

    async def run(self, work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
        async def watched(engine: AsyncEngine) -> T:
            self.threads.append(threading.get_ident())
            return await work(engine)

        return await super().run(watched)


async def test_the_writer_writes_its_batches_on_the_side_loop(database_url: str) -> None:
    """On PostgreSQL, a writer given a side loop writes a sale's batch of one product there:
    exactly the cap written, the counters exact, the statement run on the side thread."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        pytest.skip("the one-statement batch, and so the side loop, is PostgreSQL's")
    engine = create_engine(database_url)
    side = _WatchedSide(url)
    side.threads = []
    try:
        db = session_factory(engine)
        shelf = await new_shelf(db, stock=50)
        sale_id = await open_sale(shelf, cap=20)
        writer = OrderWriter(db, side=side)
        orders = [new_order(shelf, sale_id=sale_id) for _ in range(25)]
        outcomes = await write_all(writer, orders)
        assert outcomes.count(None) == 20
        assert await committed(shelf) == (20, 20)
        assert side.threads
        assert threading.get_ident() not in side.threads
    finally:
        await side.aclose()
        await engine.dispose()


async def test_a_batch_that_fails_on_the_side_is_written_one_by_one_and_said(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The side loop's database is unreachable (its engine points at a closed port): every
    order is still written, one by one on the node's engine, and a warning names the cause (a
    batch statement that always failed would otherwise show only as slower orders)."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        pytest.skip("the one-statement batch, and so the side loop, is PostgreSQL's")
    engine = create_engine(database_url)
    side = SideLoop(url.set(host="127.0.0.1", port=free_port()))
    try:
        db = session_factory(engine)
        shelf = await new_shelf(db, stock=10)
        writer = OrderWriter(db, side=side)
        with caplog.at_level(logging.WARNING, logger="live.commerce.order_writer"):
            outcomes = await write_all(writer, [new_order(shelf) for _ in range(4)])
        assert outcomes == [None] * 4
        assert await committed(shelf) == (4, 4)
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert any("failed, written one by one" in w and "Error" in w for w in warnings), warnings
    finally:
        await side.aclose()
        await engine.dispose()


async def test_the_writer_prepares_its_batches_ahead_and_writes_nothing(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """`OrderWriter.prepare` runs both one-statement batches with no orders on the side loop's
    connection: PostgreSQL then holds them prepared there, nothing was written, and the next
    real batch writes as before. A side loop that cannot reach the database leaves a warning,
    not an error: the first batch prepares them then."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        pytest.skip("the one-statement batch, and so the side loop, is PostgreSQL's")
    engine = create_engine(database_url)
    side = SideLoop(url)
    unreachable = SideLoop(url.set(host="127.0.0.1", port=free_port()))
    try:
        db = session_factory(engine)
        shelf = await new_shelf(db, stock=10)
        sale_id = await open_sale(shelf, cap=5)
        writer = OrderWriter(db, side=side)
        await writer.prepare()

        statements = await side.run(_batch_statements)
        assert len(statements) == 2, statements
        assert await committed(shelf) == (0, 0)
        outcomes = await write_all(writer, [new_order(shelf, sale_id=sale_id) for _ in range(3)])
        assert outcomes == [None] * 3
        assert await committed(shelf) == (3, 3)
        with caplog.at_level(logging.WARNING, logger="live.commerce.order_writer"):
            await OrderWriter(db, side=unreachable).prepare()
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert any("not prepared ahead" in w for w in warnings), warnings
    finally:
        await side.aclose()
        await unreachable.aclose()
        await engine.dispose()


async def _batch_statements(on: AsyncEngine) -> list[str]:
    """The one-statement batches prepared on the side loop's connection."""
    async with on.connect() as connection:
        rows = await connection.execute(text("SELECT statement FROM pg_prepared_statements"))
        return [s for (s,) in rows if "INSERT INTO orders" in s and "unnest(" in s]
