"""Starting `live serve` for a benchmark: its environment, its core, and waiting until it answers.

The fan-out and room benchmarks both run nodes the way an operator would (the `live` command,
settings from `LIVE_*` variables), pinned to a core of their own so that the load generator's
work never counts as theirs. Loopback only; the caller stops what it starts (`stop`).
"""

import contextlib
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping
from pathlib import Path

import asyncpg
import httpx

SECRET = "bench-secret-0123456789abcdef0123456789"  # noqa: S105 - a loopback benchmark's key
LIVE = str(Path(sys.executable).parent / "live")


def pinned(core: int, command: list[str]) -> list[str]:
    """``command`` run on one core (``taskset``; unpinned where it is missing)."""
    taskset = shutil.which("taskset")
    return [taskset, "-c", str(core), *command] if taskset else command


def pin_pid(core: int, pid: int) -> None:
    """Move a running process to one core (Valkey beside the load generator)."""
    taskset = shutil.which("taskset")
    if taskset:
        subprocess.run([taskset, "-pc", str(core), str(pid)], check=True, capture_output=True)  # noqa: S603


def node_env(data: Path, redis_url: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without its `LIVE_*` settings, plus a benchmark node's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVE_")}
    env |= {
        "LIVE_DATA_DIR": str(data),
        "LIVE_REDIS_URL": redis_url,
        "LIVE_SECRET": SECRET,
        "LIVE_PAYMENT_SECRET": SECRET,
        # Every simulated viewer comes from 127.0.0.1: lift the per-address socket cap.
        "LIVE_MAX_SOCKETS_PER_IP": "1000000",
    }
    return env | dict(extra or {})


def server_env_options(settings: Iterable[str]) -> dict[str, str]:
    """``--server-env LIVE_NAME=value`` options as a mapping (anything else is refused)."""
    options = {}
    for setting in settings:
        name, _, value = setting.partition("=")
        if not name.startswith("LIVE_"):
            raise SystemExit(f"--server-env takes LIVE_NAME=value, not {setting!r}")
        options[name] = value
    return options


def serve_command(port: int) -> list[str]:
    """`live serve` on ``port``."""
    return [LIVE, "serve", "--port", str(port)]


def wait_healthy(ports: Iterable[int], deadline_s: float = 60) -> None:
    """Return once every node answers ``GET /healthz`` with 200."""
    end = time.monotonic() + deadline_s
    for port in ports:
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > end:
                raise RuntimeError(f"live serve on port {port} did not become healthy")
            time.sleep(0.2)


def stop(processes: Iterable[subprocess.Popen[bytes]]) -> None:
    """Terminate, then kill what has not exited within 20 s."""
    processes = list(processes)
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def create_scratch_database(dsn: str) -> tuple[str, str]:
    """A new empty database on the PostgreSQL server of ``dsn``: its name and its app URL."""
    name = f"live_bench_{uuid.uuid4().hex[:8]}"  # ours, never input: safe to format in
    admin = await asyncpg.connect(dsn)
    try:
        await admin.execute(f"CREATE DATABASE {name}")
    finally:
        await admin.close()
    base = dsn.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return name, f"{base}/{name}"


async def drop_scratch_database(dsn: str, name: str) -> None:
    """Drop a database `create_scratch_database` made, whoever is still connected to it."""
    admin = await asyncpg.connect(dsn)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await admin.close()


@contextlib.asynccontextmanager
async def scratch_database(dsn: str) -> AsyncIterator[str]:
    """A scratch database's app URL for the duration of the block; dropped after."""
    name, url = await create_scratch_database(dsn)
    try:
        yield url
    finally:
        await drop_scratch_database(dsn, name)


def upgrade(env: Mapping[str, str], database_url: str) -> None:
    """Apply the schema to ``database_url`` with `live db upgrade`, as an operator would."""
    done = subprocess.run(  # noqa: S603 - fixed command
        [LIVE, "db", "upgrade"],
        env={**env, "LIVE_DATABASE_URL": database_url},
        capture_output=True,
        check=False,
        timeout=120,
    )
    if done.returncode != 0:
        raise RuntimeError(f"live db upgrade failed: {done.stderr.decode()[-1000:]}")
