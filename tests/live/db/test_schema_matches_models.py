"""The migrations build exactly the tables the models describe (the waitlist's included)."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from live.db import migrate
from live.db.engine import create_engine
from live.db.models import Base


async def test_migrated_schema_matches_the_models(database_url: str) -> None:
    """Alembic finds nothing to add, drop or change between the head revision and the models."""
    engine = create_engine(database_url)
    try:
        await migrate.upgrade(engine)
        async with engine.connect() as connection:
            differences = await connection.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata)
            )
    finally:
        await engine.dispose()
    assert differences == []
