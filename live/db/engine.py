"""Creating the async engine and session factory, and checking the database at start-up."""

from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.util import await_only

from live.db import sqlite_statements

CONNECT_TIMEOUT_S = 10
#: Execution option of a SQLite connection whose statements each commit on their own: no BEGIN
#: is sent for it. The connections run in sqlite3's autocommit mode, and a unit of work's
#: BEGIN IMMEDIATE is this engine's; SQLAlchemy's AUTOCOMMIT isolation level would cost two
#: trips to the connection's thread to set and two to reset (`live.db.unit.autocommit`).
EACH_STATEMENT = "live_each_statement"
#: Connections a node keeps to PostgreSQL at most (`LIVE_DB_POOL_SIZE`).
POOL_SIZE = 30


def create_engine(database_url: str, *, pool_size: int = POOL_SIZE) -> AsyncEngine:
    """An engine for ``database_url``; SQLite gets WAL and serialised writers."""
    if database_url.startswith("sqlite"):
        # One connection: SQLite runs one writer at a time anyway, and queueing for the pool
        # (an asyncio wait) is far cheaper than SQLite's sleeping busy handler.
        engine = create_async_engine(
            database_url,
            connect_args={"timeout": 30},
            pool_size=1,
            max_overflow=0,
            pool_timeout=60,
        )
        _serialise_sqlite_writers(engine)
        _statements_in_one_trip(engine)
        return engine
    engine = create_async_engine(
        database_url,
        # Every connection opened is kept (opened on demand, up to `pool_size`); none is an
        # "overflow" one, closed as soon as it is returned. With overflow, a join storm or a
        # flash sale that keeps more transactions open than the steady pool reconnected for
        # every transaction past it: a TCP and TLS handshake and authentication each time,
        # about 10% of a node's CPU in a 10,000-viewer join storm. Past `pool_size`, a
        # transaction waits for a free connection, which costs far less than opening one.
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=30,
        # asyncpg waits 60 s for an unreachable host by default; start-up should fail sooner.
        connect_args={"timeout": CONNECT_TIMEOUT_S},
    )
    _ping_on_checkout(engine)
    return engine


def _ping_on_checkout(engine: AsyncEngine) -> None:
    # A connection taken from the pool is pinged first, so that one the server dropped (a
    # restart, a failover, an idle timeout) is replaced instead of failing the unit of work.
    # SQLAlchemy's own pre-ping (``pool_pre_ping``) on asyncpg wraps its ";" in BEGIN and
    # ROLLBACK on any connection not in autocommit (for pgbouncer's transaction pooling,
    # SQLAlchemy issue 10226): three round trips before every unit of work, each waiting a turn
    # of a busy event loop (tests/live/commerce/test_order_round_trips.py read them on the
    # wire). One query in the simple protocol, no statement prepared, tells the same in one
    # round trip, and pgbouncer takes it as well. (Not an empty one: asyncpg's ``execute``
    # fails on the empty query's answer.)
    @event.listens_for(engine.sync_engine, "checkout")
    def _ping(dbapi_connection: Any, _record: ConnectionPoolEntry, _proxy: Any) -> None:
        try:
            await_only(dbapi_connection.driver_connection.execute("SELECT 1"))
        except Exception as exc:
            # As the pre-ping does: the server likely restarted, so every connection opened
            # before now is dropped, and the pool opens a fresh one for this checkout.
            raise InvalidatePoolError(f"the database did not answer a ping: {exc!r}") from exc


def _statements_in_one_trip(engine: AsyncEngine) -> None:
    # The connection SQLAlchemy's aiosqlite adapter wraps is one whose cursors run a statement
    # in one trip to its thread (`live.db.sqlite_statements`); the URL's path and arguments are
    # still read by SQLAlchemy.
    @event.listens_for(engine.sync_engine, "do_connect")
    def _connect(dialect: Any, _record: ConnectionPoolEntry, cargs: Any, cparams: Any) -> Any:
        return dialect.loaded_dbapi.connect(
            *cargs, async_creator_fn=sqlite_statements.connect, **cparams
        )


def _serialise_sqlite_writers(engine: AsyncEngine) -> None:
    # pysqlite opens transactions lazily and upgrades read locks to write locks, which
    # deadlocks two concurrent writers into an immediate "database is locked". Taking the
    # write lock up front (BEGIN IMMEDIATE) makes SQLite queue writers on its busy timeout.
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # SQLAlchemy still "begins" a connection in autocommit (`live.db.unit.autocommit`);
        # a BEGIN there would hold its statements in a transaction nothing commits.
        options = connection.get_execution_options()
        if options.get("isolation_level") != "AUTOCOMMIT" and not options.get(EACH_STATEMENT):
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: AsyncEngine) -> async_sessionmaker[Any]:
    """The factory every request opens its unit of work from."""
    return async_sessionmaker(engine, expire_on_commit=False)


async def ping(engine: AsyncEngine) -> None:
    """Run ``SELECT 1``; raises the driver's error when the database is unreachable."""
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
