"""The app's Redis connection: commands as usual, and a write to a Redis that stopped reading
still fails within ``socket_timeout`` (the bound redis-py's own writes have)."""

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import BlockingConnectionPool, Connection, Redis
from redis.exceptions import DataError
from redis.exceptions import TimeoutError as RedisTimeoutError

from live.platform.embedded_valkey import EmbeddedValkey
from live.platform.redis_connection import TasklessWriteConnection
from tests.support.units import UNIT_S


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
    """Commands and scripts answer as usual on the taskless-write connection."""
    redis = _client(valkey.url, socket_timeout=5)
    try:
        script = redis.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
        replies = await asyncio.gather(*(script(keys=["n"], args=[2]) for _ in range(50)))
        assert sorted(replies) == list(range(2, 101, 2))
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
            await asyncio.wait_for(redis.set("big", b"x" * (64 << 20)), timeout=30 * UNIT_S)
        assert time.monotonic() - started < 20
        os.kill(valkey.pid, signal.SIGCONT)
        # The timed-out connection was dropped; the next commands get a sound one (a reply
        # left over on a reused connection would answer the wrong command).
        await redis.set("after", "sound")
        assert await redis.get("after") == b"sound"
    finally:
        await redis.aclose()


_ARGUMENTS: list[tuple[Any, ...]] = [
    ("SET", "key", "value"),
    ("SET", "clé", "café ☕", "EX", 10),
    ("CONFIG GET", "maxmemory"),
    (b"CLIENT SETNAME", b"node"),
    ("EVALSHA", "a" * 40, 2, "k1", "k2", 0, -7, 1.5, 2**53, b"\x00\xff", ""),
    ("SET", bytearray(b"k"), memoryview(b"v")),
]


@pytest.mark.parametrize("args", _ARGUMENTS)
def test_commands_are_packed_as_redis_py_packs_them(args: tuple[Any, ...]) -> None:
    """The C packing gives the protocol bytes redis-py's own asyncio packing gives."""
    ours = TasklessWriteConnection().pack_command(*args)
    theirs = Connection().pack_command(*args)
    assert b"".join(ours) == b"".join(bytes(piece) for piece in theirs)


@pytest.mark.parametrize("bad", [None, True, object()])
def test_arguments_redis_py_refuses_are_refused(bad: object) -> None:
    """None, bools and other objects raise redis-py's DataError, as they did before."""
    with pytest.raises(DataError):
        TasklessWriteConnection().pack_command("SET", "k", bad)  # type: ignore[arg-type]


def test_other_encodings_keep_redis_py_packing() -> None:
    """A connection configured for another text encoding packs text in that encoding."""
    connection = TasklessWriteConnection(encoding="latin-1")
    assert b"".join(connection.pack_command("SET", "k", "é")).endswith(b"$1\r\n\xe9\r\n")
