"""Engines of the replay tests: a real local S3 server (moto) beside the suite's Redis.

One `moto_server` process serves the whole run; every test gets its own bucket. Credentials for
it are plain environment variables, set for the run and restored afterwards, which is how the
store finds credentials in production too.
"""

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aioboto3
import pytest
import redis.asyncio as aioredis

from replay.archiver import Archiver
from replay.keys import ARCHIVE_SESSIONS
from replay.local_store import LocalArchiveStore
from replay.s3_store import S3ArchiveStore
from replay.store import ArchiveStore
from tests.replay.session_streams import SessionStreams, counter_keys, stream_keys
from tests.support.ports import free_port
from tests.support.s3 import S3Server
from tests.support.tcp_gate import TcpGate


@pytest.fixture
async def s3_bucket(s3_server: S3Server, unique_id: str) -> str:
    """A fresh, empty bucket on the S3 server."""
    name = f"replay-{unique_id}"
    async with aioboto3.Session().client("s3", endpoint_url=s3_server.endpoint_url) as client:
        await client.create_bucket(Bucket=name)
    return name


@pytest.fixture
async def s3_store(s3_server: S3Server, s3_bucket: str) -> AsyncIterator[S3ArchiveStore]:
    """An S3 store under a prefix of a fresh bucket, closed after the test."""
    store = S3ArchiveStore(s3_bucket, "archive", endpoint_url=s3_server.endpoint_url)
    try:
        yield store
    finally:
        await store.aclose()


@pytest.fixture
async def s3_gate(s3_server: S3Server) -> AsyncIterator[TcpGate]:
    """An open gate in front of the S3 server; closing it stages an outage."""
    gate = TcpGate(s3_server.host, s3_server.port, free_port())
    await gate.open()
    try:
        yield gate
    finally:
        await gate.close()


@pytest.fixture
async def gated_store(s3_gate: TcpGate, s3_bucket: str) -> AsyncIterator[S3ArchiveStore]:
    """The `s3_store` objects, reached through `s3_gate`, failing fast while it is closed."""
    store = S3ArchiveStore(
        s3_bucket,
        "archive",
        endpoint_url=f"http://127.0.0.1:{s3_gate.port}",
        max_attempts=1,
        connect_timeout_s=1,
        read_timeout_s=2,
    )
    try:
        yield store
    finally:
        await store.aclose()


@pytest.fixture
def local_store(tmp_path: Path) -> LocalArchiveStore:
    """A local store in a fresh directory."""
    return LocalArchiveStore(tmp_path / "archive")


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest) -> ArchiveStore:
    """Each archive store implementation in turn."""
    implementation: ArchiveStore = request.getfixturevalue(f"{request.param}_store")
    return implementation


@pytest.fixture
async def streams(redis: aioredis.Redis, unique_id: str) -> AsyncIterator[SessionStreams]:
    """A fresh session's streams, written the way the app does; untracked after the test."""
    session = SessionStreams(redis, f"s{unique_id}")
    try:
        yield session
    finally:
        await redis.srem(ARCHIVE_SESSIONS, session.session_id)


# Small segments, no waiting for them to age, fast polls and retries: tests see every branch.
ARCHIVER_DEFAULTS: dict[str, Any] = {
    "streams_for": stream_keys,
    "counters_for": counter_keys,
    "node_id": "node-a",
    "segment_events": 5,
    "segment_ms": 0,
    "poll_ms": 10,
    "lease_ms": 10_000,
    "retry_initial_s": 0.01,
    "retry_max_s": 0.05,
}


@pytest.fixture
def make_archiver(redis: aioredis.Redis) -> Callable[..., Archiver]:
    """Builds archivers on the test Redis; keyword arguments override `ARCHIVER_DEFAULTS`."""

    def make(store: ArchiveStore, **options: Any) -> Archiver:
        settings = {**ARCHIVER_DEFAULTS, **options}
        return Archiver(redis, store, **settings)

    return make
