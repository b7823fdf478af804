"""The PostgreSQL pool keeps every connection it opens: a burst of transactions past the steady
pool waits for a free connection instead of opening (and then closing) new ones."""

import asyncio

import pytest
from sqlalchemy import text

from live.db.engine import create_engine


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
