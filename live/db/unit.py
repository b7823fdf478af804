"""The unit of work: one transaction, or one statement committed on its own, with database
errors translated at this boundary."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from common.errors import ClientError, Code, DatabaseUnavailable
from live.db.engine import EACH_STATEMENT


@asynccontextmanager
async def transaction(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session inside one transaction, committed on success, rolled back on error.

    `sqlalchemy.exc` never reaches a handler: it becomes `DatabaseUnavailable` (a `ClientError`
    answered as ``unavailable``). So does
    `OSError`: asyncpg raises a refused or timed-out connect as it is, unwrapped by SQLAlchemy.
    """
    try:
        async with factory() as session, session.begin():
            yield session
    except IntegrityError as exc:
        raise ClientError(Code.CONFLICT, "this conflicts with an existing record") from exc
    except (SQLAlchemyError, OSError) as exc:
        raise DatabaseUnavailable from exc


@asynccontextmanager
async def autocommit(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection on which each statement is a transaction of its own: no BEGIN and no
    COMMIT cross the wire, and a statement that fails leaves nothing of itself. The connection
    goes back to the pool in the engine's isolation level (on SQLite, whose connections commit
    each statement unless a unit begins, only the BEGIN is left out: `EACH_STATEMENT`). Errors
    are translated as in `transaction`: an `IntegrityError` is a ``conflict``, the others
    `DatabaseUnavailable`."""
    try:
        async with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                await connection.execution_options(**{EACH_STATEMENT: True})
            else:
                await connection.execution_options(isolation_level="AUTOCOMMIT")
            yield connection
    except IntegrityError as exc:
        raise ClientError(Code.CONFLICT, "this conflicts with an existing record") from exc
    except (SQLAlchemyError, OSError) as exc:
        raise DatabaseUnavailable from exc
