"""The servers a flash-sale benchmark runs against, as child processes on loopback: ``live
serve`` (embedded SQLite or its record on PostgreSQL, one process or several workers) and the
naive row-lock shop; a sale opened on ``live serve``, and what its record says was sold.
"""

import asyncio
import contextlib
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from live.auth import tokens
from live.platform.embedded_valkey import EmbeddedValkey
from loadtests import live_node, server_processes
from loadtests.ports import free_port

SECRET = secrets.token_urlsafe(32)
PAYMENT_SECRET = secrets.token_urlsafe(32)
BRAND = "bench"


@dataclass(frozen=True)
class Server:
    """A server under test: its port and its processes (supervisor first)."""

    port: int
    pids: list[int]
    http: aiohttp.ClientSession

    def cpu_s(self) -> list[float]:
        """CPU seconds each process has used so far."""
        return [server_processes.cpu_s(pid) for pid in self.pids]


def viewer_token(n: int) -> str:
    """The token of benchmark viewer ``n`` (one per attempt)."""
    return tokens.mint(SECRET, sub=f"v{n}", role="viewer", brand=BRAND)


@contextlib.contextmanager
def _child(command: list[str], env: dict[str, str]) -> Iterator[int]:
    """A server child process (its pid), terminated (and waited for) when the block ends."""
    server = subprocess.Popen(  # noqa: S603 - our own programs, started once
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        yield server.pid
    finally:
        server.terminate()
        server.wait(timeout=30)


@contextlib.contextmanager
def _shared_valkey(data_dir: str, workers: int) -> Iterator[dict[str, str]]:
    """With several workers, a Valkey started here, configured as the embedded one (append-only
    file, fsync every second), and the settings that point the workers at it; else nothing."""
    if workers == 1:
        yield {}
        return
    valkey = EmbeddedValkey(Path(data_dir) / "valkey", persistent=True)
    valkey.start()
    try:
        # Text lines, as the embedded mode logs by default: the same cost per access line.
        yield {"LIVE_REDIS_URL": valkey.url, "LIVE_LOG_FORMAT": "text"}
    finally:
        valkey.stop()


async def _wait_healthy(http: aiohttp.ClientSession, deadline_s: float = 30) -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            async with http.get("/healthz") as answer:
                if answer.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.2)
    raise RuntimeError("server did not become healthy")


async def _server_pids(port: int, pid: int, workers: int) -> list[int]:
    """The server's processes: ``pid``, then (with several workers, once every one of them
    answers) its children: the workers and the supervisor's multiprocessing helper."""
    if workers == 1:
        return [pid]
    await server_processes.wait_workers(port, pid, workers)
    return [pid, *server_processes.children(pid)]


@contextlib.asynccontextmanager
async def live_serve(database_url: str | None, workers: int) -> AsyncIterator[Server]:
    """``live serve``: embedded SQLite by default, or its record on PostgreSQL at
    ``database_url`` (schema applied with ``live db upgrade`` first); Redis is a private Valkey
    either way (the embedded one with one worker)."""
    port = free_port()
    with tempfile.TemporaryDirectory() as data_dir, _shared_valkey(data_dir, workers) as shared:
        env = {
            **os.environ,
            "LIVE_DATA_DIR": data_dir,
            "LIVE_SECRET": SECRET,
            "LIVE_PAYMENT_SECRET": PAYMENT_SECRET,
            # Every simulated viewer comes from 127.0.0.1: lift the per-address socket cap.
            "LIVE_MAX_SOCKETS_PER_IP": "1000000",
        }
        for name in ("LIVE_DATABASE_URL", "LIVE_REDIS_URL", "LIVE_ARCHIVE_URL", "LIVE_WORKERS"):
            env.pop(name, None)
        env.update(shared)
        if database_url:
            env["LIVE_DATABASE_URL"] = database_url
            live_node.upgrade(env, database_url)
        command = live_node.serve_command(port)
        if workers > 1:
            command += ["--workers", str(workers)]
        with _child(command, env) as pid:
            async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{port}") as http:
                await _wait_healthy(http)
                yield Server(port, await _server_pids(port, pid, workers), http)


@contextlib.asynccontextmanager
async def naive_shop(dsn: str, units: int, workers: int) -> AsyncIterator[Server]:
    """The naive design behind the same HTTP stack (``loadtests/naive_shop.py``)."""
    port = free_port()
    command = [sys.executable, "-m", "loadtests.naive_shop", "--port", str(port)]
    command += ["--dsn", dsn, "--secret", SECRET, "--units", str(units)]
    if workers > 1:
        command += ["--workers", str(workers)]
    with _child(command, dict(os.environ)) as pid:
        async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{port}") as http:
            await _wait_healthy(http)
            yield Server(port, await _server_pids(port, pid, workers), http)


def _host() -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens.mint(SECRET, sub='h', role='host', brand=BRAND)}"}


async def open_sale(http: aiohttp.ClientSession, units: int) -> tuple[str, str]:
    """A live session with one product of ``units`` units, one per viewer."""
    async with http.post("/api/sessions", json={"title": "bench"}, headers=_host()) as answer:
        session_id = str((await answer.json())["id"])
    body = {"sku": "B", "title": "b", "price_cents": 100, "stock": units, "limit_per_viewer": 1}
    async with http.post(
        f"/api/sessions/{session_id}/products", json=body, headers=_host()
    ) as answer:
        product_id = str((await answer.json())["product_id"])
    async with http.post(f"/api/sessions/{session_id}/start", headers=_host()) as answer:
        assert answer.status == 200
    return session_id, product_id


async def sold(http: aiohttp.ClientSession, session_id: str) -> int:
    """Orders the record holds for the session (one unit each here): the judge of
    overselling."""
    async with http.get(f"/api/sessions/{session_id}/stats", headers=_host()) as answer:
        stats = await answer.json()
    return int(stats["orders"])
