"""`EmbeddedValkey`: a private, real Valkey server that keeps its data across restarts."""

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from live.platform.embedded_valkey import EmbeddedValkey, EmbeddedValkeyError
from tests.support.polling import eventually_sync
from tests.support.processes import alive
from tests.support.units import UNIT_S


@pytest.fixture
def servers() -> Iterator[list[EmbeddedValkey]]:
    """Servers a test starts; any still running at the end is killed."""
    started: list[EmbeddedValkey] = []
    try:
        yield started
    finally:
        for server in started:
            server.kill()


def _start(servers: list[EmbeddedValkey], data_dir: Path, *, persistent: bool) -> EmbeddedValkey:
    server = EmbeddedValkey(data_dir, persistent=persistent)
    servers.append(server)
    server.start()
    return server


def _client(server: EmbeddedValkey) -> redis.Redis:
    return redis.Redis.from_url(server.url, socket_timeout=5 * UNIT_S)


def test_start_ping_stop(tmp_path: Path, servers: list[EmbeddedValkey]) -> None:
    """A started server answers PING on its URL; stop ends the process; stop is idempotent."""
    server = _start(servers, tmp_path / "valkey", persistent=False)
    pid = server.pid
    assert pid is not None
    assert server.url == f"redis://127.0.0.1:{server.port}/0"
    with _client(server) as client:
        assert client.ping()
    server.stop()
    assert server.pid is None
    assert not alive(pid)
    server.stop()


def test_server_runs_in_its_own_process_group(
    tmp_path: Path, servers: list[EmbeddedValkey]
) -> None:
    """Ctrl-C to the app's process group does not reach the server: it has its own group."""
    server = _start(servers, tmp_path / "valkey", persistent=False)
    assert server.pid is not None
    assert os.getpgid(server.pid) == server.pid
    assert os.getpgid(server.pid) != os.getpgrp()


def test_data_survives_a_restart(tmp_path: Path, servers: list[EmbeddedValkey]) -> None:
    """With persistence on, a key written before stop is there after a start on the same dir."""
    data_dir = tmp_path / "valkey"
    first = _start(servers, data_dir, persistent=True)
    with _client(first) as client:
        client.set("stock", "7")
    first.stop()

    second = _start(servers, data_dir, persistent=True)
    with _client(second) as client:
        assert client.get("stock") == b"7"


def test_kill_is_a_crash_the_append_only_file_survives(
    tmp_path: Path, servers: list[EmbeddedValkey]
) -> None:
    """kill() ends the server without its shutdown; written data still comes back on start."""
    data_dir = tmp_path / "valkey"
    first = _start(servers, data_dir, persistent=True)
    pid = first.pid
    assert pid is not None
    with _client(first) as client:
        client.set("crash-key", "kept")

    def written() -> bool:
        files = (data_dir / "appendonlydir").glob("*.aof")
        return any(b"crash-key" in path.read_bytes() for path in files)

    # Valkey appends to the file before it answers, but wait for it rather than rely on that.
    eventually_sync(written, timeout_s=5 * UNIT_S, what="the write is in the append-only file")
    first.kill()
    assert first.pid is None
    assert not alive(pid)
    assert "ready to exit" not in (data_dir / "valkey.log").read_text()

    second = _start(servers, data_dir, persistent=True)
    with _client(second) as client:
        assert client.get("crash-key") == b"kept"


def test_start_fails_clearly_when_the_port_is_taken(
    tmp_path: Path, servers: list[EmbeddedValkey]
) -> None:
    """A server that cannot bind raises EmbeddedValkeyError with its log, leaving nothing."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = EmbeddedValkey(tmp_path / "valkey", persistent=False, port=taken.getsockname()[1])
        servers.append(server)
        with pytest.raises(EmbeddedValkeyError, match="exited at start-up"):
            server.start()
    assert server.pid is None


@pytest.mark.parametrize("taken_port", ["port", "cluster_port"])
def test_a_port_taken_after_it_was_chosen_is_chosen_again(
    tmp_path: Path, servers: list[EmbeddedValkey], taken_port: str
) -> None:
    """Another process binds the port this server chose (client port or cluster bus port)
    before the server starts: it starts on fresh ports instead of failing (CI, 2026-12-07: an
    outgoing connection's ephemeral port landed on a cluster bus port)."""
    server = EmbeddedValkey(tmp_path / "valkey", persistent=False, cluster=True)
    servers.append(server)
    chosen = getattr(server, taken_port)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", chosen))
        taken.listen()
        server.start()
        assert getattr(server, taken_port) != chosen
        client = redis.Redis(port=server.port)
        try:
            assert client.ping()
        finally:
            client.close()
