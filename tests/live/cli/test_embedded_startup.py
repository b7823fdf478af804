"""Starting the embedded server as a person does, in real processes: one server per data
folder, a taken port named in one line, Ctrl-C at any moment of start-up exits 0 quietly,
and the printed token hint works as printed."""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx
import pytest

from tests.support.ports import free_port
from tests.support.units import UNIT_S

ROOT = Path(__file__).resolve().parents[3]
LIVE = Path(sys.executable).with_name("live")
HINT = re.compile(r"^live: mint a token with: (.+)$", re.MULTILINE)


def _env(data_dir: Path, **settings: str) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("LIVE_")}
    return {**env, "LIVE_DATA_DIR": str(data_dir), **settings}


@contextmanager
def _serving(
    data_dir: Path, port: int, *, cwd: Path | None = None, **settings: str
) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(  # noqa: S603 - our own console script
        [str(LIVE), "serve", "--port", str(port)],
        env=_env(data_dir, **settings),
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            with suppress(subprocess.TimeoutExpired):
                process.wait(timeout=30 * UNIT_S)
        if process.poll() is None:
            process.kill()
            process.wait()


def _ready(port: int) -> bool:
    with suppress(httpx.HTTPError):
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
    return False


def _wait_ready(port: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60 * UNIT_S
    while not _ready(port):
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        assert time.monotonic() < deadline, "the server did not become ready"
        time.sleep(0.1)  # polling a starting process, which offers nothing to wait on


def _valkeys_of(data_dir: Path) -> list[int]:
    """Processes whose command line names the data folder (the embedded Valkey's config)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with suppress(OSError):
                if str(data_dir) in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(entry.name))
    return found


def test_a_second_server_on_the_same_data_folder_is_refused_at_once(tmp_path: Path) -> None:
    """While one embedded server runs, a second on the same folder exits 2 with one line
    saying so, before it starts a Valkey or touches the database; the first keeps serving."""
    data_dir = tmp_path / "data"
    first_port, second_port = free_port(), free_port()
    with _serving(data_dir, first_port) as first:
        _wait_ready(first_port, first)
        valkeys = _valkeys_of(data_dir)
        started = time.monotonic()
        second = subprocess.run(  # noqa: S603
            [str(LIVE), "serve", "--port", str(second_port)],
            env=_env(data_dir),
            capture_output=True,
            text=True,
            timeout=30 * UNIT_S,
            check=False,
        )
        took_s = time.monotonic() - started
        assert _ready(first_port)
        assert _valkeys_of(data_dir) == valkeys
    assert second.returncode == 2
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1, second.stderr
    assert "already running" in lines[0]
    assert str(data_dir) in lines[0]
    assert took_s < 5 * UNIT_S


def test_a_port_in_use_is_named_in_one_line(tmp_path: Path) -> None:
    """A port something else listens on: one line naming the port and --port, exit 2."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        answer = subprocess.run(  # noqa: S603
            [str(LIVE), "serve", "--port", str(port)],
            env=_env(tmp_path / "data"),
            capture_output=True,
            text=True,
            timeout=30 * UNIT_S,
            check=False,
        )
    assert answer.returncode == 2
    assert answer.stderr.count("\n") == 1, answer.stderr
    assert f"port {port}" in answer.stderr
    assert "--port" in answer.stderr
    assert _valkeys_of(tmp_path / "data") == []


def _importing_ours(pid: int) -> bool:
    """Whether the process is importing the command's modules: orjson, loaded by them, is
    mapped. (Before that the interpreter loads itself, which no code of ours can guard.)"""
    with suppress(OSError):
        return "orjson" in Path(f"/proc/{pid}/maps").read_text()
    return False


@pytest.mark.parametrize("after_s", [0.0, 0.4, 0.9, 1.5, 2.5, 4.0])
def test_ctrl_c_at_any_moment_of_start_up_exits_0_quietly(tmp_path: Path, after_s: float) -> None:
    """SIGINT while importing, starting Valkey, migrating or serving (``after_s`` past the
    moment the command's own modules start importing): exit status 0, no traceback, and no
    Valkey left behind."""
    data_dir = tmp_path / "data"
    with _serving(data_dir, free_port()) as process:
        deadline = time.monotonic() + 30 * UNIT_S
        while not _importing_ours(process.pid) and time.monotonic() < deadline:
            time.sleep(0.002)  # polling the child's memory map: nothing to wait on
        time.sleep(after_s)  # the moment of the interruption is the test's input
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30 * UNIT_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"no exit within 30 s of Ctrl-C at {after_s} s")
        stderr = process.stderr.read() if process.stderr else ""
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr, stderr
    deadline = time.monotonic() + 10 * UNIT_S
    while _valkeys_of(data_dir) and time.monotonic() < deadline:
        time.sleep(0.1)  # the Valkey child exits on its own parent's death
    assert _valkeys_of(data_dir) == []


def test_the_listen_backlog_is_the_setting(tmp_path: Path) -> None:
    """``LIVE_LISTEN_BACKLOG`` is the accept queue the kernel keeps for the node's port (what
    ``ss`` shows as a listening socket's Send-Q): a reconnect storm's connects wait there
    rather than being dropped."""
    ss = shutil.which("ss")
    if ss is None:
        pytest.skip("iproute2's ss is not installed: nothing here reads a socket's backlog")
    port = free_port()
    with _serving(tmp_path / "data", port, LIVE_LISTEN_BACKLOG="1234") as process:
        _wait_ready(port, process)
        listening = subprocess.run(  # noqa: S603 - iproute2's ss, fixed arguments
            [ss, "-ltnH", f"sport = :{port}"], capture_output=True, text=True, check=True
        ).stdout.split()
    assert listening[:3] == ["LISTEN", "0", "1234"], listening


def test_the_start_up_hint_works_as_printed(tmp_path: Path) -> None:
    """Started as the README says (``.venv/bin/live`` from the repository), the hint's command,
    pasted into a shell there, prints a token this server accepts."""
    data_dir = tmp_path / "data"
    port = free_port()
    relative = os.path.relpath(LIVE, ROOT)
    process = subprocess.Popen(  # noqa: S603
        [relative, "serve", "--port", str(port)],
        env=_env(data_dir),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        hint = None
        for line in process.stderr:
            if found := HINT.match(line.rstrip("\n")):
                hint = found.group(1)
                break
        assert hint is not None
        _wait_ready(port, process)
        env = {k: v for k, v in os.environ.items() if not k.startswith("LIVE_")}
        minted = subprocess.run(  # noqa: S603 - the printed command, as a person pastes it
            ["/bin/sh", "-c", hint], cwd=ROOT, env=env, capture_output=True, text=True, check=False
        )
        assert minted.returncode == 0, minted.stderr
        answer = httpx.get(
            f"http://127.0.0.1:{port}/api/sessions",
            headers={"Authorization": f"Bearer {minted.stdout.strip()}"},
        )
        assert answer.status_code == 200, answer.text
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30 * UNIT_S)
