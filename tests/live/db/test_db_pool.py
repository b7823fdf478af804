"""The PostgreSQL pool keeps every connection it opens: a burst of transactions past the steady
pool waits for a free connection instead of opening (and then closing) new ones. A connection
taken from the pool is pinged in one round trip, and one the server dropped is replaced."""

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from live.db.engine import create_engine
from tests.support.ports import free_port
from tests.support.postgres_tap import PostgresTap


@pytest.fixture
def postgres_url(database_url: str) -> str:
    """The test's PostgreSQL database; the test is skipped on SQLite."""
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only: SQLite runs on one connection, with nothing to ping")
    return database_url


@pytest.fixture
async def one_connection(postgres_url: str) -> AsyncIterator[AsyncEngine]:
    """An engine with a pool of one connection, so that every unit of work takes it."""
    engine = create_engine(postgres_url, pool_size=1)
    try:
        yield engine
    finally:
        await engine.dispose()


async def _backend(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        pid: int = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
    return pid


async def test_a_checkout_costs_one_round_trip_of_ping(postgres_url: str) -> None:
    """Taking the pool's connection again costs one query before the unit of work, not
    SQLAlchemy's pre-ping (BEGIN, an empty query, ROLLBACK)."""
    url = make_url(postgres_url)
    tap = PostgresTap(url.host or "127.0.0.1", url.port or 5432, free_port())
    await tap.open()
    through = url.set(host="127.0.0.1", port=tap.port, query={"ssl": "disable"})
    engine = create_engine(through.render_as_string(hide_password=False), pool_size=1)
    try:
        await _backend(engine)
        start = len(tap.round_trips)
        await _backend(engine)
        statements = [trip.statements for trip in tap.round_trips[start:]]
        # The ping, then the unit of work's own transaction.
        assert statements == [
            ("SELECT 1",),
            ("BEGIN;",),
            ("SELECT pg_backend_pid()",),
            ("ROLLBACK;",),
        ]
    finally:
        await engine.dispose()
        await tap.close()


async def test_a_connection_the_server_dropped_is_replaced_on_checkout(
    one_connection: AsyncEngine, postgres_url: str
) -> None:
    """The server ends the pool's connection (as a restart or an idle timeout would): the next
    unit of work gets a new connection and succeeds, instead of failing on the dead one."""
    first = await _backend(one_connection)
    killer = create_engine(postgres_url, pool_size=1)
    try:
        async with killer.connect() as connection:
            ended = await connection.execute(
                text("SELECT pg_terminate_backend(:pid)"), {"pid": first}
            )
            assert ended.scalar_one() is True
    finally:
        await killer.dispose()
    second = await _backend(one_connection)
    assert second != first


async def test_bursts_reuse_the_pools_connections(database_url: str) -> None:
    """A burst larger than the pool is served by the pool's own connections, no new ones."""
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only: SQLite runs on one connection")
    engine = create_engine(database_url, pool_size=12)

    async def backend() -> int:
        async with engine.connect() as connection:
            pid: int = (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            await asyncio.sleep(0.05)  # held, so that the burst needs many connections at once
            return pid

    try:
        first = set(await asyncio.gather(*(backend() for _ in range(12))))
        assert len(first) == 12
        # A burst of 30 on a pool of 12: the same 12 server processes serve all of it.
        burst = set(await asyncio.gather(*(backend() for _ in range(30))))
        assert burst <= first
    finally:
        await engine.dispose()
