"""Migration 0021: the record refuses a sale's ``sold_qty`` past its ``stock_cap`` (the CHECK the
order writer's one-statement batch relies on), keeps the sales it finds, and lets go of the
check when downgraded."""

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text, update
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from common.errors import ClientError, Code
from live.db import migrate
from live.db.engine import create_engine, session_factory
from live.db.models import SaleRow
from live.db.unit import transaction
from tests.live.commerce.shelves import Shelf, new_shelf, open_sale


@pytest.fixture
async def empty_database_url(database_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """A database of this test alone, never migrated: a new SQLite file, or a new database on
    the run's PostgreSQL server (dropped afterwards)."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    name = f"live_test_{uuid.uuid4().hex[:12]}"  # ours, never input: safe to format in
    server = create_engine(database_url).execution_options(isolation_level="AUTOCOMMIT")
    async with server.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        async with server.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await server.dispose()


async def _downgrade(engine: AsyncEngine, revision: str) -> None:
    def run(connection: object) -> None:
        config = Config()
        config.set_main_option("script_location", str(migrate.MIGRATIONS_DIR))
        config.attributes["connection"] = connection
        command.downgrade(config, revision)

    async with engine.begin() as connection:
        await connection.run_sync(run)


async def _sell(shelf: Shelf, sale_id: str, sold_qty: int) -> None:
    async with transaction(shelf.db) as unit:
        await unit.execute(update(SaleRow).where(SaleRow.id == sale_id).values(sold_qty=sold_qty))


async def test_a_sale_past_its_cap_is_refused_from_0021_on(empty_database_url: str) -> None:
    """A sale written at 0019 survives the upgrade; then a ``sold_qty`` at the cap is accepted
    and one past it refused as a conflict, until a downgrade to 0019 drops the check."""
    engine = create_engine(empty_database_url)
    try:
        await migrate.upgrade(engine, "0019")
        shelf = await new_shelf(session_factory(engine), stock=10)
        sale_id = await open_sale(shelf, cap=5)
        await _sell(shelf, sale_id, 4)
        await migrate.upgrade(engine)
        await _sell(shelf, sale_id, 5)
        with pytest.raises(ClientError) as refused:
            await _sell(shelf, sale_id, 6)
        assert refused.value.code == Code.CONFLICT
        await _downgrade(engine, "0019")
        await _sell(shelf, sale_id, 6)
    finally:
        await engine.dispose()
