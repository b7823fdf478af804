"""The embedded record's statements each take one trip to aiosqlite's thread, and SQLAlchemy reads
from them what it read through aiosqlite's own cursor: rows, row counts, inserted row ids,
errors. Both engines run on real SQLite files, side by side."""

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from common.errors import ClientError
from live.db import sqlite_statements
from live.db.engine import create_engine, session_factory
from live.db.unit import autocommit, transaction

SCHEMA = "CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT UNIQUE, n INTEGER)"
#: Statements and what SQLAlchemy is asked to read from each.
STATEMENTS: list[tuple[str, Any]] = [
    ("INSERT INTO item (name, n) VALUES ('a', 1)", None),
    (
        "INSERT INTO item (name, n) VALUES (:name, :n)",
        [{"name": f"m{k}", "n": k} for k in range(5)],
    ),
    ("UPDATE item SET n = n + 10 WHERE n >= 2", None),
    ("UPDATE item SET n = 0 WHERE name = 'nobody'", None),
    ("DELETE FROM item WHERE n = 0", None),
    ("SELECT id, name, n FROM item ORDER BY id", None),
    ("SELECT count(*) FROM item WHERE n > :low", {"low": 10}),
    ("SELECT name FROM item WHERE 0", None),
]


@pytest.fixture
async def engines(tmp_path: Path) -> AsyncIterator[tuple[AsyncEngine, AsyncEngine]]:
    """The node's engine, and SQLAlchemy's plain aiosqlite engine, each on a file of its own."""
    ours = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'ours.db'}")
    plain = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'plain.db'}")
    try:
        for engine in (ours, plain):
            async with engine.begin() as connection:
                await connection.execute(text(SCHEMA))
        yield ours, plain
    finally:
        await ours.dispose()
        await plain.dispose()


async def _run(engine: AsyncEngine) -> list[tuple[Any, ...]]:
    seen: list[tuple[Any, ...]] = []
    async with engine.begin() as connection:
        for sql, parameters in STATEMENTS:
            result = await connection.execute(text(sql), parameters)
            rows = [tuple(row) for row in result.all()] if result.returns_rows else None
            inserted = result.lastrowid if sql.startswith("INSERT") and parameters is None else None
            seen.append((sql, result.rowcount, inserted, rows))
    return seen


async def test_statements_read_as_through_aiosqlite(
    engines: tuple[AsyncEngine, AsyncEngine],
) -> None:
    """Rows, row counts and the inserted row id are those of SQLAlchemy's own adapter."""
    ours, plain = engines
    expected = await _run(plain)
    assert await _run(ours) == expected
    # The reads are real, not defaults: the UPDATE's count, the DELETE's, the rows.
    assert [entry[1] for entry in expected[2:5]] == [3, 0, 1]
    assert expected[0][2] == 1
    assert expected[5][3] == [
        (1, "a", 1),
        (3, "m1", 1),
        (4, "m2", 12),
        (5, "m3", 13),
        (6, "m4", 14),
    ]
    assert expected[6][3] == [(3,)]
    assert expected[7][3] == []


class _CountedQueue:
    """aiosqlite's queue to its thread, counting what is put on it (every trip goes by it)."""

    def __init__(self, queue: Any, counter: list[int]) -> None:
        self._queue, self._counter = queue, counter

    def put_nowait(self, item: Any) -> None:
        self._counter[0] += 1
        self._queue.put_nowait(item)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._queue, name)


def _counting(engine: AsyncEngine) -> Callable[[], int]:
    """How many trips the engine's connections have made to their thread."""
    counter = [0]

    @event.listens_for(engine.sync_engine, "checkout")
    def _count(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        driver = dbapi_connection.driver_connection
        if not isinstance(driver._tx, _CountedQueue):
            driver._tx = _CountedQueue(driver._tx, counter)

    return lambda: counter[0]


async def test_a_statement_takes_one_trip(engines: tuple[AsyncEngine, AsyncEngine]) -> None:
    """A SELECT with rows costs one trip to the thread here; four through aiosqlite's cursor
    (open, execute, fetch, close)."""
    counts = []
    for engine in engines:
        trips = _counting(engine)
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))  # the checkout's own work done
            before = trips()
            rows = (await connection.execute(text("SELECT 1, 2 UNION SELECT 3, 4"))).all()
            counts.append(trips() - before)
        assert [tuple(row) for row in rows] == [(1, 2), (3, 4)]
    assert counts == [1, 4]


