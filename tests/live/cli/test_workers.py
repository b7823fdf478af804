"""`live serve --workers 2` as a user runs it: a real supervisor, real workers, real signals.

Which worker holds a connection is read from the kernel, not from the server
(`loadtests.server_processes.owner`): the server side of a loopback connection is the socket in
``/proc/net/tcp`` whose remote port is the client's local port, and the worker holding it is the
one with that socket among its file descriptors.
"""

import asyncio
import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import httpx
import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from live.auth import tokens
from loadtests import server_processes
from tests.live.cli.command import LIVE, live_env, run_live
from tests.support.polling import eventually, eventually_sync
from tests.support.ports import free_port
from tests.support.processes import alive, children
from tests.support.servers import PAYMENT_SECRET, SECRET
from tests.support.units import UNIT_S

Opened = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class Workers:
    """A ``live serve --workers 2`` supervisor on a free port, and its worker processes."""

    def __init__(self, process: "subprocess.Popen[bytes]", port: int, log: Path) -> None:
        self.process = process
        self.port = port
        self.log = log
        self.brand = f"brand-{uuid.uuid4().hex[:8]}"

    def pids(self) -> set[int]:
        """The worker processes (the supervisor's spawned children; not its resource tracker)."""
        return {
            pid
            for pid in children(self.process.pid)
            if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
        }

    def healthy(self) -> bool:
        """True when GET /healthz answers 200; fails at once if the supervisor has exited."""
        if self.process.poll() is not None:
            raise AssertionError(f"live serve exited {self.process.returncode}: {self.output()}")
        try:
            answer = httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=UNIT_S)
        except httpx.TransportError:
            return False
        return answer.status_code == 200

    def output(self) -> str:
        """Everything the supervisor and its workers wrote so far."""
        return self.log.read_text(errors="replace")

    def token(self, role: str, sub: str) -> str:
        """A token the workers accept."""
        return tokens.mint(SECRET, sub=sub, role=role, brand=self.brand)

    def owner(self, client_port: int) -> int | None:
        """The worker holding the server side of the client's connection from ``client_port``."""
        return server_processes.owner(self.port, client_port, sorted(self.pids()))


@pytest.fixture
def workers(tmp_path: Path, database_url: str, redis_url: str) -> Iterator[Workers]:
    """``live serve --workers 2`` on the suite's Redis and database, healthy with 2 workers."""
    port = free_port()
    log = tmp_path / "serve.log"
    env = live_env(
        tmp_path / "data",
        LIVE_REDIS_URL=redis_url,
        LIVE_DATABASE_URL=database_url,
        LIVE_SECRET=SECRET,
        LIVE_PAYMENT_SECRET=PAYMENT_SECRET,
        LIVE_SHUTDOWN_DRAIN_S="2",
    )
    with log.open("wb") as sink:
        process = subprocess.Popen(  # noqa: S603 - our own console script
            [str(LIVE), "serve", "--port", str(port), "--workers", "2"],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            process_group=0,
        )
    served = Workers(process, port, log)
    pids: set[int] = set()
    try:
        eventually_sync(served.healthy, timeout_s=30 * UNIT_S, what="GET /healthz answers 200")
        pids = served.pids()
        assert len(pids) == 2, served.output()
        yield served
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        for pid in pids:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


async def _get(port: int, path: str) -> Opened:
    """A connection on which GET ``path`` was answered 200 (kept open)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: test\r\n\r\n".encode())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5 * UNIT_S)
    assert head.startswith(b"HTTP/1.1 200"), head
    return reader, writer


async def _owned(served: Workers, client_port: int) -> int:
    """The worker that accepted the connection from ``client_port`` (once it has)."""

    async def accepted() -> bool:
        return served.owner(client_port) is not None

    await eventually(accepted, timeout_s=5 * UNIT_S, what=f"a worker to accept :{client_port}")
    pid = served.owner(client_port)
    assert pid is not None  # a connection, once accepted, stays with its worker
    return pid


async def _connection_to(served: Workers, worker: int) -> Opened:
    """A new connection that the kernel handed to ``worker`` (others are closed)."""
    async with asyncio.timeout(20 * UNIT_S):
        while True:
            reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
            if await _owned(served, writer.get_extra_info("sockname")[1]) == worker:
                return reader, writer
            writer.close()
            await writer.wait_closed()


async def _post(opened: Opened, path: str, token: str, body: dict[str, object]) -> bytes:
    """POST ``body`` on an open connection; the answer's status line."""
    reader, writer = opened
    payload = orjson.dumps(body)
    writer.write(
        f"POST {path} HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n".encode()
        + payload
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5 * UNIT_S)
    return head.split(b"\r\n", 1)[0]


async def test_two_workers_answer_on_one_port(workers: Workers) -> None:
    """Connections to the one port are answered by both worker processes."""
    answered_by: set[int] = set()
    held: list[Opened] = []
    try:
        async with asyncio.timeout(20 * UNIT_S):
            while answered_by != workers.pids():
                reader, writer = await _get(workers.port, "/healthz")
                held.append((reader, writer))
                answered_by.add(await _owned(workers, writer.get_extra_info("sockname")[1]))
    finally:
        for _, writer in held:
            writer.close()
    assert len(answered_by) == 2


