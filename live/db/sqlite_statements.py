"""SQLite statements in one trip to aiosqlite's thread each: execute, fetch and close together.

SQLAlchemy's aiosqlite adapter drives a statement through aiosqlite's cursor in up to four
calls, each a trip to the connection's thread and back: open the cursor, execute, fetch the
rows, close. Each trip back waits for a turn of the node's event loop, and under a join storm
a turn lasts tens of milliseconds, while the embedded record has one connection
(`live.db.engine`): a host's pin (five statements) held it for some twenty turns, and every
other unit of work queued behind it (docs/benchmarks.md, "Join storms"). Here the cursor
SQLAlchemy gets runs the statement, reads every row and closes the sqlite3 cursor in one call on
that thread, and answers ``fetchall`` from what it read: one trip per statement.

Contract: what SQLAlchemy reads from a cursor (``description``, ``rowcount``, ``lastrowid``,
the rows) is what the sqlite3 cursor said, read on the connection's thread right after the
statement ran; errors are sqlite3's, raised from ``execute``. Rows are read whole, as
SQLAlchemy's adapter reads them anyway for every statement that returns rows. ``commit`` and
``rollback`` with no transaction in progress (the pool's reset after a commit, a unit of
statements each committed on its own) do nothing, without the trip.
"""

import sqlite3
from collections.abc import Callable, Iterable
from typing import Any

import aiosqlite

#: What one statement left in its cursor: description, rows, rowcount, lastrowid.
_Outcome = tuple[Any, list[Any], int, int | None]


def _run_one(connection: sqlite3.Connection, sql: str, parameters: Any) -> _Outcome:
    cursor = connection.cursor()
    try:
        if parameters is None:
            cursor.execute(sql)
        else:
            cursor.execute(sql, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


def _run_many(connection: sqlite3.Connection, sql: str, parameters: Iterable[Any]) -> _Outcome:
    cursor = connection.cursor()
    try:
        cursor.executemany(sql, parameters)
        return cursor.description, [], cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class StatementCursor:
    """The cursor `StatementConnection.cursor` gives: each ``execute`` one trip to the thread."""

    __slots__ = ("_connection", "_rows", "arraysize", "description", "lastrowid", "rowcount")

    def __init__(self, connection: "StatementConnection") -> None:
        self._connection = connection
        self._rows: list[Any] = []
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self.arraysize = 1

    async def __aenter__(self) -> "StatementCursor":
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def execute(self, sql: str, parameters: Any = None) -> "StatementCursor":
        """Run ``sql``; its rows wait here for the fetches."""
        self._take(await self._connection.on_thread(_run_one, sql, parameters))
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> "StatementCursor":
        """Run ``sql`` once per parameter set, in one trip."""
        self._take(await self._connection.on_thread(_run_many, sql, parameters))
        return self

    def _take(self, outcome: _Outcome) -> None:
        self.description, self._rows, self.rowcount, self.lastrowid = outcome

    async def fetchall(self) -> list[Any]:
        """The rows not fetched yet."""
        rows, self._rows = self._rows, []
        return rows

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        """The next ``size`` rows (``arraysize`` by default)."""
        count = self.arraysize if size is None else size
        rows, self._rows = self._rows[:count], self._rows[count:]
        return rows

    async def fetchone(self) -> Any:
        """The next row, or None (SQLAlchemy's streamed results read by `fetchmany`)."""
        rows = await self.fetchmany(1)
        return rows[0] if rows else None

    async def close(self) -> None:
        """Forget the rows (the sqlite3 cursor closed on the thread already)."""
        self._rows = []


class StatementConnection(aiosqlite.Connection):
    """aiosqlite's connection whose cursors run a statement in one trip to its thread."""

    def cursor(self) -> StatementCursor:  # type: ignore[override]
        """A cursor whose statements each take one trip (no trip to open it)."""
        return StatementCursor(self)

    async def commit(self) -> None:
        """Commit the transaction in progress; with none (a statement committed on its own),
        nothing to do and no trip."""
        if self._in_transaction():
            await super().commit()

    async def rollback(self) -> None:
        """Roll back the transaction in progress; with none (the pool's reset of a connection
        whose unit committed), nothing to do and no trip."""
        if self._in_transaction():
            await super().rollback()

    def _in_transaction(self) -> bool:
        # sqlite3 reads its own flag without the thread check: no trip, and the unit of work
        # that owns the connection has no statement in flight when it ends.
        return self._connection is not None and self._connection.in_transaction

    async def on_thread(self, work: Callable[..., _Outcome], sql: str, parameters: Any) -> _Outcome:
        """``work(sqlite3 connection, sql, parameters)`` on the connection's thread."""
        # aiosqlite's queue to its thread (SQLAlchemy's adapter uses it the same way).
        outcome: _Outcome = await self._execute(  # type: ignore[no-untyped-call]
            work, self._conn, sql, parameters
        )
        return outcome


def connect(*args: Any, **kwargs: Any) -> StatementConnection:
    """``aiosqlite.connect`` for `StatementConnection`: ``sqlite3.connect(*args, **kwargs)``
    on its thread once awaited."""

    def connector() -> sqlite3.Connection:
        opened: sqlite3.Connection = sqlite3.connect(*args, **kwargs)
        return opened

    connection = StatementConnection(connector, iter_chunk_size=64)
    # As SQLAlchemy does for aiosqlite's own: a connection never closed must not keep the
    # process alive.
    connection._thread.daemon = True
    return connection