async def _insert_new_then_duplicate(engine: AsyncEngine) -> None:
    async with autocommit(engine) as connection:
        await connection.execute(text("INSERT INTO item (name, n) VALUES ('u', 1)"))
        await connection.execute(text("INSERT INTO item (name, n) VALUES ('t', 9)"))


async def test_units_of_work_take_their_statements_trips(
    engines: tuple[AsyncEngine, AsyncEngine],
) -> None:
    """A transaction of one statement is three trips (BEGIN IMMEDIATE, the statement, COMMIT:
    the pool's reset finds nothing to roll back); a statement in autocommit is one, and is
    committed (another connection reads it); a failed one leaves nothing."""
    ours, _ = engines
    trips = _counting(ours)
    async with ours.connect() as connection:
        await connection.execute(text("SELECT 1"))  # the connection is open and counted
    factory = session_factory(ours)
    before = trips()
    async with transaction(factory) as db:
        await db.execute(text("INSERT INTO item (name, n) VALUES ('t', 1)"))
    assert trips() - before == 3
    before = trips()
    async with autocommit(ours) as connection:
        await connection.execute(text("UPDATE item SET n = 2 WHERE name = 't'"))
    assert trips() - before == 1
    with pytest.raises(ClientError):
        await _insert_new_then_duplicate(ours)
    async with ours.connect() as connection:
        rows = (await connection.execute(text("SELECT name, n FROM item ORDER BY id"))).all()
    # Each statement committed on its own: the first insert stays, the duplicate is refused.
    assert [tuple(row) for row in rows] == [("t", 2), ("u", 1)]


async def test_streamed_results_read_as_through_aiosqlite(
    engines: tuple[AsyncEngine, AsyncEngine],
) -> None:
    """A server-side cursor (``stream``) fetches one row, then a few, then the rest: the same
    rows in the same order as through aiosqlite's own cursor."""
    seen = []
    for engine in engines:
        async with engine.begin() as connection:
            await connection.execute(
                text("INSERT INTO item (name, n) VALUES (:name, :n)"),
                [{"name": f"s{k}", "n": k} for k in range(7)],
            )
            result = await connection.stream(text("SELECT name, n FROM item ORDER BY n"))
            first = await result.fetchone()
            some = await result.fetchmany(2)
            rest = await result.all()
        seen.append((tuple(first or ()), [tuple(r) for r in some], [tuple(r) for r in rest]))
    assert seen[0] == seen[1]
    assert seen[0] == (("s0", 0), [("s1", 1), ("s2", 2)], [(f"s{k}", k) for k in range(3, 7)])


async def test_errors_are_sqlite_errors(engines: tuple[AsyncEngine, AsyncEngine]) -> None:
    """A constraint and a bad statement fail as they do through aiosqlite; the connection
    goes on serving."""
    ours, _ = engines
    async with ours.begin() as connection:
        await connection.execute(text("INSERT INTO item (name, n) VALUES ('x', 1)"))
    with pytest.raises(IntegrityError):
        async with ours.begin() as connection:
            await connection.execute(text("INSERT INTO item (name, n) VALUES ('x', 2)"))
    with pytest.raises(OperationalError, match="no such table"):
        async with ours.begin() as connection:
            await connection.execute(text("SELECT * FROM missing_table"))
    async with ours.connect() as connection:
        rows = (await connection.execute(text("SELECT name, n FROM item"))).all()
    assert [tuple(row) for row in rows] == [("x", 1)]


async def test_connections_are_the_one_trip_kind(engines: tuple[AsyncEngine, AsyncEngine]) -> None:
    """The node's SQLite engine opens `StatementConnection`s, with the URL's file."""
    ours, _ = engines
    async with ours.connect() as connection:
        raw = await connection.get_raw_connection()
        assert isinstance(raw.driver_connection, sqlite_statements.StatementConnection)
        (database,) = (await connection.execute(text("PRAGMA database_list"))).all()[:1]
        assert database[2].endswith("ours.db")