async def test_pin_through_one_worker_reaches_a_room_on_the_other(workers: Workers) -> None:
    """A viewer on worker A sees a pin sent through worker B; SIGTERM drains both, exit 0."""
    host = workers.token("host", "host-1")
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{workers.port}",
        headers={"Authorization": f"Bearer {host}"},
        timeout=10 * UNIT_S,
    ) as client:
        session_id = (await client.post("/api/sessions", json={"title": "t"})).json()["id"]
        product = await client.post(
            f"/api/sessions/{session_id}/products",
            json={"sku": "S", "title": "coat", "price_cents": 100, "stock": 5},
        )
        assert product.status_code == 201, product.text
        started = await client.post(f"/api/sessions/{session_id}/start")
        assert started.status_code == 200, started.text
    url = f"ws://127.0.0.1:{workers.port}/ws/sessions/{session_id}?token="
    room = await connect(url + workers.token("viewer", "v1"), max_size=None, compression=None)
    try:
        assert orjson.loads(await room.recv())["type"] == "snapshot"
        viewer_worker = await _owned(workers, room.local_address[1])
        (other,) = workers.pids() - {viewer_worker}
        opened = await _connection_to(workers, other)
        status = await _post(
            opened,
            f"/api/sessions/{session_id}/pin",
            host,
            {"product_id": product.json()["product_id"]},
        )
        opened[1].close()
        assert status.startswith(b"HTTP/1.1 200"), status

        async def pin() -> dict[str, object]:
            while True:
                raw = orjson.loads(await room.recv())
                for frame in raw if isinstance(raw, list) else [raw]:
                    if frame.get("type") == "pin":
                        return dict(frame)

        frame = await asyncio.wait_for(pin(), 5 * UNIT_S)
        assert frame["product_id"] == product.json()["product_id"]
        pids = workers.pids()
        workers.process.send_signal(signal.SIGTERM)
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(pin(), 10 * UNIT_S)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4101
    finally:
        await room.close()
    assert await asyncio.to_thread(workers.process.wait, 15 * UNIT_S) == 0, workers.output()
    assert not [pid for pid in pids if alive(pid)]
    assert "Traceback" not in workers.output(), workers.output()


def test_ctrl_c_stops_every_worker(workers: Workers) -> None:
    """Ctrl-C (SIGINT to the whole process group, as a terminal sends it) exits 0, no orphan."""
    pids = workers.pids()
    os.killpg(workers.process.pid, signal.SIGINT)
    assert workers.process.wait(timeout=15 * UNIT_S) == 0, workers.output()
    eventually_sync(
        lambda: not any(alive(pid) for pid in pids),
        timeout_s=5 * UNIT_S,
        what="workers exit",
    )
    assert "Traceback" not in workers.output(), workers.output()


def test_workers_die_with_a_killed_supervisor(workers: Workers) -> None:
    """A supervisor killed with SIGKILL leaves no worker holding the port."""
    pids = workers.pids()
    workers.process.kill()
    workers.process.wait()
    eventually_sync(
        lambda: not any(alive(pid) for pid in pids),
        timeout_s=15 * UNIT_S,
        what="workers exit",
    )


def test_a_worker_that_dies_stops_the_others(workers: Workers) -> None:
    """A worker killed from outside ends the supervisor with 1 and takes the other along."""
    first, second = workers.pids()
    os.kill(first, signal.SIGKILL)
    assert workers.process.wait(timeout=30 * UNIT_S) == 1
    eventually_sync(lambda: not alive(second), timeout_s=5 * UNIT_S, what="the other worker exits")
    assert f"worker {first} exited" in workers.output()


@pytest.mark.parametrize(
    ("value", "reason"),
    [("0", "must be at least 1"), ("-2", "must be at least 1"), ("two", "is not an integer")],
)
def test_bad_worker_counts_are_refused(tmp_path: Path, value: str, reason: str) -> None:
    """--workers and LIVE_WORKERS refuse 0, negative and non-integer counts in one line."""
    flag = run_live(live_env(tmp_path / "data"), "serve", f"--workers={value}")
    assert flag.returncode == 2
    assert f"argument --workers: '{value}' {reason}" in flag.stderr
    env = run_live(live_env(tmp_path / "data", LIVE_WORKERS=value), "serve")
    assert env.returncode == 2
    assert env.stderr == f"live: error: LIVE_WORKERS='{value}' {reason}\n"


@pytest.mark.parametrize(
    ("args", "settings"),
    [(["--workers", "2"], {}), ([], {"LIVE_WORKERS": "2"})],
    ids=["flag", "env"],
)
def test_embedded_mode_refuses_several_workers(
    tmp_path: Path, args: list[str], settings: dict[str, str]
) -> None:
    """Without LIVE_REDIS_URL, 2 workers are refused in one line saying what to set."""
    done = run_live(live_env(tmp_path / "data", **settings), "serve", *args)
    assert done.returncode == 2
    assert done.stderr == (
        "live: error: --workers 2 needs shared engines: set LIVE_REDIS_URL (and, for write "
        "throughput, LIVE_DATABASE_URL=postgresql+asyncpg://...)\n"
    )
    assert not (tmp_path / "data" / "valkey").exists()
