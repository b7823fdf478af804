"""Fixtures of the commerce tests: the record alone, migrated, for the order writer's tests."""

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from live.db import migrate
from live.db.engine import create_engine, session_factory


@pytest.fixture
async def record(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """The migrated record of this test (its rows carry unique ids)."""
    engine = create_engine(database_url)
    await migrate.upgrade(engine)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()
