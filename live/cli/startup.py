"""What ``live serve`` and ``live demo`` settle before any engine starts: the data folder is
theirs (embedded mode), the port is free, and the hint they print works as printed."""

import contextlib
import errno
import shlex
import socket
import sys
from pathlib import Path
from typing import IO

from live.platform import data_lock
from live.platform.settings import Settings


def port_free(host: str, port: int) -> bool:
    """Whether a server could listen on ``host:port`` now (as uvicorn binds: SO_REUSEADDR)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return False
            raise
    return True


def claim(settings: Settings, host: str, port: int) -> tuple[IO[str] | None, str | None]:
    """What start-up needs before any engine starts: the data folder (embedded mode) and the
    port. Returns the held lock (None in shared mode) or the one-line refusal."""
    lock = None
    if settings.redis_url is None:
        try:
            lock = data_lock.hold(settings.data_dir)
        except data_lock.DataFolderBusy as exc:
            return None, str(exc)
    try:
        free = port_free(host, port)
    except OSError as exc:
        free, refusal = False, f"cannot listen on {host}:{port}: {exc.strerror}"
    else:
        refusal = (
            f"port {port} on {host} is already in use: stop what listens there, "
            "or choose another port with --port"
        )
    if not free:
        if lock is not None:
            data_lock.release(lock)
        return None, refusal
    return lock, None


def token_hint(settings: Settings) -> str:
    """The ``live token`` command as it works from here: this very executable (relative to
    the current folder when inside it) and the data folder its secrets are in."""
    program = Path(sys.argv[0]).resolve() if sys.argv and sys.argv[0] else Path("live")
    with contextlib.suppress(ValueError):
        program = program.relative_to(Path.cwd())
    command = shlex.quote(str(program) if "/" in str(program) else f"./{program}")
    if settings.data_dir != Path(".live").resolve():
        command = f"LIVE_DATA_DIR={shlex.quote(str(settings.data_dir))} {command}"
    return f"{command} token --role host --brand demo --sub alice"
