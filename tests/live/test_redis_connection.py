"""The app's Redis connection: commands as usual, and a write to a Redis that stopped reading
still fails within ``socket_timeout`` (the bound redis-py's own writes have)."""

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import TimeoutError as RedisTimeoutError

from live.embedded_valkey import EmbeddedValkey
from live.redis_connection import TasklessWriteConnection


@pytest.fixture
def valkey(tmp_path: Path) -> Iterator[EmbeddedValkey]:
    server = EmbeddedValkey(tmp_path, persistent=False)
    server.start()
    try:
        yield server
    finally:
        if server.pid is not None:
            os.kill(server.pid, signal.SIGCONT)
        server.stop()


def _client(url: str, *, socket_timeout: float) -> Redis:
    pool = BlockingConnectionPool.from_url(
        url, socket_timeout=socket_timeout, connection_class=TasklessWriteConnection
    )
    return Redis.from_pool(pool)


async def test_commands_and_scripts_work(valkey: EmbeddedValkey) -> None:
    redis = _client(valkey.url, socket_timeout=5)
    try:
        script = redis.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
        assert await asyncio.gather(*(script(keys=["n"], args=[2]) for _ in range(50)))
        assert int(await redis.get("n") or 0) == 100
    finally:
        await redis.aclose()


async def test_a_write_to_a_stalled_redis_times_out(valkey: EmbeddedValkey) -> None:
    """SIGSTOP the server, then write more than the socket buffers hold: the write must end
    with redis-py's TimeoutError after about ``socket_timeout``, not wait forever."""
    redis = _client(valkey.url, socket_timeout=1)
    try:
        await redis.ping()
        assert valkey.pid is not None
        os.kill(valkey.pid, signal.SIGSTOP)
        started = time.monotonic()
        with pytest.raises(RedisTimeoutError):
            await asyncio.wait_for(redis.set("big", b"x" * (64 << 20)), timeout=30)
        assert time.monotonic() - started < 20
        os.kill(valkey.pid, signal.SIGCONT)
        # The timed-out connection was dropped; the next command gets a sound one.
        assert await redis.ping()
    finally:
        await redis.aclose()
