"""The units of work, on every engine: a connection in autocommit commits each statement on its
own, translates its errors, and goes back to the pool transactional."""

import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from common.errors import ClientError, Code
from live.db import migrate
from live.db.engine import create_engine, session_factory
from live.db.models import SessionRow
from live.db.unit import autocommit, transaction


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    """The migrated record on a pool of one connection, so every unit of work shares it."""
    engine = create_engine(database_url, pool_size=1)
    await migrate.upgrade(engine)
    try:
        yield engine
    finally:
        await engine.dispose()


def _session_row(session_id: str) -> dict[str, object]:
    return {
        "id": session_id,
        "brand": "b1",
        "title": "t",
        "status": "draft",
        "host_id": "h",
        "created_ms": 0,
    }


async def _sessions(database_url: str, session_id: str) -> int:
    """How many rows of ``session_id`` another node's connection sees."""
    other = create_engine(database_url)
    try:
        async with other.connect() as connection:
            found = await connection.scalar(select(func.count()).where(SessionRow.id == session_id))
    finally:
        await other.dispose()
    return int(found or 0)


async def _abandon_ending(engine: AsyncEngine, session_id: str) -> None:
    """End the session in a unit of work that then fails."""
    async with transaction(session_factory(engine)) as unit:
        await unit.execute(
            update(SessionRow).where(SessionRow.id == session_id).values(status="ended")
        )
        raise LookupError("abandon the unit of work")


async def test_a_statement_in_autocommit_is_committed_on_its_own(
    engine: AsyncEngine, database_url: str
) -> None:
    """Another connection sees the insert while the autocommit connection is still open; a
    duplicate is a ``conflict`` that leaves the first row; and the next unit of work on the
    same connection is a transaction again, rolled back on error."""
    session_id = f"s-{uuid.uuid4().hex[:12]}"
    async with autocommit(engine) as connection:
        await connection.execute(insert(SessionRow), _session_row(session_id))
        assert await _sessions(database_url, session_id) == 1
    with pytest.raises(ClientError) as refused:
        async with autocommit(engine) as connection:
            await connection.execute(insert(SessionRow), _session_row(session_id))
    assert refused.value.code == Code.CONFLICT
    with pytest.raises(LookupError):
        await _abandon_ending(engine, session_id)
    async with transaction(session_factory(engine)) as unit:
        status = await unit.scalar(select(SessionRow.status).where(SessionRow.id == session_id))
    assert status == "draft"
