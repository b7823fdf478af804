"""The unit of work: one transaction, with database errors translated at this boundary."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from common.errors import ClientError, Code, DatabaseUnavailable


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
